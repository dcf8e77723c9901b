"""The webhooks over the API (/api/v1/webhooks…): the administrator manages them; a dispatcher is refused (403),
the anonymous must log in (401), a subscription outside one's area is missing (404); malformed input is 400/422
and changes nothing."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from accounts import services as accounts
from accounts.models import Role
from core.clock import SHANGHAI
from gongzhi.test import PASSWORD, db_fingerprint
from notify import webhooks
from notify.models import Delivery, Subscription
from notify.tests.test_webhooks_receiver import Receiver

pytestmark = pytest.mark.django_db

API = "/api/v1/webhooks"
T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI)
GOOD = {"name": "12345热线", "url": "https://hotline.example.gov.cn/hook", "events": ["workorder.resolved"]}


def post(client, url: str, body=None, **kw):
    return client.post(url, json.dumps(body if body is not None else {}), content_type="application/json", **kw)


def patch(client, url: str, body):
    return client.patch(url, json.dumps(body), content_type="application/json")


@pytest.fixture
def sub(county) -> Subscription:
    return webhooks.subscription_create(by=county.u_admin, **GOOD)


def test_the_administrator_adds_lists_and_changes_a_webhook(county, client_as, at):
    at(T0)
    admin = client_as(county.u_admin)
    r = post(admin, API, {**GOOD, "events": ["sos.raised", "workorder.resolved"]})
    assert r.status_code == 201, r.content
    body = r.json()
    sub = Subscription.objects.get()
    assert body["id"] == sub.pk and body["secret"] == sub.secret and body["secret"].startswith("whsec_")
    assert body["events"] == ["workorder.resolved", "sos.raised"]
    assert (body["node_id"], body["node"], body["is_active"], body["consecutive_failures"]) == (
        county.county.pk, "测试市", True, 0,
    )  # fmt: skip
    r = admin.get(API)
    assert r.status_code == 200 and [x["id"] for x in r.json()["items"]] == [sub.pk]
    assert admin.get(f"{API}/{sub.pk}").json()["url"] == GOOD["url"]
    r = patch(admin, f"{API}/{sub.pk}", {"name": "热线平台", "events": ["sos.closed"]})
    assert r.status_code == 200 and (r.json()["name"], r.json()["events"]) == ("热线平台", ["sos.closed"])
    assert r.json()["url"] == GOOD["url"]
    r = patch(admin, f"{API}/{sub.pk}", {"url": None})
    assert r.status_code == 422 and list(r.json()["error"]["fields"]) == ["url"]
    r = post(admin, f"{API}/{sub.pk}/disable", {"reason": "对方系统升级"})
    assert r.status_code == 200 and r.json()["is_active"] is False and r.json()["disabled_reason"] == "对方系统升级"
    r = post(admin, f"{API}/{sub.pk}/enable")
    assert r.status_code == 200 and r.json()["is_active"] is True and r.json()["disabled_at"] is None
    old = sub.secret
    r = post(admin, f"{API}/{sub.pk}/rotate-secret")
    assert r.status_code == 200 and r.json()["secret"] != old
    assert dt.datetime.fromisoformat(r.json()["previous_secret_until"]) == T0 + dt.timedelta(hours=24)
    events = admin.get("/api/v1/webhook-events").json()
    assert [e["type"] for e in events] == list(webhooks.EVENT_TYPES) and all(e["label"] for e in events)
    r = admin.delete(f"{API}/{sub.pk}")
    assert r.status_code == 204
    assert admin.get(f"{API}/{sub.pk}").status_code == 404
    assert admin.get(API).json()["items"] == []


def test_the_delivery_log_and_a_redelivery(county, client_as, at, django_assert_max_num_queries):
    at(T0)
    with Receiver(fail_each=1) as receiver:
        sub = webhooks.subscription_create(by=county.u_admin, **{**GOOD, "url": receiver.url})
        for i in range(3):
            webhooks.publish("workorder.resolved", {"n": i, "标题": "路灯"})
        while webhooks.deliver_one():
            pass
        at(T0 + dt.timedelta(minutes=1))
        while webhooks.deliver_one():
            pass
    admin = client_as(county.u_admin)
    admin.get(f"{API}/{sub.pk}/deliveries")  # warm the user's scope
    with django_assert_max_num_queries(8):  # however many deliveries and attempts
        r = admin.get(f"{API}/{sub.pk}/deliveries")
    assert r.status_code == 200
    items = r.json()["items"]
    assert [x["data"]["n"] for x in items] == [2, 1, 0]
    first = items[-1]
    assert (first["state"], first["attempts"], first["last_status_code"], first["event_type"]) == (
        "delivered", 2, 200, "workorder.resolved",
    )  # fmt: skip
    assert [(a["status_code"], a["error"]) for a in first["attempt_log"]] == [(500, "HTTP 500: busy"), (200, "")]
    assert all(isinstance(a["duration_ms"], int) for a in first["attempt_log"])
    r = post(admin, f"{API}/deliveries/{first['id']}/redeliver")
    assert r.status_code == 201
    again = r.json()
    assert again["event_id"] == first["event_id"] and again["id"] != first["id"]
    assert (again["state"], again["attempts"], again["attempt_log"], again["data"]) == (
        "pending", 0, [], first["data"],
    )  # fmt: skip
    assert Delivery.objects.filter(event_id=first["event_id"]).count() == 2


def _every_call(sub_id: int, delivery_id: int) -> list[tuple[str, str, dict | None]]:
    return [
        ("get", API, None),
        ("post", API, GOOD),
        ("get", f"{API}/{sub_id}", None),
        ("patch", f"{API}/{sub_id}", {"name": "改名"}),
        ("delete", f"{API}/{sub_id}", None),
        ("post", f"{API}/{sub_id}/enable", {}),
        ("post", f"{API}/{sub_id}/disable", {}),
        ("post", f"{API}/{sub_id}/rotate-secret", {}),
        ("get", f"{API}/{sub_id}/deliveries", None),
        ("post", f"{API}/deliveries/{delivery_id}/redeliver", {}),
        ("get", "/api/v1/webhook-events", None),
    ]


def _call(client, method: str, url: str, body):
    if method == "get":
        return client.get(url)
    if method == "delete":
        return client.delete(url)
    return getattr(client, method)(url, json.dumps(body), content_type="application/json")


@pytest.mark.parametrize("who", ["u_zhao", "u_qian", "u_li", "u_wang", "u_zhang"])
def test_everyone_else_is_refused_and_nothing_changes(county, client_as, sub, who):
    webhooks.publish("workorder.resolved", {})
    d = Delivery.objects.get()
    client = client_as(getattr(county, who))
    before = db_fingerprint()
    for method, url, body in _every_call(sub.pk, d.pk):
        r = _call(client, method, url, body)
        assert r.status_code == 403, (who, method, url, r.status_code)
        assert r.json()["error"]["code"] in ("webhook.forbidden", "permission_denied")
        assert "secret" not in r.content.decode()
    assert db_fingerprint() == before


def test_the_anonymous_must_log_in(county, client_as, sub):
    webhooks.publish("workorder.resolved", {})
    d = Delivery.objects.get()
    anon = client_as(None)
    before = db_fingerprint()
    for method, url, body in _every_call(sub.pk, d.pk):
        r = _call(anon, method, url, body)
        assert r.status_code == 401 and r.json()["error"]["code"] == "auth.required", (method, url)
    assert db_fingerprint() == before


def test_a_webhook_outside_ones_area_is_missing(county, client_as, sub):
    town_admin = accounts.user_create(username="t2admin", password=PASSWORD, display_name="南镇管理员")
    accounts.role_assign(user=town_admin, role=Role.ADMIN, node=county.t2)
    webhooks.publish("workorder.resolved", {})
    d = Delivery.objects.get()
    client = client_as(town_admin)
    before = db_fingerprint()
    assert client.get(API).json()["items"] == []
    for method, url, body in _every_call(sub.pk, d.pk)[2:10]:
        r = _call(client, method, url, body)
        assert r.status_code == 404, (method, url, r.status_code)
        assert r.json()["error"]["code"] in ("webhook.not_found", "webhook.delivery_not_found")
    # Nor may they put one over a place outside it.
    r = post(client, API, {**GOOD, "node_id": county.t1.pk})
    assert r.status_code == 404 and r.json()["error"]["code"] == "node.not_found"
    r = post(client, API, {**GOOD, "node_id": 999999})
    assert r.status_code == 404
    assert db_fingerprint() == before
    r = post(client, API, {**GOOD, "node_id": county.v3.pk})  # a village of 南镇: theirs
    assert r.status_code == 201 and r.json()["node"] == county.v3.name


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**GOOD, "url": "ftp://files.example/x"}, "url"),
        ({**GOOD, "url": "http://user:pw@x.example/"}, "url"),
        ({**GOOD, "url": "https://x.example/" + "x" * 500}, "url"),
        ({**GOOD, "events": ["workorder.deleted"]}, "events"),
        ({**GOOD, "events": []}, "events"),
        ({**GOOD, "events": "workorder.resolved"}, "events"),
        ({**GOOD, "name": "长" * 81}, "name"),
        ({**GOOD, "name": ""}, "name"),
        ({**GOOD, "colour": "red"}, "colour"),
        ({"url": GOOD["url"], "events": GOOD["events"]}, "name"),
        ({**GOOD, "node_id": "1"}, "node_id"),
        ({**GOOD, "secret": "mine"}, "secret"),
    ],
)
def test_bad_input_is_422_with_the_field_and_changes_nothing(county, client_as, sub, body, field):
    admin = client_as(county.u_admin)
    before = db_fingerprint()
    r = post(admin, API, body)
    assert r.status_code == 422, r.content
    err = r.json()["error"]
    assert field in err["fields"] and err["message"]
    if field in ("url", "events", "name"):
        r = patch(admin, f"{API}/{sub.pk}", {field: body.get(field, "")})
        assert r.status_code == 422 and field in r.json()["error"]["fields"]
    assert db_fingerprint() == before


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [(b"{not json", "application/json"), (b'{"name": "x"', "application/json"), (b"name=x", "text/plain")],
)
def test_a_malformed_body_is_400_and_changes_nothing(county, client_as, sub, raw, content_type):
    admin = client_as(county.u_admin)
    before = db_fingerprint()
    for url in (API, f"{API}/{sub.pk}/disable"):
        r = admin.post(url, raw, content_type=content_type)
        assert r.status_code == 400 and r.json()["error"]["code"] == "malformed_request"
    assert db_fingerprint() == before


def test_missing_ids_are_404(county, client_as):
    admin = client_as(county.u_admin)
    assert admin.get(f"{API}/999999").status_code == 404
    assert post(admin, f"{API}/999999/enable").status_code == 404
    assert post(admin, f"{API}/deliveries/999999/redeliver").status_code == 404
    assert admin.get(f"{API}/abc").status_code == 422
