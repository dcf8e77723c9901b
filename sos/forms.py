"""The forms of the one-key call pages: every posted action is read here (core.forms)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from core.forms import ActionForm, Choice, Integer, Key, Picks, Text
from sos.models import Call, CareProfile, Responder
from sos.services import MAX_CHAIN, MAX_CONTACTS, Rung


class RaiseForm(ActionForm):
    """The resident's second tap. A kind that is not one of ours falls back to an emergency (the view): a
    garbled hidden field must never stop a call for help."""

    kind = Text(max_length=20)
    key = Key()


class StepForm(ActionForm):
    """A responder's step on a call; `next` says where the page goes afterwards."""

    next = Text(max_length=20)


class ResolveForm(StepForm):
    outcome = Text(max_length=1000, required=True, label=_("What was done"))
    minutes_spent = Integer(min_value=0, max_value=24 * 60, label=_("Minutes spent"))


class NoteForm(StepForm):
    note = Text(max_length=500, label=_("Note"))


STEP_FORMS: dict[str, type[StepForm]] = {"resolve": ResolveForm, "cancel": NoteForm, "follow-up": NoteForm}


class RegisterForm(ActionForm):
    resident = Integer(required=True, min_value=1)
    reasons = Picks(choices=CareProfile.Reason.choices)
    needs = Text(max_length=500, label=_("Needs"))


class WhichForm(ActionForm):
    """The profile page posts two forms to one address: the family contacts, or the responder chain."""

    form = Text(max_length=20)


class ContactsForm(ActionForm):
    """Up to MAX_CONTACTS family contacts, one row each (name, phone, relation); empty rows are skipped."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        for i in range(MAX_CONTACTS):
            self.fields[f"cname_{i}"] = Text(max_length=40, label=_("Name"))
            self.fields[f"cphone_{i}"] = Text(max_length=20, label=_("Phone"))
            self.fields[f"crel_{i}"] = Text(max_length=20, label=_("Relation"))

    def contacts(self) -> list[dict[str, str]]:
        d = self.cleaned_data
        rows = [(d[f"cname_{i}"], d[f"cphone_{i}"], d[f"crel_{i}"]) for i in range(MAX_CONTACTS)]
        return [{"name": n, "phone": p, "relation": r} for n, p, r in rows if n or p]


class ChainForm(ActionForm):
    """Up to MAX_CHAIN rungs, in order: a login (whom services.chain_set takes: services.chain_candidates,
    which the page offers), or a name with a phone."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        for i in range(MAX_CHAIN):
            self.fields[f"user_{i}"] = Integer(min_value=1)
            self.fields[f"name_{i}"] = Text(max_length=40, label=_("Name"))
            self.fields[f"phone_{i}"] = Text(max_length=20, label=_("Phone"))
            self.fields[f"kind_{i}"] = Choice(choices=Responder.Kind.choices)

    def rungs(self) -> list[Rung]:
        d = self.cleaned_data
        out: list[Rung] = []
        for i in range(MAX_CHAIN):
            user_id = d[f"user_{i}"] or None
            name, phone = d[f"name_{i}"], d[f"phone_{i}"]
            if user_id is None and not name and not phone:
                continue
            out.append({"user_id": user_id, "name": name, "phone": phone, "kind": d[f"kind_{i}"] or "other"})
        return out


class StaffRaiseForm(ActionForm):
    kind = Choice(choices=Call.Kind.choices)
    channel = Choice(choices=Call.Channel.choices)
    note = Text(max_length=500, label=_("Note"))
    key = Key()


class WorkorderForm(ActionForm):
    text = Text(max_length=2000, required=True, label=_("Describe it for a work order"))
    category = Text(max_length=20, required=True, label=_("Category code"))
