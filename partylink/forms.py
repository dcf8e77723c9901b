"""The forms of the household-work pages: every posted action is read here (core.forms).

Lengths are those of the rows and services behind them (Visit.met 100, notes 1000, Need.text 500, outcome
300, a link change's reason 200): what is longer is refused, never cut."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from core.forms import ActionForm, Choice, Flag, Key, NextForm, Picks, Text, Whole
from partylink.models import Need, VisitPlan

NEED_ROWS = 3  # need rows on the visit page (the API takes up to services.MAX_NEEDS)
THEN_CHOICES = (
    ("open", _("follow up later")),
    ("settle", _("settled on the spot")),
    ("order", _("open a work order")),
)
WHEN_MAX = 32  # a datetime-local value, or the longest ISO form we read


class VisitForm(ActionForm):
    visited_at = Text(max_length=WHEN_MAX, label=_("When"))
    met = Text(max_length=100, line=True, label=_("Who you met"))
    notes = Text(max_length=1000, label=_("What you found"))
    lat = Text(max_length=20)
    lng = Text(max_length=20)
    key = Key()

    def __init__(self, *args: Any, categories: Any = (), **kw: Any) -> None:
        super().__init__(*args, **kw)
        cats = [("", _("other (the dispatcher decides)"))] + [(str(c.pk), c.name) for c in categories]
        for i in range(NEED_ROWS):
            self.fields[f"need_{i}_text"] = Text(max_length=500, label=_("Need %(n)s") % {"n": i + 1})
            self.fields[f"need_{i}_kind"] = Choice(choices=Need.Kind.choices, label=_("Kind"))
            self.fields[f"need_{i}_then"] = Choice(choices=THEN_CHOICES, label=_("Then"))
            self.fields[f"need_{i}_outcome"] = Text(max_length=300, label=_("How it was settled"))
            self.fields[f"need_{i}_category"] = Choice(choices=cats, label=_("Category"))

    def need_rows(self) -> list[dict[str, Any]]:
        """The rows as the page draws them: each row's bound fields."""
        return [
            {name: self[f"need_{i}_{name}"] for name in ("text", "kind", "then", "outcome", "category")} | {"n": i + 1}
            for i in range(NEED_ROWS)
        ]


class SettleForm(NextForm):
    outcome = Text(max_length=300, required=True, label=_("How it was settled"))


class RelayForm(NextForm):
    category = Whole(label=_("Category"))


class AskForm(ActionForm):
    text = Text(max_length=500, required=True, label=_("What do you need help with?"))


class LinkForm(NextForm):
    household = Whole(label=_("Household"))
    member = Whole(label=_("Party member"))
    reason = Text(max_length=200, line=True, label=_("Reason"))


class UnlinkForm(NextForm):
    household = Whole(label=_("Household"))
    reason = Text(max_length=200, line=True, required=True, label=_("Reason"))


class GridForm(ActionForm):
    """Which grid a bulk assignment is for (read first: the members offered depend on it)."""

    grid = Whole(label=_("Grid"))


class AssignForm(NextForm):
    grid = Whole(label=_("Grid"))
    reason = Text(max_length=200, line=True, label=_("Reason"))

    def __init__(self, *args: Any, members: Any = (), **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.fields["members"] = Picks(
            choices=[(str(m.pk), m.resident.name) for m in members], label=_("Party members")
        )


class PlanForm(NextForm):
    village = Whole(label=_("Village"))
    visits = Whole(label=_("Visits per household"))
    period = Choice(choices=VisitPlan.Period.choices, required=True, label=_("Period"))


class ProjectForm(ActionForm):
    village = Whole(label=_("Village"))
    title = Text(max_length=80, required=True, line=True, label=_("Title"))
    goals = Text(max_length=2000, required=True, label=_("Goals"))
    lead = Whole(label=_("Led by"))
    budget = Text(max_length=14, label=_("Budget (yuan)"))
    milestones = Text(max_length=2000, label=_("Milestones"))


class DecideForm(NextForm):
    note = Text(max_length=200, line=True, label=_("Note"))
    approve = Flag(label=_("Approve"))


class ProgressForm(NextForm):
    text = Text(max_length=500, required=True, label=_("Progress"))
    progress = Whole(label=_("Progress (%)"))


class RateForm(NextForm):
    stars = Whole(label=_("Rating"))
    comment = Text(max_length=300, line=True, label=_("Comment"))


class ReasonForm(NextForm):
    reason = Text(max_length=200, required=True, line=True, label=_("Reason"))
