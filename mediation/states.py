"""The lifecycles of a dispute case (core.fsm).

A case: reported → accepted for mediation (a mediator assigned, the time limit running) or not accepted; while
mediated: an agreement signed (its keeping followed up), referred to another unit, settled without a written
agreement, or ended unsettled (调解终止). An agreement kept through its follow-ups settles the case; a broken one
takes it back to mediation. A referred case comes back to mediation when the unit did not settle it, or is
settled by the unit's result. A case settled on the spot (当场化解) is reported settled.
A referral: sent → settled there, or not settled there. A follow-up visit: planned → due (the worker's reminder)
→ the agreement kept or broken; the visits still to come when an agreement is broken are no longer needed."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from core.fsm import Machine, register, table

OPEN_STATES = ("reported", "mediating", "agreed", "referred")
CLOSED_STATES = ("settled", "ended", "declined")

CASE: Machine = register(
    Machine(
        name="case",
        model="mediation.Case",
        transitions=table(
            ("accept", "reported", "mediating"),
            ("decline", "reported", "declined"),
            ("agree", "mediating", "agreed"),
            ("break", "agreed", "mediating"),
            ("refer", "mediating", "referred"),
            ("resume", "referred", "mediating"),
            ("settle", ("mediating", "agreed", "referred"), "settled"),
            ("end", "mediating", "ended"),
        ),
        refused=_("This case cannot be changed so now that it is %(state)s."),
        recheck=True,
        decide_on_row=True,
    )
)

REFERRAL: Machine = register(
    Machine(
        name="referral",
        model="mediation.Referral",
        transitions=table(("result", "sent", ("settled", "unsettled"))),
        refused=_("The result of this referral is already recorded."),
        refused_code="referral.decided",
        recheck=True,
        decide_on_row=True,
    )
)

FOLLOW_UP: Machine = register(
    Machine(
        name="followup",
        model="mediation.FollowUp",
        transitions=table(
            ("fire", "planned", "due"),
            ("record", ("planned", "due"), ("kept", "broken")),
            ("cancel", ("planned", "due"), "cancelled"),
        ),
        refused=_("This follow-up visit cannot be changed so now that it is %(state)s."),
        recheck=True,
        decide_on_row=True,
    )
)
