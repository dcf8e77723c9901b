"""The life of a one-key call (一键呼叫), as one explicit table.

raised → acknowledged (接单: one responder owns it) → on_the_way → arrived → resolved;
raised → cancelled (the caller, within a few seconds of a pocket press, or staff who checked).
While a call is raised and nobody has acknowledged it, the escalation ladder climbs on its own
(sos.escalation): each responder of the chain in turn, then the village, then the command centre.

Anything not in TRANSITIONS is refused with 409 `sos.transition_not_allowed`.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from core.fsm import Machine, register, table


class State(models.TextChoices):
    RAISED = "raised", _("waiting for a responder")
    ACKNOWLEDGED = "acknowledged", _("acknowledged")
    ON_THE_WAY = "on_the_way", _("on the way")
    ARRIVED = "arrived", _("arrived")
    RESOLVED = "resolved", _("resolved")
    CANCELLED = "cancelled", _("cancelled")


class Action(models.TextChoices):
    RAISE = "raise", _("call")
    ALERT = "alert", _("alert")
    ACKNOWLEDGE = "acknowledge", _("acknowledge")
    DEPART = "depart", _("on the way")
    ARRIVE = "arrive", _("arrive")
    RESOLVE = "resolve", _("resolve")
    CANCEL = "cancel", _("cancel")
    TO_WORKORDER = "to_workorder", _("turn into a work order")
    FOLLOW_UP = "follow_up", _("follow-up visit")
    FOLLOW_UP_DUE = "follow_up_due", _("follow-up visit due")


TRANSITIONS = table(
    (Action.ACKNOWLEDGE, State.RAISED, State.ACKNOWLEDGED),
    (Action.DEPART, State.ACKNOWLEDGED, State.ON_THE_WAY),
    (Action.ARRIVE, (State.ACKNOWLEDGED, State.ON_THE_WAY), State.ARRIVED),
    (Action.RESOLVE, (State.ACKNOWLEDGED, State.ON_THE_WAY, State.ARRIVED), State.RESOLVED),
    (Action.CANCEL, State.RAISED, State.CANCELLED),
)

MACHINE: Machine = register(
    Machine(
        name="sos",
        model="sos.Call",
        transitions=TRANSITIONS,
        refused=_("This cannot be done to a call that is %(state)s."),
        raced=_("Someone else changed this call just now. Please reload it."),
    )
)

OPEN_STATES = frozenset({State.RAISED, State.ACKNOWLEDGED, State.ON_THE_WAY, State.ARRIVED})
FINAL_STATES = frozenset({State.RESOLVED, State.CANCELLED})
