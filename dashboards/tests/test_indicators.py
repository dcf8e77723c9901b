"""Every indicator on a hand-built set of orders, with the right answers worked out here: an order
crossing the month boundary over National Day 2026, a reopened order, a returned one signed for late, an
excluded (甄别) one, a direct answer later spot-checked, a late one confirmed by callback."""

from __future__ import annotations

import datetime as dt

import pytest

from dashboards import indicators, rollups
from workorders import services
from workorders.models import Callback, Kind
from workorders.services import Unit
from workorders.tests.helpers import at, fresh, submit

pytestmark = pytest.mark.django_db

SEP = (dt.date(2026, 9, 1), dt.date(2026, 9, 30))
OCT = (dt.date(2026, 10, 1), dt.date(2026, 10, 31))


@pytest.fixture
def orders(world, clock):
    c, housing, civil = world.c, Unit(department=world.housing), Unit(department=world.c.civil_affairs)
    o = {}

    # A: 30 Sept → resolved 9 Oct across National Day; rated solved, 满意 (4).
    clock.set("2026-09-30 09:00")
    o["A"] = submit(world)
    clock.set("2026-09-30 09:30")
    services.workorder_dispatch(order=fresh(o["A"]), to=housing, by=c.u_zhao)
    # 7 working days after Wed 30 Sept: 1–7 Oct are holidays, Sat 10 Oct is a 调休 working day, so the
    # 7th is Thu 15 Oct and the limit runs to its end.
    assert fresh(o["A"]).due_at == at("2026-10-16 00:00")
    clock.set("2026-09-30 10:00")
    services.workorder_accept(order=fresh(o["A"]), by=world.u_feng)
    clock.set("2026-10-09 10:30")
    services.workorder_resolve(order=fresh(o["A"]), by=world.u_feng, reply="已更换灯泡")
    services.workorder_rate(order=fresh(o["A"]), by=c.u_zhang, solved=True, satisfaction=4)

    # B: rated 不满意 → reopened → handled again, then 基本满意 (3) and solved.
    clock.set("2026-10-09 09:00")
    o["B"] = submit(world)
    clock.set("2026-10-09 09:10")
    services.workorder_dispatch(order=fresh(o["B"]), to=housing, by=c.u_zhao)
    clock.set("2026-10-09 09:20")
    services.workorder_accept(order=fresh(o["B"]), by=world.u_feng)
    clock.set("2026-10-09 15:30")
    services.workorder_resolve(order=fresh(o["B"]), by=world.u_feng, reply="已修")
    services.workorder_rate(order=fresh(o["B"]), by=c.u_zhang, solved=False, satisfaction=2)
    clock.set("2026-10-09 16:00")
    services.workorder_dispatch(order=fresh(o["B"]), to=housing, by=c.u_zhao)
    services.workorder_accept(order=fresh(o["B"]), by=world.u_feng)
    clock.set("2026-10-12 10:00")
    services.workorder_resolve(order=fresh(o["B"]), by=world.u_feng, reply="重新接线")
    services.workorder_rate(order=fresh(o["B"]), by=c.u_zhang, solved=True, satisfaction=3)

    # C: returned by 住建局, dispatched to 民政局, signed for after its limit; still being handled.
    clock.set("2026-10-12 09:00")
    o["C"] = submit(world)
    services.workorder_dispatch(order=fresh(o["C"]), to=housing, by=c.u_zhao)
    services.workorder_return(order=fresh(o["C"]), by=world.u_feng, reason="不属于本单位")
    services.workorder_dispatch(order=fresh(o["C"]), to=civil, by=c.u_zhao)
    clock.set(fresh(o["C"]).respond_by + dt.timedelta(hours=1))
    services.workorder_accept(order=fresh(o["C"]), by=c.u_wang)

    # D: rated badly, then ruled unreasonable (甄别): volumes only.
    clock.set("2026-10-13 09:00")
    o["D"] = submit(world)
    services.workorder_dispatch(order=fresh(o["D"]), to=housing, by=c.u_zhao)
    services.workorder_accept(order=fresh(o["D"]), by=world.u_feng)
    services.workorder_resolve(order=fresh(o["D"]), by=world.u_feng, reply="已修")
    services.workorder_rate(order=fresh(o["D"]), by=c.u_zhang, solved=False, satisfaction=1)
    services.workorder_rule_unreasonable(order=fresh(o["D"]), by=c.u_zhao, reason="诉求超出政策范围")

    # E: a consultation in 南镇 answered at once; rated 非常满意, then a spot check says not solved, 3.
    clock.set("2026-10-14 09:00")
    o["E"] = submit(world, by=c.u_sun, owner=c.sun_resident, kind=Kind.CONSULT, channel="hotline")
    services.workorder_answer(order=fresh(o["E"]), by=c.u_zhao, reply="按政策可以申请")
    services.workorder_rate(order=fresh(o["E"]), by=c.sun_resident.user, solved=True, satisfaction=5)
    clock.set("2026-10-15 09:00")
    services.workorder_callback(
        order=fresh(o["E"]), by=c.u_zhao, kind=Callback.Kind.SPOT_CHECK, reached=True, solved=False, satisfaction=3
    )

    # F: resolved late (due by the end of Mon 26 Oct), confirmed solved and 非常满意 by a callback.
    clock.set("2026-10-15 09:00")
    o["F"] = submit(world)
    services.workorder_dispatch(order=fresh(o["F"]), to=housing, by=c.u_zhao)
    assert fresh(o["F"]).due_at == at("2026-10-27 00:00")
    services.workorder_accept(order=fresh(o["F"]), by=world.u_feng)
    clock.set("2026-10-27 09:30")
    services.workorder_resolve(order=fresh(o["F"]), by=world.u_feng, reply="已修好")
    services.workorder_callback(order=fresh(o["F"]), by=c.u_zhao, reached=True, solved=True, satisfaction=5)
    rollups.apply_all()
    return o


def approx(x):
    return pytest.approx(x, abs=1e-9)


def test_the_county_in_october(world, orders) -> None:
    n = indicators.for_unit(node_id=world.c.county.pk, start=OCT[0], end=OCT[1])
    c, r = n.counters, n.rates
    assert (c["total"], c["excluded"]) == (5, 1)  # B C D E F; D ruled unreasonable
    # Responded: B, E (answered directly), F on time; C signed for late.
    assert (c["resp_ok"], c["resp_due"]) == (3, 4) and r["response"] == approx(3 / 4)
    assert (c["sign_ok"], c["sign_due"]) == (2, 3) and r["sign"] == approx(2 / 3)
    # Verdicts: B solved (its second rating), E not solved (the spot check came last), F solved (callback).
    assert (c["solved"], c["verdicts"]) == (2, 3) and r["resolution"] == approx(2 / 3)
    # Satisfaction: B 3, E 3 (spot check), F 5 → (1 + 0.6 × 2) / 3.
    assert (c["sat5"], c["sat3"], c["rated"]) == (1, 2, 3) and r["satisfaction"] == approx(2.2 / 3)
    assert (c["on_time"], c["done"]) == (2, 3) and r["on_time"] == approx(2 / 3)  # F late
    # Dispatches: B twice, C to 住建局 (returned) and 民政局, F once; D is excluded.
    assert (c["returned"], c["assigned"]) == (1, 5) and r["return"] == approx(1 / 5)
    assert (c["reopened"], c["handled"]) == (1, 3) and r["reopen"] == approx(1 / 3)
    assert r["overdue"] == 1
    assert (c["open"], c["urged"], c["open_overdue"]) == (1, 1, 0)  # C
    # Working hours from the last dispatch to resolution: B Fri 16:00 → Mon 10:00 over the 调休 Saturday
    # = 1.5 + 6.5 + 1.5; F Thu 15 Oct 09:00 → Tue 27 Oct 09:30 = 6 + 6 × 6.5 + 6.5 + 1.
    assert (c["timed"], c["hours_x10"]) == (2, 95 + 525) and r["hours"] == approx(31.0)


def test_september_holds_the_order_submitted_before_the_holiday(world, orders) -> None:
    n = indicators.for_unit(node_id=world.c.county.pk, start=SEP[0], end=SEP[1])
    assert n.counters["total"] == 1
    # Resolved in October, counted in September: 5.5 h on 30 Sept, none 1–7 Oct, 6.5 h on 8 Oct, 2 h on 9 Oct.
    assert n.rates["hours"] == approx(14.0)
    assert (n.rates["response"], n.rates["resolution"], n.rates["satisfaction"], n.rates["on_time"]) == (1, 1, 1, 1)
    # A range across the boundary: the 30 Sept day row plus the October month row.
    both = indicators.for_unit(node_id=world.c.county.pk, start=dt.date(2026, 9, 30), end=OCT[1])
    assert both.counters["total"] == 6 and both.counters["verdicts"] == 4


def test_towns_villages_and_departments(world, orders) -> None:
    c = world.c
    east = indicators.for_unit(node_id=c.t1.pk, start=OCT[0], end=OCT[1]).counters
    south = indicators.for_unit(node_id=c.t2.pk, start=OCT[0], end=OCT[1]).counters
    assert (east["total"], south["total"]) == (4, 1)
    assert indicators.for_unit(node_id=c.v1.pk, start=OCT[0], end=OCT[1]).counters["total"] == 4
    assert indicators.for_unit(node_id=c.v2.pk, start=OCT[0], end=OCT[1]).counters["total"] == 0
    housing = indicators.for_unit(department_id=world.housing.pk, start=OCT[0], end=OCT[1])
    # 住建局 holds B, D (excluded) and F; it was sent B twice, C (returned) and F.
    assert (housing.counters["total"], housing.counters["excluded"]) == (3, 1)
    assert (housing.counters["returned"], housing.counters["assigned"]) == (1, 4)
    assert housing.rates["return"] == approx(1 / 4)
    assert housing.rates["resolution"] == approx(1.0)  # B and F solved
    civil = indicators.for_unit(department_id=c.civil_affairs.pk, start=OCT[0], end=OCT[1])
    assert (civil.counters["total"], civil.counters["assigned"], civil.counters["returned"]) == (1, 1, 0)
    assert civil.rates["sign"] == 0.0  # C signed for late
    villages = indicators.for_units(level=5, start=OCT[0], end=OCT[1])
    assert {k: v.counters["total"] for k, v in villages.items()} == {c.v1.pk: 4, c.v3.pk: 1}


def test_the_tallies_equal_a_full_recount(world, orders) -> None:
    assert rollups.differences() == []


def test_an_approved_appeal_leaves_the_rates_and_a_refused_one_does_not(world, orders) -> None:
    from dashboards import services as dash
    from dashboards.models import Exemption

    c = world.c
    ex = dash.exemption_request(order=fresh(orders["F"]), by=world.u_feng, reason="居民故意拖延验收")
    rollups.apply_all()
    before = indicators.for_unit(node_id=c.county.pk, start=OCT[0], end=OCT[1]).counters
    assert before["excluded"] == 1  # asking changes nothing
    dash.exemption_decide(exemption=ex, by=c.u_qian, approve=True, note="情况属实")
    rollups.apply_all()
    after = indicators.for_unit(node_id=c.county.pk, start=OCT[0], end=OCT[1]).counters
    assert (after["total"], after["excluded"], after["done"], after["overdue"]) == (5, 2, 2, 0)
    assert fresh(orders["F"]).excluded
    assert Exemption.objects.get(pk=ex.pk).status == "approved"
    refused = dash.exemption_request(order=fresh(orders["B"]), by=world.u_feng, reason="居民多次反复投诉")
    dash.exemption_decide(exemption=refused, by=c.u_qian, approve=False)
    rollups.apply_all()
    assert indicators.for_unit(node_id=c.county.pk, start=OCT[0], end=OCT[1]).counters["excluded"] == 2
    assert rollups.differences() == []
