"""The forms of the deliberation pages (core.forms): lengths are the rows' and the API's; what is longer is
refused, never cut."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from core.forms import ActionForm, Date, Flag, Key, NextForm, Text, Whole, Wholes

WHEN_MAX = 32


class ProposeForm(ActionForm):
    title = Text(max_length=80, required=True, line=True, label=_("Title"))
    body = Text(max_length=5000, required=True, label=_("What and why"))
    cost = Text(max_length=16, line=True, label=_("Estimated cost (yuan)"))
    node = Whole(label=_("To"))
    resident = Whole(label=_("For the resident"))
    key = Key()


class ForForm(NextForm):
    resident = Whole(label=_("For the resident"))


class ReasonForm(NextForm):
    reason = Text(max_length=300, required=True, line=True, label=_("Reason"))


class MergeForm(ActionForm):
    into = Whole(label=_("Merge into matter no."))
    reason = Text(max_length=300, line=True, label=_("Reason"))


class CommentForm(ActionForm):
    text = Text(max_length=1000, required=True, label=_("Comment"))


class HideForm(ActionForm):
    reason = Text(max_length=200, required=True, line=True, label=_("Reason"))


class VoteForm(ActionForm):
    question = Text(max_length=200, required=True, line=True, label=_("Question"))
    node = Whole(label=_("Who votes: the area"))
    per = Text(max_length=10, required=True, label=_("Who votes"))
    quorum = Text(max_length=10, required=True, label=_("Quorum"))
    threshold = Text(max_length=10, required=True, label=_("To pass"))
    secret = Flag(label=_("Secret ballot"))
    closes_at = Text(max_length=WHEN_MAX, required=True, label=_("Online voting closes at"))
    options = Text(max_length=700, label=_("Options, one per line (empty: agree / disagree / abstain)"))
    matter = Whole(label=_("Matter"))
    rules = Whole(label=_("Village rules version"))


class BallotForm(ActionForm):
    option = Whole(label=_("Your choice"))


class SheetForm(ActionForm):
    """A paper tally sheet: one count per option of the vote (`option-<id>`), the spoilt ballots, and the roll
    entries checked off (`voter`)."""

    invalid = Whole(label=_("Invalid ballots"))
    note = Text(max_length=200, line=True, label=_("Note"))
    voter = Wholes(max_count=20000, label=_("Checked off"))
    key = Key()

    def __init__(self, *args: Any, options: list[Any], **kw: Any) -> None:
        super().__init__(*args, **kw)
        for o in options:
            self.fields[f"option-{o.pk}"] = Whole(label=o.label)

    def counts(self, options: list[Any]) -> dict[int, int | None]:
        return {o.pk: self.cleaned_data.get(f"option-{o.pk}") for o in options}


class TaskForm(ActionForm):
    title = Text(max_length=120, required=True, line=True, label=_("Task"))
    responsible = Text(max_length=60, required=True, line=True, label=_("Responsible"))
    due = Date(label=_("Due"))


class LineForm(ActionForm):
    item = Text(max_length=120, required=True, line=True, label=_("Item"))
    amount = Text(max_length=16, required=True, line=True, label=_("Amount (yuan)"))


class SpendingForm(ActionForm):
    line = Whole(label=_("Budget line"))
    amount = Text(max_length=16, required=True, line=True, label=_("Amount (yuan)"))
    spent_on = Date(required=True, label=_("Spent on"))
    payee = Text(max_length=120, required=True, line=True, label=_("Paid to"))
    note = Text(max_length=200, line=True, label=_("Note"))


class UpdateForm(ActionForm):
    text = Text(max_length=1000, required=True, label=_("Progress"))


class RatingForm(ActionForm):
    stars = Whole(label=_("Rating"))
    comment = Text(max_length=300, line=True, label=_("Comment"))


class MeetingForm(ActionForm):
    village = Whole(label=_("Village"))
    matter = Whole(label=_("Matter"))
    held_at = Text(max_length=WHEN_MAX, required=True, label=_("Held at"))
    place = Text(max_length=120, required=True, line=True, label=_("Place"))
    minutes = Text(max_length=10000, required=True, label=_("Minutes"))
    household = Wholes(max_count=5000, label=_("Households that came"))


class DisclosureForm(ActionForm):
    village = Whole(label=_("Village"))
    kind = Text(max_length=8, required=True, label=_("Kind"))
    period = Text(max_length=7, required=True, line=True, label=_("Period"))
    title = Text(max_length=80, required=True, line=True, label=_("Title"))
    body = Text(max_length=10000, required=True, label=_("Text"))
    corrects = Whole(label=_("Corrects posting no."))


class AskForm(ActionForm):
    text = Text(max_length=500, required=True, label=_("Question"))


class AnswerForm(ActionForm):
    answer = Text(max_length=2000, required=True, label=_("Answer"))


class RulesForm(ActionForm):
    text = Text(max_length=20000, required=True, label=_("Text"))
    summary = Text(max_length=300, required=True, line=True, label=_("What changes"))


class RecordForm(ActionForm):
    text = Text(max_length=20000, required=True, label=_("Text"))
    adopted_on = Date(required=True, label=_("Adopted on"))
