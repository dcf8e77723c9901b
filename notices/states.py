"""The lifecycle of a notice (core.fsm): a draft is published; a published notice may be withdrawn (with a
reason). An expired notice stays published: it is simply no longer shown."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from core.fsm import Machine, register, table

NOTICE: Machine = register(
    Machine(
        name="notice",
        model="notices.Notice",
        transitions=table(("publish", "draft", "published"), ("withdraw", "published", "withdrawn")),
        refused=_("This notice cannot be changed now that it is %(state)s."),
        recheck=True,
        decide_on_row=True,
    )
)

EVENT: Machine = register(
    Machine(
        name="event",
        model="notices.Event",
        transitions=table(("cancel", "published", "cancelled")),
        refused=_("This event is already cancelled."),
        refused_code="event.cancelled",
        recheck=True,
        decide_on_row=True,
    )
)

ATTENDANCE: Machine = register(
    Machine(
        name="attendance",
        model="notices.Attendance",
        transitions=table(("withdraw", "signed_up", "withdrawn"), ("signup_again", "withdrawn", "signed_up")),
        refused_by_action={
            "withdraw": (_("You are not signed up for this event."), "event.not_signed_up"),
            "signup_again": (_("You are already signed up for this event."), "event.already_signed_up"),
        },
        recheck=True,
        decide_on_row=True,
    )
)
