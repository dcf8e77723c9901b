"""一周活动预告: events for the residents of an area, sign-up within capacity (fifty at once never take more
places than there are, on SQLite and PostgreSQL), withdrawal gives the place back, a cancellation tells
those signed up; the week on the resident's home; bad input refused and nothing changed."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from accounts import services as accounts
from core.errors import Conflict, NotFound, ValidationFailed
from notices import selectors, services
from notices.models import Attendance, Event
from notify.models import Message
from org import services as org
from org.models import Resident
from workorders.tests.helpers import Clock, at

API = "/api/v1/events"


@pytest.fixture
def clock():
    c = Clock()
    c.set("2026-11-23 10:00")  # a Monday
    yield c
    c.reset()


def _event(c, *, capacity=2, node=None, when="2026-11-25 09:00"):
    return services.event_publish(
        by=c.u_zhou, node=node or c.v1, title="义诊进村", kind="clinic", place="东村卫生室", starts_at=at(when),
        ends_at=at(when) + dt.timedelta(hours=3), capacity=capacity, point=c.point_v1,
    )  # fmt: skip


def test_residents_sign_up_within_capacity_and_withdraw(world, clock):
    c = world.c
    e = _event(c, capacity=1)
    week = selectors.events_for(c.u_zhang, start=at("2026-11-23 00:00"), end=at("2026-11-30 00:00"))
    assert list(week) == [e]
    services.event_attend(event=e, by=c.u_zhang)
    with pytest.raises(Conflict) as err:
        services.event_attend(event=e, by=c.u_zhang)
    assert err.value.code == "event.already_signed_up"
    with pytest.raises(Conflict) as err:
        services.event_attend(event=Event.objects.get(pk=e.pk), by=c.u_liu)
    assert err.value.code == "event.full"
    services.event_withdraw(event=e, by=c.u_zhang)
    assert Event.objects.get(pk=e.pk).taken == 0
    services.event_attend(event=e, by=c.u_liu)
    services.event_withdraw(event=e, by=c.u_liu)
    services.event_attend(event=e, by=c.u_liu)  # again, after withdrawing
    assert Event.objects.get(pk=e.pk).taken == 1
    assert Attendance.objects.filter(event=e, state="signed_up").count() == 1


def test_only_the_areas_residents_see_and_sign_up(world, clock):
    c = world.c
    e = _event(c, node=c.a2)  # grid A2 only: 张阿姨 lives in A1
    with pytest.raises(NotFound):
        services.event_attend(event=e, by=c.u_zhang)
    with pytest.raises(NotFound):
        selectors.access_event(c.u_sun, e.pk)
    county = _event(c, node=c.v1)
    assert selectors.access_event(c.u_zhang, county.pk) == county


def test_a_cancellation_tells_those_signed_up_and_closes_sign_up(world, clock):
    c = world.c
    e = _event(c)
    services.event_attend(event=e, by=c.u_zhang)
    services.event_cancel(event=e, by=c.u_zhou, reason="天气原因")
    assert Message.objects.filter(user=c.u_zhang, kind="events", text__contains="天气原因").exists()
    with pytest.raises(Conflict) as err:
        services.event_attend(event=Event.objects.get(pk=e.pk), by=c.u_liu)
    assert err.value.code == "event.cancelled"
    with pytest.raises(NotFound):
        services.event_cancel(event=e, by=c.u_sun, reason="x")


def test_an_event_that_has_started_takes_no_more_sign_ups(world, clock):
    c = world.c
    e = _event(c)
    clock.set("2026-11-25 09:30")
    with pytest.raises(Conflict) as err:
        services.event_attend(event=e, by=c.u_zhang)
    assert err.value.code == "event.started"


@pytest.mark.parametrize(
    ("kw", "code"),
    [
        ({"title": ""}, "validation.required"),
        ({"title": "x" * 81}, "validation.too_long"),
        ({"starts_at": "2026-11-20 09:00"}, "event.bad_time"),
        ({"ends_at": "2026-11-25 08:00"}, "event.bad_time"),
        ({"ends_at": "2026-11-27 09:00"}, "event.bad_time"),
        ({"capacity": 0}, "event.bad_capacity"),
        ({"capacity": 5000}, "event.bad_capacity"),
        ({"kind": "party"}, "event.bad_kind"),
        ({"description": "a\x00b"}, "validation.nul"),
    ],
)
def test_bad_events_are_refused_and_change_nothing(world, clock, kw, code):
    c = world.c
    args = {"title": "讲座", "place": "村委会", "starts_at": "2026-11-25 09:00", "ends_at": "2026-11-25 11:00",
            "capacity": 30, **kw}  # fmt: skip
    args["starts_at"], args["ends_at"] = at(args["starts_at"]), at(args["ends_at"])
    with pytest.raises(ValidationFailed) as err:
        services.event_publish(by=c.u_zhou, node=c.v1, **args)
    assert err.value.code == code
    assert not Event.objects.exists()


def test_the_api_and_pages(world, client_as, clock):
    c = world.c
    zhou, zhang = client_as(c.u_zhou), client_as(c.u_zhang)
    body = {"node_id": c.v1.pk, "point_id": c.point_v1.pk, "kind": "teaching", "title": "智能手机课堂",
            "starts_at": "2026-11-26T14:00:00+08:00", "ends_at": "2026-11-26T16:00:00+08:00",
            "capacity": 1}  # fmt: skip
    r = zhou.post(API, body, content_type="application/json")
    assert r.status_code == 201 and r.json()["place"] == "东村党群服务中心"
    eid = r.json()["id"]
    assert zhou.post(API, {**body, "capacity": 0}, content_type="application/json").status_code == 422
    assert zhou.post(API, {**body, "node_id": c.v2.pk}, content_type="application/json").status_code == 404
    assert zhou.post(API, {**body, "title": "a\u0000"}, content_type="application/json").status_code == 400
    assert [e["title"] for e in zhang.get(API).json()] == ["智能手机课堂"]
    a = zhang.post(f"{API}/{eid}/attend")
    assert a.status_code == 200 and a.json()["mine"] is True and a.json()["left"] == 0
    full = client_as(c.u_liu).post(f"{API}/{eid}/attend")
    assert full.status_code == 409 and full.json()["error"]["code"] == "event.full"
    assert client_as(c.u_sun).post(f"{API}/{eid}/attend").status_code == 404
    home = zhang.get("/").content.decode()
    assert 'data-box="events"' in home and "智能手机课堂" in home
    page = zhang.get(f"/notices/events/{eid}/").content.decode()
    assert f"/notices/events/{eid}/withdraw/" in page and 'data-action="attend"' not in page
    zhang.post(f"/notices/events/{eid}/withdraw/")
    assert Event.objects.get(pk=eid).taken == 0
    r = zhou.post("/notices/events/new/", {"node": c.v1.pk, "kind": "lecture", "title": "防诈骗讲座",
                                           "starts_at": "2026-11-27T19:00", "ends_at": "2026-11-27T20:00",
                                           "capacity": "abc"}, follow=True)  # fmt: skip
    assert list(r.context["messages"]) and Event.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_fifty_at_once_never_take_more_places_than_there_are(county, settings):
    from workorders.tests.test_concurrency import run_threads

    c = county
    users = []
    for i in range(50):
        h = org.household_create(grid=c.a1, address=f"东村A1湾组{100 + i}号", number=str(100 + i))
        r = org.resident_create(household=h, name=f"村民{i}", gender="F", birth_date=dt.date(1960, 1, 1),
                                relation="head", phone="", id_number="")  # fmt: skip
        u = accounts.user_create(username=f"v{i}", password="x-Password-123", display_name=f"村民{i}")
        Resident.objects.filter(pk=r.pk).update(user=u)
        users.append(u)
    start = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    e = services.event_publish(
        by=c.u_zhou, node=c.v1, title="送戏下乡", kind="show", place="村广场", capacity=20, starts_at=start,
        ends_at=start + dt.timedelta(hours=2),
    )  # fmt: skip

    # Logged in here, not in the threads: a thread holding a connection while it waits for the others would
    # hold one of PostgreSQL's pool (8) for the whole race; each request takes one and gives it back.
    clients = []
    for u in users:
        client = Client()
        client.force_login(u, backend="django.contrib.auth.backends.ModelBackend")
        clients.append(client)

    def sign(i, go):
        go()
        return clients[i].post(f"{API}/{e.pk}/attend").status_code

    results = run_threads(50, sign)
    assert sorted(results).count(200) == 20 and sorted(results).count(409) == 30, results
    e.refresh_from_db()
    assert e.taken == 20 == Attendance.objects.filter(event=e, state="signed_up").count()


def test_an_event_time_without_a_zone_is_shanghai_time(world, client_as, clock):
    c = world.c
    r = client_as(c.u_zhou).post(API, {"node_id": c.v1.pk, "title": "讲座", "place": "村委会", "capacity": 5,
                                       "starts_at": "2026-11-26T14:00", "ends_at": "2026-11-26T16:00+08:00"},
                                 content_type="application/json")  # fmt: skip
    assert r.status_code == 201, r.content
    assert Event.objects.get().starts_at == at("2026-11-26 14:00")
