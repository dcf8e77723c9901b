"""The forms of the county-model pages: every posted action is read here (core.forms)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from core.forms import ActionForm, Choice, Text


class RevealForm(ActionForm):
    """The resident page's "show full numbers": the numbers are revealed only when `reveal` is "1"."""

    reveal = Text(max_length=1)


class ElderModeForm(ActionForm):
    """A grid worker turns 长辈版 (accounts.mode) on or off for a resident they serve."""

    mode = Choice(choices=[("elder", _("Elderly mode")), ("standard", _("Standard mode"))], required=True,
                  label=_("Mode"))  # fmt: skip
