"""The forms of the work-order pages: intake, every step on an order's page, and the console's bulk
dispatch. Each posted action is read here (core.forms); a form that does not validate is the order page
drawn again with its messages and the input kept, and nothing changes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.utils.translation import gettext_lazy as _

from core.forms import ActionForm, Choice, Flag, Integer, Key, Text
from core.validation import BAD_CHOICE
from workorders.models import TEXT_MAX, Callback, Satisfaction

LONG = 2000  # replies, reasons and notes on an order
SHORT = 500  # a rating's comment, a callback's note, a withdrawal's reason, an extension's reason
UNIT = 40  # "d:<department id>" or "n:<node id>"

YES_NO = (("1", _("yes")), ("0", _("no")))
SATISFACTION = [(str(v), label) for v, label in Satisfaction.choices]


def yes_no(*, required: bool, message: Any) -> Choice:
    """A yes/no question; its message when unanswered (or answered with something else)."""
    field = Choice(choices=YES_NO, required=required)
    field.error_messages.update(required=message, invalid_choice=message)
    return field


def five_levels(*, required: bool) -> Choice:
    field = Choice(choices=SATISFACTION, required=required)
    message = _("Choose one of the five levels.")
    field.error_messages.update(required=message, invalid_choice=message)
    return field


class NoteForm(ActionForm):
    note = Text(max_length=LONG, label=_("Note"))


class ReasonForm(ActionForm):
    reason = Text(max_length=LONG, label=_("Reason"))


class ReplyForm(ActionForm):
    reply = Text(max_length=LONG, label=_("Reply"))


class DispatchForm(ActionForm):
    to = Text(max_length=UNIT)
    note = Text(max_length=LONG, label=_("Note"))
    category = Text(max_length=20, label=_("Category"))

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        # Up to five assisting units (协办), each "d:…" or "n:…"; more are not offered.
        self.assist = [x for x in (self.data.getlist("assist") if hasattr(self.data, "getlist") else [])][:5]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        for value in self.assist:
            if "\x00" in value or len(value) > UNIT:
                self.add_error(None, BAD_CHOICE)
                break
        cleaned["assist"] = [v for v in self.assist if v]
        return cleaned


class MoveForm(ActionForm):
    """Reassign (dispatcher) or transfer (handler) to another unit."""

    to = Text(max_length=UNIT)
    note = Text(max_length=LONG, label=_("Note"))


class ReturnForm(ActionForm):
    reason = Text(max_length=LONG, label=_("Reason"))
    suggest = Text(max_length=UNIT)


class RateForm(ActionForm):
    solved = yes_no(required=True, message=_("Please say whether the problem was solved."))
    satisfaction = five_levels(required=True)
    comment = Text(max_length=SHORT, label=_("Comment"))


class CallbackForm(ActionForm):
    kind = Choice(choices=Callback.Kind.choices)
    reached = yes_no(required=True, message=_("Please say whether you reached the resident."))
    solved = yes_no(required=False, message=_("Please say whether the problem was solved."))
    satisfaction = five_levels(required=False)
    note = Text(max_length=SHORT, label=_("Note"))

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.fields["kind"].error_messages.update(invalid_choice=_("Choose a callback or a spot check."))


class DuplicateForm(ActionForm):
    primary = Text(max_length=16, label=_("Primary order"))


class CancelForm(ActionForm):
    reason = Text(max_length=SHORT, label=_("Reason"))


class ExtensionRequestForm(ActionForm):
    days = Integer(required=True, min_value=1, max_value=30)
    reason = Text(max_length=SHORT, label=_("Reason"))

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        message = _("Between 1 and 30 working days.")
        self.fields["days"].error_messages.update(
            required=message, invalid=message, min_value=message, max_value=message
        )


class ExtensionDecideForm(ActionForm):
    extension = Integer(required=True, min_value=1)
    approve = yes_no(required=True, message=_("Approve or refuse."))
    note = Text(max_length=SHORT, label=_("Note"))

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        message = _("No such extension request.")
        self.fields["extension"].error_messages.update(required=message, invalid=message, min_value=message)


class SuperviseForm(ActionForm):
    level = Text(max_length=20)
    note = Text(max_length=LONG, label=_("Note"))


class TimelineNoteForm(ActionForm):
    note = Text(max_length=LONG, label=_("Note"))
    public = Flag()

    def clean_public(self) -> bool:
        return self.data.get("public") == "1"


class EmptyForm(ActionForm):
    """A step that takes nothing but the click (sign for, a photo's checks): still no NUL anywhere."""


class SubmitForm(ActionForm):
    """An appeal or service order from the intake page. The item's own fields (`f_<name>`) are added
    per item, each at most 1,000 characters."""

    text = Text(max_length=TEXT_MAX, label=_("Description"))
    address = Text(max_length=200, label=_("Address"))
    sub = Text(max_length=20)
    lat = Text(max_length=20)
    lng = Text(max_length=20)
    channel = Text(max_length=20)
    owner = Text(max_length=20)
    grid = Text(max_length=20)
    anonymous = Flag()
    # "Do not send this location": a location the page carries (one refused as outside the area served,
    # or one the phone gave) is dropped, and the appeal is placed by the grid or the home instead.
    clear_location = Flag()
    key = Key()
    item = Text(max_length=20)
    kind = Text(max_length=20)
    cat = Text(max_length=20)
    rq = Text(max_length=30)
    # The length (seconds) of the voice message recorded in the page, as the page measured it; the text may
    # then be empty (the view says there is a voice message to listen to).
    voice_duration = Text(max_length=12)

    def __init__(self, *args: Any, item_fields: Sequence[dict[str, Any]] = (), **kw: Any) -> None:
        super().__init__(*args, **kw)
        for f in item_fields:
            self.fields[f"f_{f['name']}"] = Text(max_length=1000, label=f.get("label", f["name"]))

    def clean_anonymous(self) -> bool:
        return self.data.get("anonymous") == "1"

    def clean_clear_location(self) -> bool:
        return self.data.get("clear_location") == "1"


class BulkDispatchForm(ActionForm):
    to = Text(max_length=UNIT)
    mode = Text(max_length=20)
    next = Text(max_length=300)

    def ids(self) -> list[str]:
        return self.data.getlist("ids") if hasattr(self.data, "getlist") else []


class ReclassifyForm(ActionForm):
    category = Text(max_length=20, required=True, label=_("Category"))
    note = Text(max_length=LONG, label=_("Note"))


STEP_FORMS: dict[str, type[ActionForm]] = {
    "reclassify": ReclassifyForm,
    "dispatch": DispatchForm,
    "reassign": MoveForm,
    "transfer": MoveForm,
    "accept": EmptyForm,
    "return": ReturnForm,
    "start": NoteForm,
    "suspend": ReasonForm,
    "resume": NoteForm,
    "resolve": ReplyForm,
    "answer": ReplyForm,
    "rate": RateForm,
    "callback": CallbackForm,
    "reopen": ReasonForm,
    "rule_unreasonable": ReasonForm,
    "close": NoteForm,
    "mark_duplicate": DuplicateForm,
    "cancel": CancelForm,
    "extension_request": ExtensionRequestForm,
    "extension_decide": ExtensionDecideForm,
    "supervise": SuperviseForm,
    "note": TimelineNoteForm,
    "photo": EmptyForm,
}
