"""The lifecycle of an assessment appeal (考核申诉), as an explicit table (core.fsm).

A handling unit asks that an order leave the rates (甄别); the leaders over the order decide once:
pending → approved (the order is left out of the rates) or refused.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from core.fsm import Machine, register, table

EXEMPTION: Machine = register(
    Machine(
        name="exemption",
        model="dashboards.Exemption",
        field="status",
        transitions=table(("approve", "pending", "approved"), ("refuse", "pending", "refused")),
        refused=_("This appeal has already been decided."),
        refused_code="dashboard.appeal_decided",
        recheck=True,
    )
)
