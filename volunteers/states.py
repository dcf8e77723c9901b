"""The lifecycles of volunteer service, as explicit tables (core.fsm).

An activity is open (published) until it is cancelled or finished.
A participation: signed up, or on the waiting list past capacity (moved up, in order, when a place comes
free); withdrawn before check-in (and may sign up again); checked in (by the organiser, or by the volunteer
with the code shown at the place) and out; rated by the organiser: done (hours and points) or no-show.

A move the table refuses, or one lost to someone faster, is a 409 whose code says why.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from core.fsm import Machine, register, table

SIGNED_UP, WAITLISTED, WITHDRAWN = "signed_up", "waitlisted", "withdrawn"
CHECKED_IN, CHECKED_OUT, DONE, NO_SHOW = "checked_in", "checked_out", "done", "no_show"

ACTIVITY: Machine = register(
    Machine(
        name="activity",
        model="volunteers.Activity",
        transitions=table(("cancel", "published", "cancelled"), ("finish", "published", "finished")),
        refused=_("Only an open activity can be cancelled."),
        refused_code="volunteers.not_open",
        refused_by_action={"finish": (_("Only an open activity can be finished."), "volunteers.not_open")},
        recheck=True,
        decide_on_row=True,
    )
)

PARTICIPATION: Machine = register(
    Machine(
        name="participation",
        model="volunteers.Participation",
        transitions=table(
            ("signup_again", WITHDRAWN, (SIGNED_UP, WAITLISTED)),
            ("withdraw", (SIGNED_UP, WAITLISTED), WITHDRAWN),
            ("move_up", WAITLISTED, SIGNED_UP),
            ("check_in", (SIGNED_UP, WAITLISTED), CHECKED_IN),
            ("check_out", CHECKED_IN, CHECKED_OUT),
            ("rate", (SIGNED_UP, CHECKED_IN, CHECKED_OUT), (DONE, NO_SHOW)),
        ),
        refused_by_action={
            "signup_again": (_("Already signed up for this activity."), "volunteers.already_signed_up"),
            "withdraw": (_("Only a sign-up not yet checked in can be withdrawn."), "volunteers.not_withdrawable"),
            "check_in": (_("This sign-up cannot be checked in."), "volunteers.cannot_check_in"),
            "check_out": (_("Only a checked-in volunteer can check out."), "volunteers.not_checked_in"),
            "rate": (_("This participation has already been rated."), "volunteers.already_rated"),
        },
        recheck=True,
        decide_on_row=True,
    )
)
