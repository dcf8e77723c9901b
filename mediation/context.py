"""Whether the menu shows 纠纷调解 to someone who is only a registered mediator (a 乡贤 or a legal adviser without
a role): asked only when the policy's menu (org.context) has not already said yes."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject


def nav(request: HttpRequest) -> dict[str, Any]:
    def mediator() -> bool:
        from mediation.selectors import is_mediator

        return is_mediator(getattr(request, "user", None))

    return {"is_mediator": SimpleLazyObject(mediator)}
