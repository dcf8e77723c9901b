"""A reopened order (重办) is on the clock from the reopening: its rectification deadline is set then, on
the official calendar (2026's National Day: Oct 1–7 off, Saturday Oct 10 worked), and the deadline
worker warns and escalates it while it waits to be dispatched again — it used to show 未计时 (no clock
running) until re-dispatched, and a demo emergency sat untimed for two days."""

from __future__ import annotations

import pytest

from catalog.models import Urgency
from core import workcal
from notify.models import Message
from workorders import deadlines, selectors, services
from workorders.models import Callback, Event
from workorders.states import State
from workorders.tests.helpers import at, fresh, housing, order_in

pytestmark = pytest.mark.django_db


def drain() -> int:
    n = 0
    while deadlines.handle_one():
        n += 1
        assert n < 1000, "the worker never runs dry"
    return n


def kinds(user) -> list[str]:
    return list(Message.objects.filter(user=user).order_by("id").values_list("kind", flat=True))


def reopen_by_rating(world, o):
    services.workorder_rate(order=fresh(o), by=world.c.u_zhang, solved=False, satisfaction=1, comment="还是不亮")
    return fresh(o)


def test_a_reopened_order_is_timed_from_the_reopening_on_the_official_calendar(world, clock, client_as):
    clock.set("2026-09-28T09:00")
    o = order_in(world, State.RESOLVED)
    t = clock.set("2026-09-30T15:00")  # the afternoon before National Day
    o = reopen_by_rating(world, o)
    assert o.state == State.REOPENED
    # Five working days to put it right (the general rule's seven is longer): Oct 8, 9, 10 (the 调休
    # Saturday), 12 and 13 — to the end of Oct 13.
    assert o.due_at == at("2026-10-14T00:00") == workcal.add_working_days(t, 5)
    total = workcal.working_hours_between(t, o.due_at)
    assert workcal.working_hours_between(t, o.warn_at) == pytest.approx(0.75 * total)  # the rule's share
    assert (o.respond_by, o.warned, o.overdue, o.respond_overdue) == (None, False, False, False)
    assert o.next_check_at == o.warn_at
    assert selectors.time_colour(o) == "green"
    row = client_as(world.c.u_zhao).get(f"/api/v1/workorders/{o.pk}").json()
    assert row["time_colour"] == "green" and row["due_at"] is not None


def test_the_worker_warns_and_escalates_a_reopened_order_waiting_for_dispatch(world, clock):
    c = world.c
    clock.set("2026-11-02T09:00")
    o = reopen_by_rating(world, order_in(world, State.RESOLVED))
    Message.objects.all().delete()
    assert drain() == 0
    clock.set(o.warn_at)
    assert drain() == 1
    o = fresh(o)
    assert o.warned and not o.overdue and o.next_check_at == o.due_at
    assert selectors.time_colour(o) == "amber"
    # It waits on the dispatchers, not on the unit that had it before.
    assert kinds(c.u_zhao) == ["workorder.warn"]
    assert kinds(world.u_feng) == []
    clock.set(o.due_at)
    assert drain() == 1
    o = fresh(o)
    assert o.overdue and o.next_check_at is None and selectors.time_colour(o) == "red"
    assert kinds(c.u_zhao) == ["workorder.warn", "workorder.overdue"]
    assert kinds(world.u_feng) == []
    assert [e.action for e in Event.objects.filter(order=o, actor=None)] == ["warn", "overdue"]
    clock.advance(days=30)
    assert drain() == 0
    # Dispatched at last, the unit gets its rectification period from now: the days the order waited
    # for the dispatcher are the dispatch centre's, in the events, not the unit's lateness.
    t = clock.t
    services.workorder_dispatch(order=fresh(o), to=housing(world), by=c.u_zhao)
    d = fresh(o)
    assert (d.state, d.overdue, d.warned) == (State.DISPATCHED, False, False)
    assert d.due_at == deadlines.rectify_deadline(t, deadlines.order_limits(d)) > t
    assert selectors.time_colour(d) == "green"
    assert Event.objects.filter(order=o, action="overdue").count() == 1


def test_re_dispatch_gives_the_unit_its_rectification_period_from_the_dispatch(world, clock):
    clock.set("2026-11-02T09:00")  # Monday
    o = reopen_by_rating(world, order_in(world, State.RESOLVED))
    assert o.due_at == at("2026-11-10T00:00")  # Nov 3, 4, 5, 6, 9
    t = clock.set("2026-11-03T09:00")
    services.workorder_dispatch(order=fresh(o), to=housing(world), by=world.c.u_zhao)
    d = fresh(o)
    assert d.due_at == at("2026-11-11T00:00") == workcal.add_working_days(t, 5)
    # And its time to sign for.
    assert d.respond_by == deadlines.respond_deadline(t, deadlines.order_limits(d).respond_hours)
    assert d.next_check_at == min(d.respond_by, d.warn_at)


def test_a_reopened_emergency_is_escalated_within_hours_not_left_untimed(world, clock):
    """The demo's emergency: its catalogue limit (2 working hours) is shorter than the rectification
    period, so it is what counts — two days later it has long been escalated."""
    clock.set("2026-11-06T09:00")  # Friday
    o = order_in(world, State.RESOLVED, urgency=Urgency.EMERGENCY)
    clock.set("2026-11-06T11:00")
    o = reopen_by_rating(world, o)
    assert o.due_at == at("2026-11-06T15:30")  # 11:00–12:00, then 14:30–15:30
    clock.set("2026-11-08T11:00")
    assert drain() == 1  # escalated (a worker waking late does not warn of what is already late)
    o = fresh(o)
    assert o.overdue and selectors.time_colour(o) == "red"
    assert kinds(world.c.u_zhao)[-1] == "workorder.overdue"


@pytest.mark.parametrize("how", ["callback", "reopen"])
def test_every_way_of_reopening_starts_the_clock(world, clock, how):
    c = world.c
    clock.set("2026-11-02T09:00")
    o = order_in(world, State.RATED if how == "callback" else State.CLOSED)
    t = clock.set("2026-11-04T10:00")
    if how == "callback":
        services.workorder_callback(
            order=fresh(o), by=c.u_zhao, kind=Callback.Kind.CALLBACK, reached=True, solved=False, note="仍未解决"
        )
    else:
        services.workorder_reopen(order=fresh(o), by=c.u_zhao, reason="居民再次来电")
    o = fresh(o)
    assert o.state == State.REOPENED
    assert o.due_at == workcal.add_working_days(t, 5) == at("2026-11-12T00:00")
    assert o.next_check_at == o.warn_at and selectors.time_colour(o) == "green"


def test_a_late_first_round_does_not_make_the_second_late(world, clock):
    clock.set("2026-11-02T09:00")
    o = order_in(world, State.IN_PROGRESS)
    clock.set(o.due_at)
    drain()
    assert fresh(o).overdue
    clock.advance(hours=1)
    services.workorder_resolve(order=fresh(o), by=world.u_feng, reply="已修好")
    o = reopen_by_rating(world, o)
    assert (o.overdue, o.warned) == (False, False)
    assert o.due_at > clock.t and selectors.time_colour(o) == "green"
