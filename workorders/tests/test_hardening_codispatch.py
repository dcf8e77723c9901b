"""Re-dispatch and co-handlers (协办): the main handler (主办) is never also a co-handler of the same order.
A dispatch that names co-handlers states them anew; one that names none keeps the previous co-handlers,
less the new main handler. Reassigning or transferring to a co-handler makes it the main handler only."""

from __future__ import annotations

import pytest

from workorders import services
from workorders.models import Assignment
from workorders.services import Unit
from workorders.states import State
from workorders.tests.helpers import fresh, order_in, post, submit

pytestmark = pytest.mark.django_db


def active(order) -> tuple[tuple[str, str] | None, set[str]]:
    """The active main handler and the active co-handlers, by unit ("d:<id>" or "n:<id>")."""
    main = None
    assist: list[str] = []
    for a in Assignment.objects.filter(order=order, active=True):
        unit = f"d:{a.department_id}" if a.department_id else f"n:{a.node_id}"
        if a.role == Assignment.Role.MAIN:
            assert main is None, "one active main handler"
            main = unit
        else:
            assist.append(unit)
    assert len(assist) == len(set(assist)), f"a co-handler twice: {assist}"
    assert main not in assist, f"{main} is both main handler and co-handler"
    return main, set(assist)


def d(dept) -> str:
    return f"d:{dept.pk}"


def n(node) -> str:
    return f"n:{node.pk}"


def reopened_with_assists(world, *assist: Unit):
    """Dispatched to 住建局 with co-handlers, handled, rated badly: reopened, its old assignments still on."""
    c = world.c
    o = submit(world)
    services.workorder_dispatch(order=fresh(o), to=Unit(department=world.housing), by=c.u_zhao, assist=list(assist))
    services.workorder_accept(order=fresh(o), by=world.u_feng)
    services.workorder_resolve(order=fresh(o), by=world.u_feng, reply="已更换灯泡")
    services.workorder_rate(order=fresh(o), by=c.u_zhang, solved=False, satisfaction=1)
    o = fresh(o)
    assert o.state == State.REOPENED
    return o


def test_re_dispatch_to_the_old_co_handler_does_not_keep_it_as_co_handler(world):
    c = world.c
    o = reopened_with_assists(world, Unit(department=c.civil_affairs))
    services.workorder_dispatch(order=o, to=Unit(department=c.civil_affairs), by=c.u_zhao)
    assert active(o) == (d(c.civil_affairs), set())


def test_re_dispatch_without_co_handlers_keeps_the_previous_ones_less_the_new_main(world):
    c = world.c
    o = reopened_with_assists(world, Unit(department=c.civil_affairs), Unit(node=c.v1))
    services.workorder_dispatch(order=o, to=Unit(department=c.civil_affairs), by=c.u_zhao)
    assert active(o) == (d(c.civil_affairs), {n(c.v1)})


def test_re_dispatch_naming_co_handlers_states_them_anew(world):
    c = world.c
    o = reopened_with_assists(world, Unit(department=c.civil_affairs), Unit(node=c.v1))
    services.workorder_dispatch(
        order=o, to=Unit(department=world.housing), by=c.u_zhao, assist=[Unit(node=c.v2), Unit(node=c.v1)]
    )
    assert active(o) == (d(world.housing), {n(c.v2), n(c.v1)})
    # The kept co-handler keeps its one assignment; the dropped one is ended.
    assert Assignment.objects.filter(order=o, node=c.v1, role="assist").count() == 1
    civil = Assignment.objects.get(order=o, department=c.civil_affairs)
    assert (civil.active, civil.ended_at is not None) == (False, True)


def test_the_main_handler_named_among_the_co_handlers_is_left_out_and_repeats_are_one(world):
    c = world.c
    o = submit(world)
    services.workorder_dispatch(
        order=fresh(o),
        to=Unit(node=c.v1),
        by=c.u_zhao,
        assist=[Unit(node=c.v1), Unit(department=c.civil_affairs), Unit(department=c.civil_affairs)],
    )
    assert active(o) == (n(c.v1), {d(c.civil_affairs)})


@pytest.mark.parametrize("how", ["reassign", "transfer"])
def test_moving_the_order_to_a_co_handler_makes_it_main_only(world, how):
    c = world.c
    o = submit(world)
    services.workorder_dispatch(
        order=fresh(o),
        to=Unit(department=world.housing),
        by=c.u_zhao,
        assist=[Unit(department=c.civil_affairs), Unit(node=c.v1)],
    )
    if how == "reassign":
        services.workorder_reassign(order=fresh(o), to=Unit(department=c.civil_affairs), by=c.u_zhao)
    else:
        services.workorder_transfer(
            order=fresh(o), to=Unit(department=c.civil_affairs), by=world.u_feng, note="民政事项"
        )
    assert active(o) == (d(c.civil_affairs), {n(c.v1)})


def test_the_api_path(world, client_as):
    c = world.c
    zhao = client_as(c.u_zhao)
    o = order_in(world, State.SUBMITTED)
    civil = {"department_id": c.civil_affairs.pk}
    assist = [civil, {"node_id": c.v1.pk}, {"node_id": c.v2.pk}]
    r = post(zhao, f"/api/v1/workorders/{o.pk}/dispatch", {"to": civil, "assist": assist})
    assert r.status_code == 200, r.content
    assert active(o) == (d(c.civil_affairs), {n(c.v1), n(c.v2)})
    # Reopened and dispatched again to a village that helped, naming no co-handlers: that village is the
    # main handler only, the other keeps helping.
    services.workorder_accept(order=fresh(o), by=c.u_wang)
    services.workorder_resolve(order=fresh(o), by=c.u_wang, reply="已处理")
    services.workorder_rate(order=fresh(o), by=c.u_zhang, solved=False, satisfaction=1)
    r = post(zhao, f"/api/v1/workorders/{o.pk}/dispatch", {"to": {"node_id": c.v1.pk}})
    assert r.status_code == 200, r.content
    assert active(o) == (n(c.v1), {n(c.v2)})
    ev = r.json()["events"][-1]
    assert (ev["action"], ev["data"]["assist"]) == ("dispatch", [c.v2.name])
