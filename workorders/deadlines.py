"""Deadlines of a work order and the worker step that acts on them.

Each open order carries its deadlines as columns (respond_by, due_at, warn_at, rate_by) and one
`next_check_at`: the earliest the worker still has to look at. `handle_one()` claims a batch of the most
due orders with a lease on that column (FOR UPDATE SKIP LOCKED on PostgreSQL), acts under their row
locks, and sets each one's next check — so several workers can share the load, and a worker killed
anywhere leaves the order to be picked up again once the lease runs out. Each action sets a flag (warned,
respond_overdue, overdue) before it is done again, so nothing is sent twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from catalog.models import LimitUnit
from catalog.services import Limits, effective_time_class, limits_for
from core import workcal
from core.clock import SHANGHAI, now
from core.worker import act_on_each, claim_batch
from workorders.models import WorkOrder
from workorders.states import CLOCK_STATES, State

LEASE = dt.timedelta(seconds=60)
log = logging.getLogger("gongzhi.workorders")


def setting(name: str) -> int:
    return settings.GONGZHI["WORKORDERS"][name]


def resolve_deadline(start: dt.datetime, limits: Limits) -> dt.datetime:
    if limits.resolve_unit == LimitUnit.WORKING_HOURS:
        return workcal.add_working_hours(start, float(limits.resolve_amount))
    if limits.resolve_unit == LimitUnit.HOURS:
        return start + dt.timedelta(hours=limits.resolve_amount)
    return workcal.add_working_days(start, limits.resolve_amount)


def respond_deadline(start: dt.datetime, hours: Decimal) -> dt.datetime:
    return workcal.add_working_hours(start, float(hours))


def warn_time(start: dt.datetime, due: dt.datetime, percent: int, *, working: bool = True) -> dt.datetime:
    """When `percent` of the time from start to due is used up.

    Counted in working time for limits in working days or hours: counted on the clock, seven days
    before a deadline across National Day is 'three quarters used' while only three of seven working
    days have passed, and the warning came days early (at night). Round-the-clock limits (utilities'
    24 hours) count on the clock.
    """
    if working:
        total = workcal.working_hours_between(start, due)
        if total > 0:
            return workcal.add_working_hours(start, total * percent / 100)
    return start + (due - start) * (percent / 100)


def rectify_deadline(start: dt.datetime, limits: Limits) -> dt.datetime:
    """The end of a reopened order's rectification period (重办) begun at `start`.

    RECTIFY_WORKING_DAYS working days, or the catalogue's own completion limit for the order when that is
    shorter (a reopened emergency is still an emergency: 2 working hours, not a week). The period is
    counted in working time on the official calendar (core.workcal), a round-the-clock limit (utilities'
    24 hours) as so many working hours: `runs_around_the_clock` is False from the second round on.
    """
    period = workcal.add_working_days(start, setting("RECTIFY_WORKING_DAYS"))
    if limits.resolve_unit == LimitUnit.WORKING_DAYS:
        own = workcal.add_working_days(start, limits.resolve_amount)
    else:
        own = workcal.add_working_hours(start, float(limits.resolve_amount))
    return min(period, own)


def reopen_clock(order: WorkOrder, t: dt.datetime) -> dict[str, object]:
    """The deadline columns of an order reopened at `t`: on the clock from the reopening — the
    rectification period as it would run if the order were dispatched now — with no unit to sign for it,
    and nothing yet warned or late in this round (the first round's lateness is in its events and
    ratings). While it waits, the worker warns and escalates it to the dispatchers (_act); dispatched
    again, the unit gets its own rectification period from the dispatch (workorder_dispatch)."""
    limits = order_limits(order)
    due = rectify_deadline(t, limits)
    return {
        "respond_by": None,
        "due_at": due,
        "warn_at": warn_time(t, due, limits.warn_percent, working=True),
        "warned": False,
        "respond_overdue": False,
        "overdue": False,
    }


def order_limits(order: WorkOrder) -> Limits:
    """The time-limit rule that applies to an order, by its category's time class, urgency and item."""
    return limits_for(time_class=effective_time_class(order.category), urgency=order.urgency, item=order.item)


def runs_around_the_clock(order: WorkOrder) -> bool:
    """Whether the order's completion limit is in clock hours (utilities) rather than working time.

    A reopened order's rectification period (round > 1) is always in working time (rectify_deadline).
    """
    if order.round > 1:
        return False
    return order_limits(order).resolve_unit == LimitUnit.HOURS


def after_pause(
    value: dt.datetime | None, since: dt.datetime, until: dt.datetime, *, working: bool
) -> dt.datetime | None:
    """A deadline pushed by the time an order waited (suspended) from `since` to `until`.

    The push is the time waited, in the limit's own measure: working time for working-time limits
    (a weekend's wait pushes nothing), clock time for round-the-clock ones. Deadlines already past when
    the wait began stay where they are. (Re-counting the time *left* from the resume instead moved a
    24:00 deadline to 17:30 after a pause of no working time, and a utility's deadline earlier after a
    night's wait.)
    """
    if value is None or value <= since:
        return value
    if not working:
        return value + (until - since)
    waited = workcal.working_hours_between(since, until)
    return workcal.add_working_hours(value, waited) if waited > 0 else value


def extend_by_working_days(due: dt.datetime, days: int) -> dt.datetime:
    """`days` more working days after a deadline.

    add_working_days counts from the day after the one it is given, and a deadline at 24:00 is stored
    as 00:00 of the next day: counted from there, an extension of 3 working days gave 4. Count such a
    deadline from the day it ends.
    """
    local = due.astimezone(SHANGHAI)
    if local.time() == dt.time(0, 0):
        local -= dt.timedelta(days=1)
    return workcal.add_working_days(local, days)


def next_check(order: WorkOrder) -> dt.datetime | None:
    """The earliest deadline the worker still has to act on, for the order as it now stands."""
    times: list[dt.datetime] = []
    if order.state in CLOCK_STATES:
        if order.warn_at and not order.warned and not order.overdue:
            times.append(order.warn_at)
        if order.state == State.DISPATCHED and order.respond_by and not order.respond_overdue:
            times.append(order.respond_by)
        if order.due_at and not order.overdue:
            times.append(order.due_at)
    elif order.state in (State.RESOLVED, State.RATED) and order.rate_by and not order.callback_required:
        times.append(order.rate_by)
    return min(times) if times else None


def handle_one(claim: Callable[..., list[int]] = claim_batch) -> int:
    """Claim a batch of due orders (core.worker.claim_batch) and act on them; returns how many (0: none due).

    The batch is acted on in one transaction, its rows locked in id order and read in one query, the people
    to tell looked up once per unit and place (deadlines falling due at midnight come in thousands: one
    transaction and five lookups per order flagged ~85 a second on two cores). Should any order of the batch
    fail, the batch is rolled back and its orders acted on one by one, each in its own transaction: the one
    that fails is logged and the others still done (core.worker.act_on_each)."""
    ids = claim(WorkOrder, LEASE)
    if not ids:
        return 0
    if len(ids) > 1:
        try:
            _act_batch(ids)
            return len(ids)
        except Exception:
            log.warning("run_deadlines: a batch of %s failed; acting on its orders one by one", len(ids), exc_info=True)
    return act_on_each(ids, lambda pk: _act(pk), "run_deadlines")


def _locked(ids: list[int]) -> Any:
    """The orders, locked in id order (bulk dispatch locks its orders in id order too: no deadlock between them;
    skipping a held row instead would leave it to the lease, a minute late)."""
    qs = WorkOrder.objects.select_related("grid", "department", "unit_node").filter(pk__in=ids).order_by("pk")
    return qs.select_for_update(of=("self",))


@transaction.atomic
def _act_batch(ids: list[int]) -> None:
    from workorders.services.common import recipients_memo

    with recipients_memo():
        orders = {o.pk: o for o in _locked(ids)}
        for pk in ids:  # as claimed: the most overdue first
            if pk in orders:
                _act_on(orders[pk])


@transaction.atomic
def _act(pk: int) -> None:
    for order in _locked([pk]):
        _act_on(order)


def _act_on(order: WorkOrder) -> None:
    from workorders import services  # services import this module

    pk = order.pk
    t = now()
    changed: dict[str, object] = {}
    # A reopened order waits on the dispatchers: they are told; the unit that had it before is not.
    waiting = order.state == State.REOPENED
    if order.state in CLOCK_STATES:
        if order.state == State.DISPATCHED and order.respond_by and not order.respond_overdue and order.respond_by <= t:
            order.respond_overdue = True
            changed["respond_overdue"] = True
            services.system_event(order, "respond_overdue", _("Not signed for within the time limit; urged (催办)."))
            services.notify_handlers(
                order, "workorder.urge", _("Please sign for order %(code)s: the time limit has passed.")
            )
        if order.due_at and not order.overdue and order.due_at <= t:
            order.overdue = True
            changed["overdue"] = True
            services.system_event(order, "overdue", _("Overdue: placed under supervision (督办)."))
            if not waiting:
                services.notify_handlers(
                    order, "workorder.overdue", _("Order %(code)s is overdue and under supervision (督办).")
                )
            services.notify_dispatchers(order, "workorder.overdue", _("Order %(code)s is overdue."))
        elif order.warn_at and not order.warned and not order.overdue and order.warn_at <= t:
            order.warned = True
            changed["warned"] = True
            services.system_event(order, "warn", _("The time limit is near."))
            tell = services.notify_dispatchers if waiting else services.notify_handlers
            tell(order, "workorder.warn", _("Order %(code)s is due soon: %(due)s."), due=order.due_at)
    elif (
        order.state in (State.RESOLVED, State.RATED)
        and order.rate_by
        and order.rate_by <= t
        and not order.callback_required
    ):
        services.close_on_time(order)
        return
    order.next_check_at = next_check(order)
    changed["next_check_at"] = order.next_check_at
    WorkOrder.objects.filter(pk=pk).update(**changed)
