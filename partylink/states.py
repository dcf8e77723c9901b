"""The lifecycle of a need found in a household (core.fsm): open until it is settled on the spot or
relayed as a work order; either is final (the order's own lifecycle takes over from there)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from core.fsm import Machine, register, table

OPEN, SETTLED, RELAYED = "open", "settled", "relayed"

NEED: Machine = register(
    Machine(
        name="need",
        model="partylink.Need",
        transitions=table(("settle", OPEN, SETTLED), ("relay", OPEN, RELAYED)),
        refused=_("This need has already been dealt with (%(state)s)."),
        refused_code="need.closed",
        recheck=True,
        decide_on_row=True,
    )
)
