"""Volunteer service: joining, teams, sign-up with a waiting list, check-in/out by staff and by code,
ratings that fix the honour record and award points, and refusals that change nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from points import services as points
from points.models import Account
from volunteers import selectors, services
from volunteers.models import Participation, TeamMember
from workorders.tests.helpers import Clock

START = "2026-11-25 09:00"  # a Wednesday, Asia/Shanghai


@pytest.fixture
def clock():
    c = Clock()
    c.set("2026-11-23 10:00")
    yield c
    c.reset()


@pytest.fixture
def vw(world, clock):
    """张阿姨 and 刘党员 volunteer; 东村 publishes a two-hour activity with two places."""
    c = world.c
    zhang = services.volunteer_join(resident=c.zhang, by=c.u_zhang, skills=["理发"], availability="周末")
    liu = services.volunteer_join(resident=c.liu, by=c.u_zhou)
    chen = services.volunteer_join(resident=c.chen, by=c.u_zhou)
    start = clock.set(START)
    clock.set("2026-11-23 10:00")
    act = services.activity_publish(
        node=c.v1,
        title="敬老院义务理发",
        place="东村敬老院",
        starts_at=start,
        ends_at=start + dt.timedelta(hours=2),
        capacity=2,
        by=c.u_zhou,
    )
    return type("VW", (), {"c": c, "zhang": zhang, "liu": liu, "chen": chen, "act": act, "start": start})


def balance(resident) -> int:
    return Account.objects.filter(resident=resident).values_list("balance", flat=True).first() or 0


def test_joining_is_for_oneself_or_staff_of_the_area(world):
    c = world.c
    v = services.volunteer_join(resident=c.zhang, by=c.u_zhang, skills=["理发", " ", "修电器"])
    assert v.skills == ["理发", "修电器"] and v.path == c.zhang.path
    with pytest.raises(NotFound):
        services.volunteer_join(resident=c.chen, by=c.u_zhang)
    with pytest.raises(NotFound):
        services.volunteer_join(resident=c.chen, by=c.u_sun)
    with pytest.raises(ValidationFailed):
        services.volunteer_join(resident=c.zhang, by=c.u_zhang, skills=[str(i) for i in range(11)])
    again = services.volunteer_join(resident=c.zhang, by=c.u_zhang, availability="晚上")
    assert again.pk == v.pk and again.availability == "晚上"


def test_teams_leaders_and_members(vw):
    c = vw.c
    team = services.team_create(node=c.v1, name="东村红马甲", by=c.u_zhou, leader=vw.liu)
    assert TeamMember.objects.get(team=team, volunteer=vw.liu).role == "leader"
    services.team_add(team=team, volunteer=vw.zhang, by=c.u_zhang)
    with pytest.raises(Conflict):
        services.team_add(team=team, volunteer=vw.zhang, by=c.u_zhang)
    other = services.team_create(node=c.v1, name="东村银发队", by=c.u_zhou)
    with pytest.raises(PermissionDenied):  # nobody makes themself leader
        services.team_add(team=other, volunteer=vw.zhang, by=c.u_zhang, role="leader")
    services.team_add(team=team, volunteer=vw.chen, by=c.u_liu)  # the leader adds a member
    with pytest.raises(NotFound):
        services.team_create(node=c.v3, name="越权", by=c.u_zhou)
    services.team_leave(team=team, volunteer=vw.zhang, by=c.u_zhang)
    with pytest.raises(Conflict):
        services.team_leave(team=team, volunteer=vw.zhang, by=c.u_zhang)
    services.team_add(team=team, volunteer=vw.zhang, by=c.u_zhang)  # and may come back
    # A team leader publishes for the team's village.
    act = services.activity_publish(
        team=team,
        node=c.v3,
        title="清扫村道",
        place="村口",
        starts_at=vw.start,
        ends_at=vw.start + dt.timedelta(hours=1),
        capacity=5,
        by=c.u_liu,
    )
    assert act.node_id == c.v1.pk
    assert selectors.organises(c.u_liu, act) and not selectors.organises(c.u_zhang, act)


def test_sign_up_fills_places_then_the_waiting_list_moves_up(vw):
    c = vw.c
    a = services.signup(activity=vw.act, by=c.u_zhang)
    b = services.signup(activity=vw.act, by=c.u_zhou, volunteer=vw.liu)
    w = services.signup(activity=vw.act, by=c.u_zhou, volunteer=vw.chen)
    assert [a.state, b.state, w.state] == ["signed_up", "signed_up", "waitlisted"]
    with pytest.raises(Conflict) as exc:
        services.signup(activity=vw.act, by=c.u_zhang)
    assert exc.value.code == "volunteers.already_signed_up"
    services.withdraw(participation=a, by=c.u_zhang)
    w.refresh_from_db()
    assert w.state == "signed_up"
    with pytest.raises(NotFound):  # not hers to withdraw
        services.withdraw(participation=w, by=c.u_zhang)


def test_check_in_by_code_twice_is_refused(vw, clock):
    c = vw.c
    p = services.signup(activity=vw.act, by=c.u_zhang)
    with pytest.raises(Conflict) as exc:  # too early: the day before
        services.check_in(activity=vw.act, by=c.u_zhang, code=vw.act.checkin_code)
    assert exc.value.code == "volunteers.checkin_closed"
    clock.set("2026-11-25 08:45")
    with pytest.raises(PermissionDenied):
        services.check_in(activity=vw.act, by=c.u_zhang, code="WRONG")
    done = services.check_in(activity=vw.act, by=c.u_zhang, code=vw.act.checkin_code.lower())
    assert done.state == "checked_in" and done.checkin_at is not None
    with pytest.raises(Conflict) as exc:
        services.check_in(activity=vw.act, by=c.u_zhang, code=vw.act.checkin_code)
    assert exc.value.code == "volunteers.already_checked_in"
    with pytest.raises(Conflict):
        services.check_in(activity=vw.act, by=c.u_zhou, volunteer=vw.zhang)  # by staff: still twice
    p.refresh_from_db()
    assert p.checkin_at == done.checkin_at


def test_rating_fixes_the_hours_and_awards_points_by_rule(vw, clock):
    c = vw.c
    services.signup(activity=vw.act, by=c.u_zhang)
    clock.set("2026-11-25 09:00")
    p = services.check_in(activity=vw.act, by=c.u_zhou, volunteer=vw.zhang)
    clock.set("2026-11-25 10:40")
    p = services.check_out(participation=p, by=c.u_zhang, code=vw.act.checkin_code)
    with pytest.raises(NotFound):  # only its organisers rate
        services.rate(participation=p, rating=5, by=c.u_zhang)
    with pytest.raises(ValidationFailed):
        services.rate(participation=p, rating=6, by=c.u_zhou)
    p = services.rate(participation=p, rating=5, by=c.u_zhou)
    assert (p.state, p.hours) == ("done", Decimal("1.5"))  # 1 h 40 min, to the half hour
    assert p.claim.state == "approved" and p.claim.points == 15  # VS01: 10 a hour, decided at once
    assert balance(c.zhang) == 15
    with pytest.raises(Conflict):
        services.rate(participation=p, rating=4, by=c.u_zhou)
    # The honour record is never deducted: points spent or taken off leave the hours as they were.
    points.deduct_manual(resident=c.zhang, amount=15, reason="测试扣减", by=c.u_zhou)
    assert balance(c.zhang) == 0 and selectors.hours_of(vw.zhang) == Decimal("1.5")


def test_a_no_show_gets_zero_hours_and_no_points(vw, clock):
    c = vw.c
    p = services.signup(activity=vw.act, by=c.u_zhang)
    q = services.signup(activity=vw.act, by=c.u_zhou, volunteer=vw.liu)
    clock.set("2026-11-25 12:00")
    p = services.rate(participation=p, rating=0, by=c.u_zhou)
    assert (p.state, p.hours, p.claim_id) == ("no_show", Decimal(0), None)
    assert balance(c.zhang) == 0
    with pytest.raises(Conflict):  # not checked in: only a zero may be given
        services.rate(participation=q, rating=3, by=c.u_zhou)


def test_publishing_refuses_bad_input_and_other_areas(vw):
    c = vw.c
    s = vw.start
    ok = {
        "node": c.v1,
        "title": "t",
        "place": "p",
        "starts_at": s,
        "ends_at": s + dt.timedelta(hours=1),
        "capacity": 3,
        "by": c.u_zhou,
    }
    for bad in (
        {"ends_at": s},
        {"ends_at": s + dt.timedelta(hours=30)},
        {"starts_at": s - dt.timedelta(days=30), "ends_at": s - dt.timedelta(days=30, hours=-1)},
        {"capacity": 0},
        {"capacity": 501},
        {"title": "  "},
        {"starts_at": s.replace(tzinfo=None)},
    ):
        with pytest.raises(ValidationFailed):
            services.activity_publish(**{**ok, **bad})
    for outsider in (c.u_sun, c.u_zhang, c.u_li):
        with pytest.raises(NotFound):
            services.activity_publish(**{**ok, "by": outsider})


def test_a_cancelled_activity_takes_no_sign_ups_and_tells_those_signed_up(vw):
    from notify.models import Message

    c = vw.c
    services.signup(activity=vw.act, by=c.u_zhang)
    with pytest.raises(ValidationFailed):
        services.activity_cancel(activity=vw.act, by=c.u_zhou, reason="")
    services.activity_cancel(activity=vw.act, by=c.u_zhou, reason="下雨")
    assert Message.objects.filter(user=c.u_zhang, text__contains="下雨").exists()
    vw.act.refresh_from_db()
    with pytest.raises(Conflict):
        services.signup(activity=vw.act, by=c.u_zhou, volunteer=vw.liu)


def test_the_week_preview_shows_what_is_open_nearby(vw, clock):
    c = vw.c
    far = services.volunteer_join(resident=c.sun_resident, by=c.u_sun)
    week = clock.set("2026-11-23 00:00")
    mine = list(selectors.week_preview(c.u_zhang, week))
    assert [a.title for a in mine] == ["敬老院义务理发"]
    assert list(selectors.week_preview(c.u_sun, week)) == []
    with pytest.raises(NotFound):
        services.signup(activity=vw.act, by=c.u_sun, volunteer=far)
    assert Participation.objects.count() == 0
    # A neighbour village of the same town may join: 黄婶 of 西村.
    huang = services.volunteer_join(resident=c.huang, by=c.u_wu)
    assert services.signup(activity=vw.act, by=c.u_wu, volunteer=huang).state == "signed_up"
