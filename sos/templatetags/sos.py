"""{% care_registered user as on_care %}: whether a person is on the one-key-call care register, for the
resident's home page in 长辈版 (whose first big action is then the one-key call). The home page lives in org,
below this app: the template asks, org's code does not import sos."""

from __future__ import annotations

from typing import Any

from django import template

from sos.models import CareProfile

register = template.Library()


@register.simple_tag
def care_registered(user: Any) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return CareProfile.objects.filter(resident__user_id=user.pk, is_active=True).exists()
