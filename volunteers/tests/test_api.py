"""Volunteer service over the API: join, the week's activities, sign-up, check-in twice, rating."""

from __future__ import annotations

import pytest

from volunteers.models import Participation, Volunteer
from workorders.tests.helpers import Clock

API = "/api/v1/volunteers"


def post(client, url, body=None):
    return client.post(url, body or {}, content_type="application/json")


@pytest.fixture
def clock():
    c = Clock()
    c.set("2026-11-23 10:00")
    yield c
    c.reset()


def test_a_volunteer_signs_up_checks_in_once_and_gets_hours_and_points(world, client_as, clock):
    c = world.c
    zhang, zhou = client_as(c.u_zhang), client_as(c.u_zhou)
    assert zhang.get(f"{API}/me").status_code == 404
    j = post(zhang, API, {"skills": ["理发"], "availability": "周末"})
    assert j.status_code == 201 and j.json()["hours"] == 0
    assert post(zhang, API, {"skills": ["x"] * 11}).status_code == 422
    body = {
        "node_id": c.v1.pk,
        "title": "敬老院义务理发",
        "place": "东村敬老院",
        "capacity": 1,
        "starts_at": "2026-11-25T09:00:00+08:00",
        "ends_at": "2026-11-25T11:00:00+08:00",
    }
    assert post(zhang, f"{API}/activities", body).status_code == 404  # residents do not publish
    assert post(zhou, f"{API}/activities", {**body, "capacity": 0}).status_code == 422
    assert post(zhou, f"{API}/activities", {**body, "ends_at": "2026-11-25T08:00:00+08:00"}).status_code == 422
    assert post(client_as(c.u_sun), f"{API}/activities", body).status_code == 404
    a = post(zhou, f"{API}/activities", body)
    assert a.status_code == 201 and a.json()["checkin_code"]
    aid, code = a.json()["id"], a.json()["checkin_code"]
    week = zhang.get(f"{API}/activities").json()
    assert [x["title"] for x in week] == ["敬老院义务理发"] and week[0]["organiser"] is False
    assert zhang.get(f"{API}/activities/{aid}").json()["checkin_code"] is None  # the code is shown at the place
    assert client_as(c.u_sun).get(f"{API}/activities/{aid}").status_code == 404

    s = post(zhang, f"{API}/activities/{aid}/signup")
    assert s.status_code == 201 and s.json()["mine"]["state"] == "signed_up" and s.json()["taken"] == 1
    assert post(zhang, f"{API}/activities/{aid}/signup").status_code == 409
    clock.set("2026-11-25 08:50")
    assert post(zhang, f"{API}/activities/{aid}/checkin", {"code": "NOPE"}).status_code == 403
    ci = post(zhang, f"{API}/activities/{aid}/checkin", {"code": code})
    assert ci.status_code == 200 and ci.json()["mine"]["state"] == "checked_in"
    twice = post(zhang, f"{API}/activities/{aid}/checkin", {"code": code})
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "volunteers.already_checked_in"
    pid = ci.json()["mine"]["id"]
    clock.set("2026-11-25 11:00")
    assert post(zhang, f"{API}/participations/{pid}/rate", {"rating": 5}).status_code == 404
    assert post(zhou, f"{API}/participations/{pid}/rate", {"rating": 9}).status_code == 422
    r = post(zhou, f"{API}/participations/{pid}/rate", {"rating": 5})
    assert r.status_code == 200 and r.json()["hours"] == 2.0 and r.json()["points"] == 20
    assert post(zhou, f"{API}/participations/{pid}/rate", {"rating": 4}).status_code == 409
    assert zhang.get(f"{API}/me").json()["hours"] == 2.0
    assert client_as(c.u_zhang).get("/api/v1/points/me").json()["balance"] == 20
    mine = zhang.get(f"{API}/me/participations").json()["items"]
    assert [(p["activity_title"], p["state"]) for p in mine] == [("敬老院义务理发", "done")]
    assert Participation.objects.count() == 1 and Volunteer.objects.count() == 1


def test_teams_over_the_api(world, client_as):
    c = world.c
    post(client_as(c.u_zhang), API, {})
    zhou = client_as(c.u_zhou)
    t = post(zhou, f"{API}/teams", {"node_id": c.v1.pk, "name": "东村红马甲"})
    assert t.status_code == 201
    tid = t.json()["id"]
    assert post(client_as(c.u_sun), f"{API}/teams", {"node_id": c.v1.pk, "name": "x"}).status_code == 404
    j = post(client_as(c.u_zhang), f"{API}/teams/{tid}/members", {})
    assert j.status_code == 201 and j.json()["members"] == 1
    assert post(client_as(c.u_zhang), f"{API}/teams/{tid}/members", {}).status_code == 409
    assert post(client_as(c.u_zhang), f"{API}/teams/{tid}/leave", {}).json()["members"] == 0
    names = [x["name"] for x in client_as(c.u_zhang).get(f"{API}/teams").json()]
    assert names == ["东村红马甲"]
    assert client_as(c.u_sun).get(f"{API}/teams").json() == []


def test_lists_cost_the_same_queries_whatever_their_length(world, client_as, clock):
    """The week, the teams and the volunteers: counts, leaders and hours come in the list's own query."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from volunteers import services

    c = world.c
    services.volunteer_join(resident=c.zhang, by=c.u_zhang)
    zhou = client_as(c.u_zhou)
    urls = (f"{API}/activities?start=2026-11-23", f"{API}/teams", API)

    def add(n: int) -> None:
        for i in range(n):
            post(
                zhou,
                f"{API}/activities",
                {
                    "node_id": c.v1.pk,
                    "title": f"活动{i}",
                    "place": "村委会",
                    "capacity": 3,
                    "starts_at": "2026-11-25T09:00:00+08:00",
                    "ends_at": "2026-11-25T11:00:00+08:00",
                },
            )
            post(zhou, f"{API}/teams", {"node_id": c.v1.pk, "name": f"队{i}"})
            post(zhou, API, {"resident_id": [c.liu, c.chen, c.zhang][i % 3].pk})

    def cost() -> list[int]:
        out = []
        for url in urls:
            with CaptureQueriesContext(connection) as q:
                assert zhou.get(url).status_code == 200
            out.append(len(q))
        return out

    add(1)
    one = cost()
    add(3)
    assert cost() == one
    assert len(zhou.get(urls[0]).json()) == 4 and len(zhou.get(urls[1]).json()) == 4
