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

PROJECT: Machine = register(
    Machine(
        name="project",
        model="partylink.Project",
        transitions=table(
            ("approve", "proposed", "approved"),
            ("reject", "proposed", "rejected"),
            ("complete", "approved", "done"),
            ("cancel", ("proposed", "approved"), "cancelled"),
        ),
        refused=_("This project cannot be changed now that it is %(state)s."),
        refused_code="project.transition_not_allowed",
        recheck=True,
        decide_on_row=True,
    )
)
