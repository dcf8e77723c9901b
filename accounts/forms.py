"""The forms of the account pages: every posted action is read here (core.forms). Logging in stays with
Django's own AuthenticationForm (accounts/urls.py)."""

from __future__ import annotations

from typing import cast

from django.utils.translation import gettext_lazy as _

from accounts.models import ApiToken
from core.forms import ActionForm, Choice, Integer, Text


class TokenActionForm(ActionForm):
    """The tokens page posts two forms to one address: create a token, or revoke one."""

    action = Text(max_length=20)


class TokenCreateForm(ActionForm):
    # A CharField with a max_length set; django-stubs allows None there (unbounded on PostgreSQL).
    name = Text(max_length=cast(int, ApiToken._meta.get_field("name").max_length), required=True, label=_("Name"))


class TokenRevokeForm(ActionForm):
    """Which of the user's tokens: an id that is not one of theirs is "No such token." (the view)."""

    id = Integer(min_value=1)


class ModeForm(ActionForm):
    """长辈版 or 标准版 (accounts.mode); the page to go back to is core.pages.back's `next`."""

    mode = Choice(choices=[("elder", _("Elderly mode")), ("standard", _("Standard mode"))], required=True,
                  label=_("Mode"))  # fmt: skip
