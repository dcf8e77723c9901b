"""The forms of the personal-data pages (core.forms): a request's text and an answer's reply are at most
1000 characters; what is longer is refused, never cut."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from core.forms import ActionForm, Choice, Date, Text
from privacy.models import TEXT_MAX, DataRequest


class RequestForm(ActionForm):
    kind = Choice(choices=DataRequest.Kind.choices, required=True, label=_("What you ask for"))
    text = Text(max_length=TEXT_MAX, required=True, label=_("Your request"))


class HandleForm(ActionForm):
    outcome = Choice(
        choices=[(DataRequest.State.DONE, _("Done")), (DataRequest.State.REFUSED, _("Refused"))],
        required=True,
        label=_("Outcome"),
    )
    reply = Text(max_length=TEXT_MAX, required=True, label=_("Reply to the resident"))


class PeriodForm(ActionForm):
    """The days of an access-log export, both included."""

    start = Date(required=True, label=_("From"))
    end = Date(required=True, label=_("To"))

    def clean(self) -> dict:
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and start > end:
            self.add_error("end", _("The end date is before the start date."))
        return cleaned
