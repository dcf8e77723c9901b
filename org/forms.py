"""The forms of the county-model pages: every posted action is read here (core.forms)."""

from __future__ import annotations

from core.forms import ActionForm, Text


class RevealForm(ActionForm):
    """The resident page's "show full numbers": the numbers are revealed only when `reveal` is "1"."""

    reveal = Text(max_length=1)
