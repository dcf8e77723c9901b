"""The forms of the notice pages (core.forms): lengths are the rows' (title 80, text 5000, a withdrawal's
reason 200); what is longer is refused, never cut."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from core.forms import ActionForm, Flag, NextForm, Text, Whole

WHEN_MAX = 32


class NoticeForm(ActionForm):
    node = Whole(label=_("For the area of"))
    title = Text(max_length=80, required=True, line=True, label=_("Title"))
    body = Text(max_length=5000, required=True, label=_("Text"))
    to_residents = Flag(label=_("Residents"))
    to_staff = Flag(label=_("Staff"))
    to_party = Flag(label=_("Party members"))
    pinned = Flag(label=_("Pinned"))
    expires_at = Text(max_length=WHEN_MAX, label=_("Expires"))
    draft = Flag(label=_("Keep as a draft"))


class WithdrawForm(NextForm):
    reason = Text(max_length=200, required=True, line=True, label=_("Reason"))


class EventForm(ActionForm):
    node = Whole(label=_("For the area of"))
    point = Whole(label=_("Service point"))
    kind = Text(max_length=10, required=True, label=_("Kind"))
    title = Text(max_length=80, required=True, line=True, label=_("Title"))
    description = Text(max_length=2000, label=_("Description"))
    place = Text(max_length=120, line=True, label=_("Place"))
    starts_at = Text(max_length=WHEN_MAX, required=True, label=_("Starts"))
    ends_at = Text(max_length=WHEN_MAX, required=True, label=_("Ends"))
    capacity = Whole(label=_("Places"))


class CancelForm(NextForm):
    reason = Text(max_length=200, required=True, line=True, label=_("Reason"))
