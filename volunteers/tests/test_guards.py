"""Guards found in review: organisers do not rate themselves, activities earn volunteer points only,
hours stay within the activity, and the waiting list keeps its order."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from core.errors import Conflict, PermissionDenied, ValidationFailed
from points.models import Account, Rule
from volunteers import services
from volunteers.tests.test_services import START, clock, vw  # noqa: F401  (fixtures)


def test_a_team_leader_does_not_rate_themself_and_their_ratings_wait_for_the_village(vw, clock):  # noqa: F811
    c = vw.c
    team = services.team_create(node=c.v1, name="东村红马甲", by=c.u_zhou, leader=vw.liu)
    act = services.activity_publish(
        team=team,
        node=c.v1,
        title="清扫",
        place="村口",
        starts_at=vw.start,
        ends_at=vw.start + dt.timedelta(hours=2),
        capacity=5,
        by=c.u_liu,
    )
    with pytest.raises(ValidationFailed):  # a good-person rule is not an activity's to give
        services.activity_publish(
            team=team,
            node=c.v1,
            title="x",
            place="y",
            starts_at=vw.start,
            ends_at=vw.start + dt.timedelta(hours=1),
            capacity=5,
            by=c.u_liu,
            rule=Rule.objects.get(code="GP01"),
        )
    mine = services.signup(activity=act, by=c.u_liu)
    hers = services.signup(activity=act, by=c.u_zhang)
    clock.set("2026-11-25 09:00")
    services.check_in(activity=act, by=c.u_liu, volunteer=vw.liu)
    services.check_in(activity=act, by=c.u_liu, volunteer=vw.zhang)
    clock.set("2026-11-25 20:00")  # checked out hours after the end: the hours stop at the end
    services.check_out(participation=hers, by=c.u_zhang, code=act.checkin_code)
    with pytest.raises(PermissionDenied):
        services.rate(participation=mine, rating=5, hours=8, by=c.u_liu)
    with pytest.raises(ValidationFailed):  # more hours than the activity lasted
        services.rate(participation=hers, rating=5, hours=8, by=c.u_liu)
    hers = services.rate(participation=hers, rating=5, by=c.u_liu)
    assert hers.hours == Decimal("2.0") and hers.claim.state == "pending"
    assert not Account.objects.filter(resident=c.zhang, balance__gt=0).exists()


def test_a_free_place_goes_to_the_waiting_list_first(vw, clock):  # noqa: F811
    c = vw.c
    a = services.signup(activity=vw.act, by=c.u_zhang)
    services.signup(activity=vw.act, by=c.u_zhou, volunteer=vw.liu)
    w = services.signup(activity=vw.act, by=c.u_zhou, volunteer=vw.chen)
    assert w.state == "waitlisted"
    services.withdraw(participation=a, by=c.u_zhang)
    w.refresh_from_db()
    assert w.state == "signed_up"
    clock.set("2026-11-25 09:30")
    again = services.signup(activity=vw.act, by=c.u_zhang)  # full: she waits
    assert again.state == "waitlisted"
    with pytest.raises(Conflict):  # started: a no-show is the organiser's to record, not a quiet withdrawal
        services.withdraw(participation=again, by=c.u_zhang)
