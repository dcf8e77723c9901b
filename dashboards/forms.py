"""The forms of the command-centre pages: every posted action is read here (core.forms). The lengths are
the models' (ResultLog.reason, SpecialItem.reason, Exemption.reason and decision_note), which the
templates' maxlength and the API's schemas repeat."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from core.forms import ActionForm, Flag, Text
from core.pages import to_int

DECISIONS = ("approve", "refuse")


class PublishForm(ActionForm):
    """Publishing posts its CSRF token, and the box that says special items adding up to 0 are meant; a
    NUL byte in anything posted is refused all the same."""

    confirm_zero = Flag()


class ComputeForm(ActionForm):
    """Compute a month; a published one only with a reason (the service insists, and logs it)."""

    reason = Text(max_length=300, label=gettext_lazy("Reason"))


class SpecialForm(ActionForm):
    """专项: a bonus or a penalty for one unit, with its reason. Whether the unit belongs to the month's
    group and to the assessor's area is the view's to say (a unit out of reach is the 404 page)."""

    unit = Text(max_length=20, label=pgettext_lazy("dashboard", "Unit"))
    points = Text(max_length=20)  # its own message names it: "Points: a number from -100 to 100 …"
    # Blank is the service's to refuse ("Please give the reason."), as over the API.
    reason = Text(max_length=300, label=gettext_lazy("Reason"))

    def clean_unit(self) -> tuple[str, int]:
        """("n", a node's id) or ("d", a department's id), as the unit picker's values are written."""
        kind, _sep, ident = self.cleaned_data["unit"].partition(":")
        pk = to_int(ident)
        if kind not in ("n", "d") or not pk or pk < 1:
            raise forms.ValidationError(_("Choose the unit."), code="invalid")
        return kind, pk

    def clean_points(self) -> Decimal:
        """A number; full-width signs (＋ －) from a Chinese keyboard count. The range is the service's."""
        raw = self.cleaned_data["points"].replace("＋", "+").replace("－", "-")
        try:
            points = Decimal(raw)
        except InvalidOperation:
            points = None
        if points is None or not points.is_finite():
            raise forms.ValidationError(_("Points: a number from -100 to 100, e.g. 2 or -1.5."), code="invalid")
        return points


class ExemptionForm(ActionForm):
    """An appeal (甄别申诉): the order by its number or tracking code, and why. A short or blank reason is
    the service's to refuse, and an order nobody can find the view's."""

    order = Text(max_length=20, label=gettext_lazy("Order number or tracking code"))
    reason = Text(max_length=1000, label=gettext_lazy("Reason"))


class DecideForm(ActionForm):
    """A leader's decision on an appeal: which button was pressed, and a note."""

    decision = Text(max_length=10)
    note = Text(max_length=500, label=gettext_lazy("Note"))

    def clean_decision(self) -> str:
        decision = self.cleaned_data["decision"]
        if decision not in DECISIONS:
            raise forms.ValidationError(_("Choose approve or refuse."), code="invalid_choice")
        return decision
