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
