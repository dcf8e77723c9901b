"""Household work: visits and their needs (settled, or a work order owned by the resident and linked to
the visit), a resident's request to their member, links with history, plans and where households stand
against them — and every refusal changes nothing."""

from __future__ import annotations

import datetime as dt

import pytest

from core.errors import Conflict, NotFound, ValidationFailed
from org.models import HouseholdLink
from partylink import selectors, services
from partylink.models import LinkChange, Need, Visit
from partylink.services import NeedIn
from workorders.models import Channel, WorkOrder
from workorders.tests.helpers import at


def _counts() -> tuple[int, int, int, int]:
    return Visit.objects.count(), Need.objects.count(), WorkOrder.objects.count(), LinkChange.objects.count()


def test_a_need_found_on_a_visit_becomes_a_work_order_owned_by_the_resident_and_linked_to_the_visit(world, clock):
    c = world.c
    visit = services.visit_log(
        by=c.u_liu, household_id=c.h_zhang.pk, met="张阿姨本人", notes="身体尚好，独居",
        needs=[
            NeedIn(text="想申请高龄津贴，不知道怎么办理", then="order", category_id=world.elderly.pk),
            NeedIn(text="问医保缴费时间", then="settle", outcome="当场告知12月底前缴费"),
            NeedIn(text="屋后排水沟堵了", kind="problem"),
        ],
    )  # fmt: skip
    assert visit.member is not None and visit.member.resident_id == c.liu.pk  # as the household's member
    order_need, settled, still_open = visit.needs.order_by("id")
    assert order_need.state == "relayed" and settled.state == "settled" and still_open.state == "open"
    order = WorkOrder.objects.get(pk=order_need.order_id)
    assert order.owner_id == c.zhang.pk  # the head of the household
    assert order.channel == Channel.PARTY
    assert order.category_id == world.elderly.pk
    assert order.grid_id == c.a1.pk
    assert order.need.visit_id == visit.pk  # the order leads back to the visit
    assert settled.outcome == "当场告知12月底前缴费" and settled.closed_by_id == c.u_liu.pk


def test_a_grid_worker_relays_as_grid_patrol_and_the_default_category_stands_in(world, clock):
    c = world.c
    visit = services.visit_log(by=c.u_li, household_id=c.h_liu.pk, needs=[NeedIn(text="院墙开裂有隐患", kind="risk")])
    need = visit.needs.get()
    order = services.need_relay(need=need, by=c.u_li)
    assert order.channel == Channel.PATROL
    assert order.category.code == "990101"
    assert visit.member is None
    with pytest.raises(Conflict) as e:  # once relayed, a need is done with
        services.need_relay(need=Need.objects.get(pk=need.pk), by=c.u_li)
    assert e.value.code == "need.closed"
    assert WorkOrder.objects.count() == 1


@pytest.mark.parametrize("who", ["u_sun", "u_zhang", "u_wang", "u_zheng"])
def test_outsiders_cannot_log_a_visit_or_read_a_household_not_theirs(world, clock, who):
    c = world.c
    user = getattr(c, who)
    before = _counts()
    with pytest.raises(NotFound):
        services.visit_log(by=user, household_id=c.h_zhang.pk, notes="路过")
    with pytest.raises(NotFound):
        selectors.access_household(user, c.h_zhang.pk)
    assert _counts() == before


def test_a_member_sees_only_the_households_linked_to_them(world, clock):
    c = world.c
    assert {h.pk for h in selectors.visitable(c.u_liu)} == {c.h_zhang.pk, c.h_chen.pk}
    with pytest.raises(NotFound):  # their own neighbour in A1, not linked to them
        services.visit_log(by=c.u_liu, household_id=c.h_huang.pk, notes="看看")
    v = services.visit_log(by=c.u_li, household_id=c.h_liu.pk, notes="刘家一切正常")
    with pytest.raises(NotFound):
        selectors.access_visit(c.u_liu, v.pk)
    assert selectors.access_visit(c.u_zhou, v.pk) == v  # village staff see their village's visits


@pytest.mark.parametrize(
    ("kw", "code"),
    [
        ({"visited_at": "2026-11-19 10:00"}, "visit.bad_time"),  # tomorrow
        ({"visited_at": "2026-07-01 10:00"}, "visit.bad_time"),  # more than a quarter ago
        ({"notes": "", "needs": []}, "visit.empty"),
        ({"needs": [NeedIn(text=" ")]}, "validation.required"),
        ({"needs": [NeedIn(text="x" * 501)]}, "validation.too_long"),
        ({"notes": "x" * 1001}, "validation.too_long"),
        ({"notes": "有\x00空"}, "validation.nul"),
        ({"needs": [NeedIn(text="要帮忙", kind="wish")]}, "need.bad_kind"),
        ({"needs": [NeedIn(text="要帮忙", then="settle")]}, "validation.required"),  # settled, but how?
        ({"needs": [NeedIn(text="要帮忙", then="order", category_id=999999)]}, "need.bad_category"),
        ({"needs": [NeedIn(text=f"需求{i}") for i in range(11)]}, "visit.too_many_needs"),
        ({"lat": 30}, "visit.bad_location"),
    ],
)
def test_bad_visits_are_refused_with_a_clear_error_and_change_nothing(world, clock, kw, code):
    c = world.c
    from decimal import Decimal

    args = {"notes": "看望", **kw}
    if "visited_at" in args:
        args["visited_at"] = at(args["visited_at"])
    if "lat" in args:
        args["lat"] = Decimal(args["lat"])
    before = _counts()
    with pytest.raises((ValidationFailed, Conflict)) as e:
        services.visit_log(by=c.u_liu, household_id=c.h_zhang.pk, **args)
    assert e.value.code == code
    assert _counts() == before


def test_a_need_of_someone_outside_the_household_is_refused(world, clock):
    c = world.c
    with pytest.raises(ValidationFailed) as e:
        services.visit_log(by=c.u_liu, household_id=c.h_zhang.pk, needs=[NeedIn(text="要帮忙", resident_id=c.chen.pk)])
    assert e.value.code == "need.bad_resident"


def test_a_retried_visit_with_the_same_key_is_logged_once(world, clock):
    c = world.c
    first = services.visit_log(by=c.u_liu, household_id=c.h_zhang.pk, notes="看望", idempotency_key="k-1",
                               needs=[NeedIn(text="要帮忙买药", then="order")])  # fmt: skip
    again = services.visit_log(by=c.u_liu, household_id=c.h_zhang.pk, notes="看望", idempotency_key="k-1",
                               needs=[NeedIn(text="要帮忙买药", then="order")])  # fmt: skip
    assert again.pk == first.pk
    assert (Visit.objects.count(), Need.objects.count(), WorkOrder.objects.count()) == (1, 1, 1)
    with pytest.raises(Conflict):
        services.visit_log(by=c.u_liu, household_id=c.h_chen.pk, notes="看望", idempotency_key="k-1")


def test_a_resident_asks_their_member_who_is_told_and_relays_it(world, clock):
    c = world.c
    from notify.models import Message

    need = services.need_ask(by=c.u_zhang, text="家里灯泡坏了，够不着")
    assert need.asked and need.state == "open" and need.resident_id == c.zhang.pk and need.visit is None
    assert Message.objects.filter(user=c.u_liu, kind="party").exists()
    assert selectors.access_need(c.u_liu, need.pk) == need
    order = services.need_relay(need=need, by=c.u_liu)
    assert order.channel == Channel.PARTY and order.owner_id == c.zhang.pk


def test_a_resident_without_a_member_or_past_the_limit_is_told_so(world, clock):
    c = world.c
    HouseholdLink.objects.filter(household=c.h_zhang).delete()
    with pytest.raises(Conflict) as e:
        services.need_ask(by=c.u_zhang, text="帮我看看")
    assert e.value.code == "need.no_member"
    services.link_set(household=c.h_zhang, member=c.liu.party_member, by=c.u_zhou, reason="重新联户")
    for i in range(services.MAX_OPEN_ASKS):
        services.need_ask(by=c.u_zhang, text=f"第{i}件事")
    with pytest.raises(Conflict) as e:
        services.need_ask(by=c.u_zhang, text="又一件事")
    assert e.value.code == "need.too_many_open"
    assert Need.objects.count() == services.MAX_OPEN_ASKS


def test_links_keep_their_history_and_a_member_takes_at_most_the_allowed_number(world, clock, settings):
    c = world.c
    from org import services as org

    member = c.liu.party_member
    other = org.party_member_create(resident=c.chen, branch=c.v1)
    services.link_set(household=c.h_liu, member=member, by=c.u_zhou, reason="新联")
    services.link_set(household=c.h_zhang, member=other, by=c.u_zhou, reason="就近")
    services.link_remove(household=c.h_liu, by=c.u_zhou, reason="本户即党员户")
    history = list(selectors.link_history(c.u_zhou, c.h_zhang))
    assert [(h.action, h.member_id, h.previous_id, h.reason) for h in history] == [
        ("move", other.pk, member.pk, "就近")
    ]
    assert [h.action for h in LinkChange.objects.filter(household=c.h_liu).order_by("id")] == ["link", "unlink"]
    with pytest.raises(Conflict) as e:
        services.link_remove(household=c.h_liu, by=c.u_zhou, reason="再解一次")
    assert e.value.code == "link.none"
    settings.GONGZHI = {**settings.GONGZHI, "PARTY": {**settings.GONGZHI["PARTY"], "MAX_HOUSEHOLDS": 1}}
    with pytest.raises(Conflict) as e:  # 陈大爷 already has 张阿姨's household
        services.link_set(household=c.h_liu, member=other, by=c.u_zhou)
    assert e.value.code == "link.member_full"
    with pytest.raises(NotFound):  # another village's household, for 东村's clerk
        services.link_set(household=c.h_huang, member=member, by=c.u_zhou)
    with pytest.raises(NotFound):  # a grid worker does not manage links
        services.link_set(household=c.h_liu, member=member, by=c.u_li)


def test_bulk_assignment_fills_each_member_in_turn_up_to_the_limit(world, clock, settings):
    c = world.c
    from org import services as org

    settings.GONGZHI = {**settings.GONGZHI, "PARTY": {**settings.GONGZHI["PARTY"], "MAX_HOUSEHOLDS": 3}}
    for n in range(6):
        org.household_create(grid=c.a2, address=f"东村A2湾组{10 + n}号", number=str(10 + n))
    member = c.liu.party_member  # has two already: room for one
    other = org.party_member_create(resident=c.chen, branch=c.v1)  # room for three
    done = services.links_assign_grid(grid=c.a2, members=[member, other], by=c.u_zhou, reason="网格统一分配")
    assert (done.linked, done.left) == (4, 2)
    assert HouseholdLink.objects.filter(member=member).count() == 3
    assert HouseholdLink.objects.filter(member=other).count() == 3


def test_plans_make_visits_due_and_overdue_across_month_boundaries(world, clock):
    c = world.c
    liu_households = selectors.my_households(c.u_liu)
    assert [h.pk for h in liu_households] == [c.h_zhang.pk, c.h_chen.pk]
    # November: nobody visited in October, so both are overdue from the first of the month.
    s = selectors.standings(liu_households)
    assert {s[h].state for h in s} == {"overdue"}
    services.visit_log(by=c.u_liu, household_id=c.h_zhang.pk, notes="看望", visited_at=at("2026-11-18 09:00"))
    s = selectors.standings(liu_households)
    assert s[c.h_zhang.pk].state == "done" and s[c.h_zhang.pk].done == 1
    assert s[c.h_chen.pk].state == "overdue"
    # 23:59 on 30 November Shanghai time still counts for November; a minute later December begins.
    clock.set("2026-11-30 23:59")
    services.visit_log(by=c.u_liu, household_id=c.h_chen.pk, notes="看望", visited_at=at("2026-11-30 23:59"))
    assert selectors.standings(liu_households)[c.h_chen.pk].state == "done"
    clock.set("2026-12-01 00:01")
    s = selectors.standings(liu_households)
    assert {h: (s[h].state, s[h].done, s[h].missed_previous) for h in s} == {
        c.h_zhang.pk: ("due", 0, False), c.h_chen.pk: ("due", 0, False)
    }  # fmt: skip
    assert s[c.h_zhang.pk].next_due == at("2027-01-01 00:00")
    # Twice a month in 东村: the first visit is due by mid-month, then overdue.
    services.plan_set(village=c.v1, visits=2, period="month", by=c.u_zhou)
    clock.set("2026-12-16 12:01")
    s = selectors.standings(liu_households)
    assert s[c.h_zhang.pk].next_due == at("2026-12-16 12:00") and s[c.h_zhang.pk].state == "overdue"
    # A quarter: December is in the fourth quarter, which began on 1 October.
    services.plan_set(village=c.v1, visits=1, period="quarter", by=c.u_zhou)
    s = selectors.standings(liu_households)
    assert {s[h].state for h in s} == {"done"}  # both were visited in November
    clock.set("2027-01-05 09:00")
    s = selectors.standings(liu_households)
    assert {s[h].state for h in s} == {"due"}


def test_a_household_linked_last_month_is_not_held_to_last_month(world, clock):
    c = world.c
    services.link_set(household=c.h_liu, member=c.liu.party_member, by=c.u_zhou, since=dt.date(2026, 10, 20))
    s = selectors.standings([c.h_liu])
    assert s[c.h_liu.pk].state == "due" and not s[c.h_liu.pk].missed_previous


def test_plans_are_set_only_by_whoever_manages_the_village(world, clock):
    c = world.c
    with pytest.raises(NotFound):
        services.plan_set(village=c.v2, visits=2, period="month", by=c.u_zhou)
    with pytest.raises(ValidationFailed):
        services.plan_set(village=c.v1, visits=0, period="month", by=c.u_zhou)
    with pytest.raises(ValidationFailed):
        services.plan_set(village=c.v1, visits=2, period="year", by=c.u_zhou)
    assert services.plan_set(village=c.v2, visits=2, period="quarter", by=c.u_wu).visits == 2


def test_after_a_household_moves_its_needs_are_read_where_it_lives_now(world, clock):
    from org import services as org

    c = world.c
    visit = services.visit_log(by=c.u_li, household_id=c.h_liu.pk, needs=[NeedIn(text="院墙开裂有隐患")])
    need = visit.needs.get()
    org.household_move(household=c.h_liu, grid=c.c1)
    with pytest.raises(NotFound):  # 东村's grid worker no longer reads it ...
        selectors.access_need(c.u_li, need.pk)
    assert selectors.access_need(c.u_sun, need.pk) == need  # ... 南村's does


def test_a_time_without_a_zone_is_shanghai_time_and_a_place_off_the_map_is_refused(world, clock):
    from decimal import Decimal

    c = world.c
    v = services.visit_log(by=c.u_liu, household_id=c.h_zhang.pk, notes="看望",
                           visited_at=dt.datetime(2026, 11, 18, 9, 0))  # fmt: skip
    assert v.visited_at == at("2026-11-18 09:00")
    with pytest.raises(ValidationFailed) as e:
        services.visit_log(by=c.u_liu, household_id=c.h_zhang.pk, notes="看望", lat=Decimal(150), lng=Decimal(114))
    assert e.value.code == "visit.bad_location"


def test_a_household_linked_this_month_is_due_from_the_day_of_its_link(world, clock):
    c = world.c
    services.plan_set(village=c.v1, visits=2, period="month", by=c.u_zhou)
    services.link_set(household=c.h_liu, member=c.liu.party_member, by=c.u_zhou, since=dt.date(2026, 11, 10))
    s = selectors.standings([c.h_liu])[
        c.h_liu.pk
    ]  # the 18th: the first of two is due half-way through 10–30 Nov, not by the 15th
    assert (s.state, s.next_due) == ("due", at("2026-11-20 12:00"))  # 10 Nov + 21 days / 2


def test_bulk_assignment_leaves_a_household_linked_meanwhile_to_its_member(world, clock, monkeypatch):
    from org import services as org

    c = world.c
    other = org.party_member_create(resident=c.chen, branch=c.v1)
    real = services.link_set

    def someone_else_first(**kw):
        if kw["household"].pk == c.h_liu.pk and kw.get("only_if_unlinked"):
            org.household_link(member=other, household=c.h_liu, since=dt.date(2026, 11, 18))
        return real(**kw)

    monkeypatch.setattr(services, "link_set", someone_else_first)
    done = services.links_assign_grid(grid=c.a1, members=[c.liu.party_member], by=c.u_zhou)
    assert done.linked == 0 and HouseholdLink.objects.get(household=c.h_liu).member_id == other.pk
