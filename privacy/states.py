"""The lifecycle of a personal-data request (core.fsm): an open request is done or refused, once, with a reply."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from core.fsm import Machine, register, table

DATA_REQUEST: Machine = register(
    Machine(
        name="datarequest",
        model="privacy.DataRequest",
        transitions=table(("complete", "open", "done"), ("refuse", "open", "refused")),
        refused=_("This request is already %(state)s."),
        recheck=True,
        decide_on_row=True,
    )
)
