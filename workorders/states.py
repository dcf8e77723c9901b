"""The life of a work order, as one explicit table.

The main road: submitted → dispatched (派单) → accepted (签收) → in_progress → resolved (办结) → rated → closed.
Side roads:
- dispatched → returned (退单) → dispatched again; reassign (dispatcher) and transfer (handler) move it
  between units; accepted/in_progress ↔ suspended while waiting for the resident;
- submitted → resolved when the dispatcher answers at once (直接答复, a consultation);
- a bad rating or a failed callback → reopened (重办) → dispatched again; or ruled unreasonable (甄别) → closed;
- submitted/returned/dispatched → duplicate, closed when its primary closes; submitted → cancelled.

Anything not in TRANSITIONS is refused with 409 `workorder.transition_not_allowed`.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from core.fsm import Machine, register


class State(models.TextChoices):
    SUBMITTED = "submitted", _("submitted")
    DISPATCHED = "dispatched", _("dispatched")
    ACCEPTED = "accepted", _("signed for")
    IN_PROGRESS = "in_progress", _("in progress")
    SUSPENDED = "suspended", _("suspended")
    RESOLVED = "resolved", _("resolved")
    RATED = "rated", _("rated")
    REOPENED = "reopened", _("reopened")
    RETURNED = "returned", _("returned")
    DUPLICATE = "duplicate", _("duplicate")
    CLOSED = "closed", _("closed")
    CANCELLED = "cancelled", _("cancelled")


class Action(models.TextChoices):
    DISPATCH = "dispatch", _("dispatch")
    REASSIGN = "reassign", _("reassign")
    TRANSFER = "transfer", _("transfer")
    ACCEPT = "accept", _("sign for")
    RETURN = "return", _("return")
    START = "start", _("start work")
    SUSPEND = "suspend", _("suspend")
    RESUME = "resume", _("resume")
    RESOLVE = "resolve", _("resolve")
    ANSWER = "answer", _("answer directly")
    RATE = "rate", _("rate")
    CALLBACK = "callback", _("callback")
    REOPEN = "reopen", _("reopen")
    RULE_UNREASONABLE = "rule_unreasonable", _("rule unreasonable")
    CLOSE = "close", _("close")
    MARK_DUPLICATE = "mark_duplicate", _("mark as duplicate")
    CANCEL = "cancel", _("withdraw")


S = State
A = Action

# action → {from state: to state}. Some actions have more than one outcome (a rating is good or bad);
# those list every allowed target and the service names the one it takes.
TRANSITIONS: dict[str, dict[str, frozenset[str]]] = {
    A.DISPATCH: {s: frozenset({S.DISPATCHED}) for s in (S.SUBMITTED, S.RETURNED, S.REOPENED)},
    A.REASSIGN: {s: frozenset({S.DISPATCHED}) for s in (S.DISPATCHED, S.ACCEPTED, S.IN_PROGRESS, S.SUSPENDED)},
    A.TRANSFER: {S.DISPATCHED: frozenset({S.DISPATCHED})},
    A.ACCEPT: {S.DISPATCHED: frozenset({S.ACCEPTED})},
    A.RETURN: {S.DISPATCHED: frozenset({S.RETURNED})},
    A.START: {S.ACCEPTED: frozenset({S.IN_PROGRESS})},
    A.SUSPEND: {s: frozenset({S.SUSPENDED}) for s in (S.ACCEPTED, S.IN_PROGRESS)},
    A.RESUME: {S.SUSPENDED: frozenset({S.IN_PROGRESS})},
    A.RESOLVE: {s: frozenset({S.RESOLVED}) for s in (S.ACCEPTED, S.IN_PROGRESS)},
    A.ANSWER: {S.SUBMITTED: frozenset({S.RESOLVED})},
    A.RATE: {S.RESOLVED: frozenset({S.RATED, S.REOPENED})},
    A.CALLBACK: {s: frozenset({S.CLOSED, S.REOPENED, s}) for s in (S.RESOLVED, S.RATED)},
    A.REOPEN: {s: frozenset({S.REOPENED}) for s in (S.RESOLVED, S.RATED, S.CLOSED)},
    A.RULE_UNREASONABLE: {S.REOPENED: frozenset({S.CLOSED})},
    A.CLOSE: {s: frozenset({S.CLOSED}) for s in (S.RESOLVED, S.RATED, S.DUPLICATE)},
    A.MARK_DUPLICATE: {s: frozenset({S.DUPLICATE}) for s in (S.SUBMITTED, S.RETURNED, S.DISPATCHED)},
    A.CANCEL: {S.SUBMITTED: frozenset({S.CANCELLED})},
}

OPEN_STATES = frozenset({S.SUBMITTED, S.DISPATCHED, S.ACCEPTED, S.IN_PROGRESS, S.SUSPENDED, S.RETURNED, S.REOPENED})
# The orders a new appeal may repeat (selectors.similar_open_orders; the index wo_open_recent): open, or
# resolved and not yet rated or closed.
SIMILAR_STATES = OPEN_STATES | {S.RESOLVED}
# States in which a handling unit's completion clock runs.
HANDLING_STATES = frozenset({S.DISPATCHED, S.ACCEPTED, S.IN_PROGRESS})
# States in which an order's completion clock runs: in a unit's hands, and reopened (重办) from the
# reopening on, while it waits to be dispatched again (it used to stand untimed, 未计时, until then).
CLOCK_STATES = HANDLING_STATES | {S.REOPENED}
# States waiting for the dispatcher.
DISPATCH_QUEUE = frozenset({S.SUBMITTED, S.RETURNED, S.REOPENED})
FINAL_STATES = frozenset({S.CLOSED, S.CANCELLED})
# Open orders a duplicate can be linked to.
PRIMARY_STATES = OPEN_STATES | {S.RESOLVED, S.RATED}


MACHINE: Machine = register(
    Machine(
        name="workorder",
        model="workorders.WorkOrder",
        transitions=TRANSITIONS,
        refused=_("This cannot be done to an order that is %(state)s."),
        raced=_("Someone else changed this order just now. Please reload it."),
    )
)


# A handler's request for more time (延期), decided once by the dispatcher.
EXTENSION: Machine = register(
    Machine(
        name="extension",
        model="workorders.Extension",
        field="status",
        transitions={"approve": {"pending": frozenset({"approved"})}, "refuse": {"pending": frozenset({"refused"})}},
        refused=_("This request has already been decided."),
        raced=_("This request has already been decided."),
        refused_code="workorder.extension_decided",
        raced_code="workorder.extension_decided",
    )
)


def all_states() -> frozenset[str]:
    return frozenset(State.values)
