"""The lifecycles of the points app, as explicit tables (core.fsm).

- A claim (积分申报) is decided once: pending → approved (the award is written) or rejected.
- A redemption is reserved (online, to pick up) or collected at once (at the counter); a reservation is
  handed over (collected) or cancelled; shop staff may also cancel a counter redemption when the goods
  come back. The points go back in either case.
- A good-person nomination is decided once: nominated → selected or not selected.

A move the table refuses, or one lost to someone faster, is a 409 whose code says why.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from core.fsm import Machine, register, table

CLAIM_DECIDED = (_("This claim has already been decided."), "points.claim_decided")
NOT_RESERVED = (_("Only a reservation not yet picked up can be cancelled."), "points.not_reserved")

CLAIM: Machine = register(
    Machine(
        name="claim",
        model="points.Claim",
        transitions=table(("approve", "pending", "approved"), ("reject", "pending", "rejected")),
        refused=CLAIM_DECIDED[0],
        refused_code=CLAIM_DECIDED[1],
        recheck=True,
        decide_on_row=True,
    )
)

REDEMPTION: Machine = register(
    Machine(
        name="redemption",
        model="points.Redemption",
        transitions=table(("collect", "reserved", "collected"), ("cancel", ("reserved", "collected"), "cancelled")),
        refused=NOT_RESERVED[0],
        refused_code=NOT_RESERVED[1],
        refused_by_action={"collect": (_("Only a reservation can be handed over."), "points.not_reserved")},
        refused_in_state={"cancelled": (_("This redemption is already cancelled."), "points.already_cancelled")},
        recheck=True,
        decide_on_row=True,
    )
)

NOMINATION: Machine = register(
    Machine(
        name="nomination",
        model="points.Nomination",
        transitions=table(("select", "nominated", "selected"), ("pass_over", "nominated", "not_selected")),
        refused=_("This nomination has already been decided."),
        refused_code="points.nomination_decided",
        recheck=True,
        decide_on_row=True,
    )
)
