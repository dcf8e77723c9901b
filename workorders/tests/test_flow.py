"""The main road through the API, as the people who walk it: resident → dispatcher → department → resident."""

from __future__ import annotations

import json

import pytest

from notify.models import Message
from workorders.models import Event, Rating, WorkOrder


def post(client, url, body=None):
    return client.post(url, data=json.dumps(body or {}), content_type="application/json")


@pytest.fixture
def zhang(world, client_as):
    return client_as(world.c.u_zhang)


def submit_streetlight(client, world, **extra):
    body = {
        "kind": "complaint",
        "category": "010101",
        "text": "村口路灯坏了三天，晚上看不见路",
        "lat": "31.180100",
        "lng": "115.020200",
        "address": "东村村口",
        "channel": "mobile",
    }
    body.update(extra)
    return post(client, "/api/v1/workorders", body)


def test_closed_loop_submit_dispatch_accept_resolve_rate(world, client_as, zhang):
    r = submit_streetlight(zhang, world)
    assert r.status_code == 201, r.content
    data = r.json()
    order = data["order"]
    assert order["state"] == "submitted"
    assert order["grid_name"] == "A1湾组"
    assert order["contact_name"] == "张阿姨"
    assert order["channel"] == "mobile"
    oid = order["id"]

    # The dispatcher sees the rules' suggestion and dispatches to it.
    zhao = client_as(world.c.u_zhao)
    detail = zhao.get(f"/api/v1/workorders/{oid}").json()
    assert detail["suggested_unit"] == "住建局"
    assert "dispatch" in detail["actions"]
    r = post(zhao, f"/api/v1/workorders/{oid}/dispatch", {"to": {"department_id": world.housing.pk}})
    assert r.status_code == 200, r.content
    assert r.json()["state"] == "dispatched"
    assert r.json()["unit"] == "住建局"
    assert r.json()["due_at"] is not None

    # The department signs for it and resolves it.
    feng = client_as(world.u_feng)
    assert post(feng, f"/api/v1/workorders/{oid}/accept").json()["state"] == "accepted"
    r = post(feng, f"/api/v1/workorders/{oid}/resolve", {"reply": "已更换灯泡，恢复照明"})
    assert r.json()["state"] == "resolved"

    # The resident was told and rates it well.
    assert Message.objects.filter(user=world.c.u_zhang, kind="workorder.resolved").exists()
    r = post(zhang, f"/api/v1/workorders/{oid}/rate", {"solved": True, "satisfaction": 5, "comment": "很快"})
    assert r.status_code == 200, r.content
    assert r.json()["state"] == "rated"
    assert Rating.objects.get(order_id=oid).satisfaction == 5

    o = WorkOrder.objects.get(pk=oid)
    actions = list(Event.objects.filter(order=o).values_list("action", "from_state", "to_state"))
    assert actions == [
        ("submit", "", "submitted"),
        ("dispatch", "submitted", "dispatched"),
        ("accept", "dispatched", "accepted"),
        ("resolve", "accepted", "resolved"),
        ("rate", "resolved", "rated"),
    ]
    # The resident's view of the timeline names units, not clerks.
    mine = zhang.get(f"/api/v1/workorders/{oid}").json()
    assert all("冯科员" not in e["actor"] for e in mine["events"])
    # The public tracking page shows progress without logging in.
    public = client_as(None).get(f"/api/v1/track/{o.tracking_code}").json()
    assert public["state"] == "rated"
    # The reply is the resident's: not for the public, but on her own tracking page (test_edges_track).
    assert public["reply"] == ""
    assert zhang.get(f"/api/v1/track/{o.tracking_code}").json()["reply"] == "已更换灯泡，恢复照明"
    assert "张阿姨" not in json.dumps(public, ensure_ascii=False)
