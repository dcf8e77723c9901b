"""The forms of the mediation pages (core.forms): lengths are the rows' and the API's; what is longer is refused,
never cut. A report carries up to three parties on the page (the API takes up to twenty)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from core.forms import ActionForm, Choice, Date, Flag, Key, Text, Whole
from mediation.models import Kind, Level, Mediator, Party, Referral, Risk, Source

PAGE_PARTIES = 3
BLANK: list[tuple[str, Any]] = [("", "—")]


class ReportForm(ActionForm):
    node = Whole(label=_("Where"))
    kind = Choice(choices=Kind.choices, required=True, label=_("Type of dispute"))
    title = Text(max_length=80, required=True, line=True, label=_("Title"))
    account = Text(max_length=2000, required=True, label=_("What happened"))
    source = Choice(choices=BLANK + list(Source.choices), label=_("How it came to light"))
    risk = Choice(choices=Risk.choices, label=_("Risk"))
    red_reason = Text(max_length=300, line=True, label=_("Red flag: why violence or a crime is feared"))
    on_the_spot = Text(max_length=300, line=True, label=_("Settled on the spot: what was done"))
    key = Key()

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        for n in range(1, PAGE_PARTIES + 1):
            self.fields[f"p{n}_side"] = Choice(choices=Party.Side.choices, label=_("Side"))
            self.fields[f"p{n}_resident"] = Whole(label=_("Resident on the register"))
            self.fields[f"p{n}_name"] = Text(max_length=40, line=True, label=_("Name"))
            self.fields[f"p{n}_phone"] = Text(max_length=20, line=True, label=_("Phone"))

    def parties(self) -> list[dict[str, Any]]:
        """The parties filled in, in order: a resident picked, or a name typed (with a phone)."""
        d = self.cleaned_data
        out = []
        for n in range(1, PAGE_PARTIES + 1):
            rid, name = d.get(f"p{n}_resident"), d.get(f"p{n}_name") or ""
            if rid or name:
                out.append(
                    {
                        "side": d.get(f"p{n}_side") or Party.Side.APPLICANT,
                        "resident_id": rid,
                        "name": name,
                        "phone": d.get(f"p{n}_phone") or "",
                    }
                )
        return out


class AcceptForm(ActionForm):
    mediator = Whole(label=_("Mediator"))


class ReasonForm(ActionForm):
    reason = Text(max_length=300, required=True, line=True, label=_("Reason"))


class SessionForm(ActionForm):
    held_on = Date(label=_("Date"))
    place = Text(max_length=100, required=True, line=True, label=_("Place"))
    attendees = Text(max_length=300, required=True, line=True, label=_("Who attended"))
    notes = Text(max_length=3000, required=True, label=_("Notes"))


class ExtendForm(ActionForm):
    days = Whole(label=_("Days"))
    reason = Text(max_length=300, required=True, line=True, label=_("Reason"))


class AgreementForm(ActionForm):
    facts = Text(max_length=3000, required=True, label=_("Facts and the dispute"))
    terms = Text(max_length=3000, required=True, label=_("Terms agreed"))
    signed_on = Date(label=_("Signed on"))


class FollowUpForm(ActionForm):
    follow_up = Whole(label=_("Follow-up visit"))
    kept = Choice(choices=[("yes", _("kept")), ("no", _("broken"))], required=True, label=_("The agreement is"))
    notes = Text(max_length=1000, label=_("Notes"))


class SettleForm(ActionForm):
    note = Text(max_length=300, required=True, line=True, label=_("How it was settled"))
    level = Choice(choices=BLANK + list(Level.choices), label=_("Settled at"))


class ReferForm(ActionForm):
    unit = Choice(choices=Referral.Unit.choices, required=True, label=_("Refer to"))
    done = Text(max_length=1000, required=True, label=_("What was done so far"))


class ResultForm(ActionForm):
    settled = Flag(label=_("Settled there"))
    result = Text(max_length=1000, required=True, label=_("Result"))


class MediatorForm(ActionForm):
    username = Text(max_length=150, required=True, line=True, label=_("Login"))
    node = Whole(label=_("Village or town"))
    kind = Choice(choices=Mediator.Kind.choices, required=True, label=_("Kind"))
    name = Text(max_length=40, required=True, line=True, label=_("Name"))


class MediatorActiveForm(ActionForm):
    active = Flag(label=_("Active"))


class FromOrderForm(ActionForm):
    kind = Choice(choices=Kind.choices, required=True, label=_("Type of dispute"))
