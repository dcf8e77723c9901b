"""Deadlines on the official calendar (2026's National Day: Oct 1–7 off, Saturday Oct 10 a 调休 working
day) and the worker that acts on them, under a controlled clock."""

from __future__ import annotations

import datetime as dt
import io

import chinese_calendar
import pytest
from django.core.management import call_command

from catalog.models import Urgency
from core import workcal
from core.worker import BatchFailed
from notify.models import Message
from workorders import deadlines, services
from workorders.models import CloseReason, Event, WorkOrder
from workorders.states import State
from workorders.tests.helpers import at, fresh, housing, order_in, submit

pytestmark = pytest.mark.django_db


def dispatched(world, when, **submit_kw):
    """An order dispatched to 住建局 at `when` (the clock must already be set to it)."""
    o = submit(world, **submit_kw)
    services.workorder_dispatch(order=fresh(o), to=housing(world), by=world.c.u_zhao)
    return fresh(o)


def drain() -> int:
    n = steps = 0
    while k := deadlines.handle_one():
        n += k
        steps += 1
        assert steps < 1000, "the worker never runs dry"
    return n


# --- the calendar and the limits --------------------------------------------------------------------


def test_the_2026_national_day_arrangement_is_what_the_package_says():
    days = [dt.date(2026, 9, 30) + dt.timedelta(days=i) for i in range(14)]
    off = [d for d in days if not chinese_calendar.is_workday(d)]
    # Oct 1–7 off and the ordinary Sunday Oct 11; Saturday Oct 10 is worked (调休), Sunday Oct 4 is not.
    assert off == [dt.date(2026, 10, d) for d in (1, 2, 3, 4, 5, 6, 7, 11)]
    assert chinese_calendar.is_workday(dt.date(2026, 10, 10)) and dt.date(2026, 10, 10).weekday() == 5


def test_seven_working_days_dispatched_the_afternoon_before_national_day(world, clock):
    t = clock.set("2026-09-30T15:00")
    o = dispatched(world, t)
    # The seven working days after Sep 30 by the official calendar: Oct 8, 9, 10 (Sat), 12, 13, 14, 15.
    workdays = []
    d = dt.date(2026, 9, 30)
    while len(workdays) < 7:
        d += dt.timedelta(days=1)
        if chinese_calendar.is_workday(d):
            workdays.append(d)
    assert workdays[-1] == dt.date(2026, 10, 15) and dt.date(2026, 10, 10) in workdays
    assert o.due_at == at("2026-10-16T00:00")  # the end of Oct 15
    # Signing for: 4 working hours — 2.5 on Sep 30, 1.5 on the first morning after the holiday.
    assert o.respond_by == at("2026-10-08T10:00")
    # Warned when 75 % of the 48 working hours (36) are used: Wednesday Oct 14, 9:30 — not on the
    # Sunday night that three quarters of the calendar days would give.
    assert workcal.working_hours_between(t, o.due_at) == pytest.approx(48)
    assert o.warn_at == at("2026-10-14T09:30")
    assert o.next_check_at == o.respond_by


@pytest.mark.parametrize(
    ("start", "due", "respond_by"),
    [
        ("2026-11-06T11:00", "2026-11-06T15:30", "2026-11-06T11:30"),  # across the lunch break
        ("2026-11-06T16:30", "2026-11-09T09:30", "2026-11-06T17:00"),  # across a weekend
        ("2026-11-06T11:45", "2026-11-06T16:15", "2026-11-06T14:45"),  # signing for across lunch too
        ("2026-11-07T10:00", "2026-11-09T10:30", "2026-11-09T09:00"),  # filed on a Saturday
        ("2026-10-09T17:00", "2026-10-10T10:00", "2026-10-09T17:30"),  # into the 调休 Saturday
        ("2026-09-30T17:00", "2026-10-08T10:00", "2026-09-30T17:30"),  # across National Day
    ],
)
def test_emergency_two_working_hours(world, clock, start, due, respond_by):
    clock.set(start)
    o = dispatched(world, start, urgency=Urgency.EMERGENCY)
    assert (o.due_at, o.respond_by) == (at(due), at(respond_by))
    assert workcal.working_hours_between(at(start), o.due_at) == pytest.approx(2)
    assert workcal.working_hours_between(o.warn_at, o.due_at) == pytest.approx(0.5)


def test_an_emergency_power_cut_has_two_hours_on_the_clock(world, clock):
    # The utility + emergency rule: 2 hours, at night and at weekends too (not 2 working hours).
    clock.set("2026-11-06T11:00")
    o = dispatched(world, clock.t, category=world.outage, urgency=Urgency.EMERGENCY)
    assert o.due_at == at("2026-11-06T13:00")
    clock.set("2026-11-07T22:00")  # a Saturday night
    o = dispatched(world, clock.t, category=world.outage, urgency=Urgency.EMERGENCY)
    assert o.due_at == at("2026-11-08T00:00")


def test_an_emergency_of_another_kind_has_two_working_hours(world, clock):
    clock.set("2026-11-06T11:00")  # Friday: 11:00–12:00, then 14:30–15:30
    o = dispatched(world, clock.t, category=world.streetlight, urgency=Urgency.EMERGENCY)
    assert o.due_at == at("2026-11-06T15:30")


@pytest.mark.parametrize(
    ("start", "due", "warn"),
    [
        ("2026-11-07T22:00", "2026-11-08T22:00", "2026-11-08T16:00"),  # Saturday night to Sunday night
        ("2026-10-01T10:00", "2026-10-02T10:00", "2026-10-02T04:00"),  # on National Day itself
    ],
)
def test_utilities_have_24_hours_around_the_clock(world, clock, start, due, warn):
    clock.set(start)
    o = dispatched(world, start, category=world.outage)
    assert (o.due_at, o.warn_at) == (at(due), at(warn))
    # Signing for is still counted in working hours (1).
    assert workcal.working_hours_between(at(start), o.respond_by) == pytest.approx(1)


def test_urgent_and_complex_and_service_items(world, clock):
    from catalog.models import ServiceItem

    clock.set("2026-11-02T09:00")  # Monday
    assert dispatched(world, clock.t, urgency=Urgency.URGENT).due_at == at("2026-11-06T00:00")  # 3 days
    assert dispatched(world, clock.t, category=world.dispute).due_at == at("2026-11-24T00:00")  # 15 days
    item = ServiceItem.objects.get(code="S002")  # promised in 10 working days
    o = dispatched(world, clock.t, kind="service", category=None, item=item)
    assert o.due_at == at("2026-11-17T00:00")
    # An urgent service order keeps the urgent limit.
    o = dispatched(world, clock.t, kind="service", category=None, item=item, urgency=Urgency.URGENT)
    assert o.due_at == at("2026-11-06T00:00")


def test_warn_at_is_at_75_percent_of_the_working_time(world, clock):
    t = clock.set("2026-11-02T09:00")
    o = dispatched(world, t)
    total = workcal.working_hours_between(t, o.due_at)
    assert workcal.working_hours_between(t, o.warn_at) == pytest.approx(0.75 * total)


# --- the worker ------------------------------------------------------------------------------------


def kinds(user) -> list[str]:
    return list(Message.objects.filter(user=user).order_by("id").values_list("kind", flat=True))


def test_the_worker_urges_warns_and_supervises_each_once(world, clock):
    c = world.c
    t0 = clock.set("2026-11-02T09:00")
    o = dispatched(world, t0)
    Message.objects.all().delete()
    assert drain() == 0

    # Not signed for in 4 working hours: 催办 to the unit's people.
    clock.set(o.respond_by - dt.timedelta(seconds=1))
    assert drain() == 0
    clock.set(o.respond_by)
    assert drain() == 1
    o = fresh(o)
    assert o.respond_overdue and not o.warned and not o.overdue
    assert kinds(world.u_feng) == kinds(world.u_ma) == ["workorder.urge"]
    assert Event.objects.filter(order=o, action="respond_overdue", actor=None, public=False).count() == 1
    assert o.next_check_at == o.warn_at

    # Signed for late: it stays marked.
    clock.advance(minutes=10)
    services.workorder_accept(order=o, by=world.u_feng)
    assert fresh(o).respond_overdue

    # At 75 %: one warning, however often the worker runs afterwards.
    clock.set(o.warn_at)
    assert drain() == 1
    for minutes in (1, 60, 600, 2000):
        clock.set(o.warn_at + dt.timedelta(minutes=minutes))
        assert drain() == 0
    o = fresh(o)
    assert o.warned and not o.overdue
    assert kinds(world.u_feng) == ["workorder.urge", "workorder.warn"]
    assert o.next_check_at == o.due_at

    # Past the deadline: 督办 to the unit, and the dispatchers hear of it.
    clock.set(o.due_at)
    assert drain() == 1
    o = fresh(o)
    assert o.overdue and o.next_check_at is None
    assert kinds(world.u_feng) == kinds(world.u_ma) == ["workorder.urge", "workorder.warn", "workorder.overdue"]
    assert kinds(c.u_zhao) == ["workorder.overdue"]
    assert kinds(c.u_wang) == []  # another department
    assert kinds(c.u_zhang) == []  # the resident is not alarmed
    clock.advance(days=30)
    assert drain() == 0
    assert [e.action for e in Event.objects.filter(order=o, actor=None)] == ["respond_overdue", "warn", "overdue"]
    # Resolving late keeps the mark for assessment.
    services.workorder_resolve(order=fresh(o), by=world.u_feng, reply="已修好")
    assert fresh(o).overdue


def test_a_worker_that_wakes_late_does_everything_once(world, clock):
    """Down over the weekend: on Monday the order is past all three points at once. It is urged and
    supervised once; no warning is sent for a deadline already missed."""
    t0 = clock.set("2026-11-02T09:00")
    o = dispatched(world, t0, category=world.outage)  # 24 hours
    Message.objects.all().delete()
    clock.set("2026-11-09T09:00")
    assert drain() == 1
    o = fresh(o)
    assert (o.respond_overdue, o.overdue, o.warned) == (True, True, False)
    assert kinds(world.u_feng) == ["workorder.urge", "workorder.overdue"]
    assert drain() == 0


def test_orders_are_taken_most_overdue_first(world, clock, monkeypatch):
    clock.set("2026-11-02T09:00")
    a = dispatched(world, clock.t, category=world.outage)
    clock.set("2026-11-02T08:00")
    b = dispatched(world, clock.t, category=world.outage)
    clock.set("2026-11-05T09:00")
    seen = []
    original = deadlines._act_on

    def spy(order):
        seen.append(order.pk)
        original(order)

    monkeypatch.setattr(deadlines, "_act_on", spy)
    drain()
    assert seen == [b.pk, a.pk]


def test_the_rating_window(world, clock):
    c = world.c
    clock.set("2026-11-02T09:00")
    unrated = order_in(world, State.RESOLVED)
    rated = order_in(world, State.RATED)
    reopened = order_in(world, State.REOPENED)
    dup = submit(world, by=c.u_liu, text="同一盏路灯")
    services.workorder_mark_duplicate(order=dup, primary=unrated, by=c.u_zhao)
    # A reopened order handled again needs a callback: the window does not close it.
    services.workorder_dispatch(order=reopened, to=housing(world), by=c.u_zhao)
    services.workorder_accept(order=fresh(reopened), by=world.u_feng)
    services.workorder_resolve(order=fresh(reopened), by=world.u_feng, reply="重新修好")
    assert fresh(reopened).next_check_at is None
    # Five working days to rate: Nov 3, 4, 5, 6, 9.
    assert fresh(unrated).rate_by == at("2026-11-10T00:00") == fresh(unrated).next_check_at
    clock.set("2026-11-09T23:59")
    drain()
    assert fresh(unrated).state == State.RESOLVED
    clock.set("2026-11-10T00:00")
    assert drain() == 2
    u, r = fresh(unrated), fresh(rated)
    assert (u.state, u.close_reason, u.closed_at) == (State.CLOSED, CloseReason.NOT_RATED, clock.t)
    assert (r.state, r.close_reason) == (State.CLOSED, CloseReason.RATED)
    assert (fresh(dup).state, fresh(dup).close_reason) == (State.CLOSED, CloseReason.DUPLICATE)
    ev = Event.objects.filter(order=u).last()
    assert (ev.action, ev.from_state, ev.to_state, ev.actor_id) == ("close", State.RESOLVED, State.CLOSED, None)
    clock.advance(days=60)
    assert drain() == 0
    assert fresh(reopened).state == State.RESOLVED


def test_suspended_orders_are_not_chased(world, clock):
    clock.set("2026-11-02T09:00")
    o = order_in(world, State.SUSPENDED)
    assert o.next_check_at is None
    clock.advance(days=60)
    assert drain() == 0
    assert not fresh(o).overdue


def test_a_claimed_row_whose_worker_died_is_picked_up_after_the_lease(world, clock, monkeypatch):
    t0 = clock.set("2026-11-02T09:00")
    o = dispatched(world, t0)
    due = o.respond_by
    clock.set(due)

    def crash(order):
        raise RuntimeError("worker killed")

    monkeypatch.setattr(deadlines, "_act_on", crash)
    with pytest.raises(BatchFailed) as failed:
        deadlines.handle_one()
    assert isinstance(failed.value.__cause__, RuntimeError) and failed.value.done == 0
    # The claim stands: pushed forward by the lease, nothing done.
    o = fresh(o)
    assert o.next_check_at == due + deadlines.LEASE
    assert not o.respond_overdue
    monkeypatch.undo()
    assert drain() == 0  # another worker leaves it alone while the lease runs
    clock.set(due + deadlines.LEASE - dt.timedelta(seconds=1))
    assert drain() == 0
    clock.set(due + deadlines.LEASE)
    assert drain() == 1
    o = fresh(o)
    assert o.respond_overdue
    assert Message.objects.filter(kind="workorder.urge", user=world.u_feng).count() == 1


# The worker closes stale connections between steps (close_old_connections), which a test transaction
# does not survive: this one commits for real.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_run_deadlines_once_drains(world, clock):
    clock.set("2026-11-02T09:00")
    orders = [dispatched(world, clock.t) for _ in range(3)]
    done = order_in(world, State.RESOLVED)
    clock.set("2026-12-01T09:00")
    out = io.StringIO()
    call_command("run_deadlines", "--once", stdout=out)
    # Each dispatched order is past its signing-for limit and its deadline: one step each (no warning
    # for a deadline already missed); the resolved one closes.
    assert out.getvalue().strip() == "handled 4"
    for o in orders:
        o = fresh(o)
        assert (o.respond_overdue, o.overdue, o.next_check_at) == (True, True, None)
    assert fresh(done).state == State.CLOSED
    assert not WorkOrder.objects.filter(next_check_at__isnull=False).exists()
    call_command("run_deadlines", "--once", stdout=out)
    assert out.getvalue().strip().endswith("handled 0")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_run_deadlines_once_works_past_a_bad_row(world, clock, monkeypatch):
    """One order whose step fails (logged, leased for a minute) does not keep `--once` from the rest."""
    clock.set("2026-11-02T09:00")
    orders = [dispatched(world, clock.t) for _ in range(3)]
    clock.set("2026-11-02T16:00")  # past every signing-for limit
    original = deadlines._act_on
    bad = orders[0].pk  # the most due: taken first

    def act(order):
        if order.pk == bad:
            raise RuntimeError("a bad row")
        original(order)

    monkeypatch.setattr(deadlines, "_act_on", act)
    out = io.StringIO()
    call_command("run_deadlines", "--once", "--idle-sleep", "0", stdout=out)
    assert out.getvalue().strip() == "handled 2"
    assert [fresh(o).respond_overdue for o in orders] == [False, True, True]
    assert fresh(orders[0]).next_check_at == clock.t + deadlines.LEASE
    # The batch that met the bad row was rolled back whole before its orders were taken one by one: the
    # good ones were urged once each, not once in the batch and again alone.
    assert Message.objects.filter(kind="workorder.urge", user=world.u_feng).count() == 2
    assert Event.objects.filter(order__in=orders[1:], action="respond_overdue").count() == 2


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_worker_gives_the_signals_back(world):
    """A worker run from a test or another program must not keep Ctrl-C for itself afterwards."""
    import signal

    before = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
    call_command("run_deadlines", "--once", "--idle-sleep", "0", stdout=io.StringIO())
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def test_a_batch_looks_up_the_people_to_tell_once_per_unit_and_place(world, clock):
    """Deadlines falling due at once are acted on in one transaction per batch: the handlers of a unit and
    the dispatchers of a place are read once for the batch, and everyone is still told of every order."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    clock.set("2026-11-02T09:00")
    orders = [dispatched(world, clock.t) for _ in range(5)]
    clock.set("2026-12-01T09:00")
    with CaptureQueriesContext(connection) as q:
        assert deadlines.handle_one() == 5
    lookups = [x["sql"] for x in q.captured_queries if "accounts_roleassignment" in x["sql"]]
    assert len(lookups) == 2, lookups  # the unit's handlers, the place's dispatchers
    for o in orders:
        o = fresh(o)
        assert (o.respond_overdue, o.overdue) == (True, True)
    assert Message.objects.filter(kind="workorder.urge", user=world.u_feng).count() == 5
    assert Message.objects.filter(kind="workorder.overdue", user=world.c.u_zhao).count() == 5
