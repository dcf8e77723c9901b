"""One-key call over the API: who may register, raise, see and take calls; retried presses; bad input."""

from __future__ import annotations

import pytest

from accounts import services as accounts
from core.models import PersonalDataAccess
from sos import services
from sos.models import Call, CallEvent, CareProfile
from workorders.tests.helpers import error_code, post

pytestmark = pytest.mark.django_db

CALLS = "/api/v1/sos/calls"


def put(client, url, body):
    import json

    return client.put(url, data=json.dumps(body), content_type="application/json")


def test_staff_register_a_resident_with_the_default_chain(world, client_as):
    c = world.c
    r = post(client_as(c.u_li), "/api/v1/sos/profiles", {"resident_id": c.zhang.pk, "reasons": ["elderly_alone"]})
    assert r.status_code == 201, r.content
    body = r.json()
    assert [x["user_id"] for x in body["chain"]] == [c.u_li.pk, c.u_liu.pk, c.u_zheng.pk, c.u_zhou.pk]
    again = post(client_as(c.u_li), "/api/v1/sos/profiles", {"resident_id": c.zhang.pk})
    assert (again.status_code, error_code(again)) == (409, "sos.already_registered")


@pytest.mark.parametrize(
    ("who", "body", "status"),
    [
        ("u_sun", {"resident_id": "zhang"}, 404),  # another village's grid worker
        ("u_wang", {"resident_id": "zhang"}, 404),  # a department clerk
        ("u_zhang", {"resident_id": "zhang"}, 404),  # a resident cannot register anyone
        ("u_li", {"resident_id": "zhang", "reasons": ["rich"]}, 422),
        ("u_li", {"resident_id": "zhang", "colour": "red"}, 422),
        ("u_li", {"resident_id": 0}, 422),
    ],
)
def test_registering_refusals_change_nothing(world, client_as, who, body, status):
    c = world.c
    body = {**body, "resident_id": c.zhang.pk if body["resident_id"] == "zhang" else body["resident_id"]}
    r = post(client_as(getattr(c, who)), "/api/v1/sos/profiles", body)
    assert r.status_code == status, r.content
    assert CareProfile.objects.count() == 0


def test_a_resident_presses_her_button_and_a_retry_makes_no_second_call(world, care, client_as):
    zhang = client_as(world.c.u_zhang)
    r = post(zhang, CALLS, {"kind": "emergency", "idempotency_key": "press-1"})
    assert r.status_code == 201, r.content
    call = r.json()["call"]
    assert (call["state"], call["channel"], call["stage"]) == ("raised", "button", "chain")
    assert [e["action"] for e in call["events"]] == ["raise", "alert"]
    again = post(zhang, CALLS, {"kind": "emergency", "idempotency_key": "press-1"})
    assert (again.status_code, again.json()["call"]["id"], again.json()["created"]) == (200, call["id"], False)
    assert Call.objects.count() == 1


def test_a_call_device_retrying_the_same_press_makes_one_call(world, care, client_as):
    _token, raw = accounts.token_create(user=world.c.u_zhou, name="call boxes of 东村")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    from django.test import Client

    box = Client(**auth)
    first = post(box, CALLS, {"device_id": "box-7", "idempotency_key": "42"})
    second = post(box, CALLS, {"device_id": "box-7", "idempotency_key": "42"})
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["call"]["channel"] == "device"
    assert Call.objects.count() == 1
    unknown = post(box, CALLS, {"device_id": "box-999", "idempotency_key": "1"})
    assert (unknown.status_code, error_code(unknown)) == (404, "resident.not_found")


def test_hotline_operator_raises_for_a_resident_in_scope_only(world, care, client_as):
    c = world.c
    r = post(client_as(c.u_zhao), CALLS, {"resident_id": c.zhang.pk, "kind": "service", "channel": "hotline"})
    assert r.status_code == 201
    assert r.json()["call"]["channel"] == "hotline"
    sun = post(client_as(c.u_sun), CALLS, {"resident_id": c.zhang.pk})
    assert (sun.status_code, error_code(sun)) == (404, "resident.not_found")
    unregistered = post(client_as(c.u_zhao), CALLS, {"resident_id": c.chen.pk})
    assert unregistered.status_code == 404
    assert Call.objects.count() == 1


def test_a_resident_sees_her_calls_and_nobody_elses(world, care, client_as):
    c = world.c
    mine = post(client_as(c.u_zhang), CALLS, {}).json()["call"]["id"]
    chen = services.care_register(resident=c.chen, by=c.u_zhou)
    other = services.call_raise(profile=chen, kind="service", channel="staff", by=c.u_zhou).call.pk
    zhang = client_as(c.u_zhang)
    assert [x["id"] for x in zhang.get(CALLS).json()["items"]] == [mine]
    assert zhang.get(f"{CALLS}/{other}").status_code == 404
    assert client_as(c.u_sun).get(f"{CALLS}/{mine}").status_code == 404
    assert client_as(c.u_wang).get(CALLS).json()["count"] == 0
    assert {x["id"] for x in client_as(c.u_zhou).get(CALLS).json()["items"]} == {mine, other}


def test_the_responder_takes_the_call_and_sees_it_through(world, care, client_as):
    c = world.c
    call_id = post(client_as(c.u_zhang), CALLS, {"kind": "emergency"}).json()["call"]["id"]
    li = client_as(c.u_li)
    r = post(li, f"{CALLS}/{call_id}/acknowledge")
    assert r.status_code == 200, r.content
    assert (r.json()["state"], r.json()["responder_id"], r.json()["escalate_at"]) == ("acknowledged", c.u_li.pk, None)
    late = post(client_as(c.u_liu), f"{CALLS}/{call_id}/acknowledge")
    assert (late.status_code, error_code(late)) == (409, "sos.already_acknowledged")
    assert "李网格" in late.json()["error"]["message"]
    assert post(li, f"{CALLS}/{call_id}/depart").json()["state"] == "on_the_way"
    assert post(li, f"{CALLS}/{call_id}/arrive").json()["state"] == "arrived"
    bad = post(li, f"{CALLS}/{call_id}/resolve", {"outcome": "ok", "minutes_spent": 5000})
    assert bad.status_code == 422
    done = post(li, f"{CALLS}/{call_id}/resolve", {"outcome": "送医，已通知家属", "minutes_spent": 50})
    assert done.json()["state"] == "resolved"
    assert done.json()["followup_at"] is not None
    assert post(li, f"{CALLS}/{call_id}/follow-up", {"note": "已好转"}).status_code == 200
    assert [e["action"] for e in done.json()["events"] if e["action"] != "alert"] == [
        "raise", "acknowledge", "depart", "arrive", "resolve",
    ]  # fmt: skip


def test_steps_out_of_turn_or_by_the_wrong_person_are_refused(world, care, client_as):
    c = world.c
    call_id = post(client_as(c.u_zhang), CALLS, {}).json()["call"]["id"]
    li = client_as(c.u_li)
    r = post(li, f"{CALLS}/{call_id}/arrive")
    assert (r.status_code, error_code(r)) == (409, "sos.transition_not_allowed")
    assert post(client_as(c.u_zhang), f"{CALLS}/{call_id}/acknowledge").status_code == 403
    assert post(client_as(c.u_sun), f"{CALLS}/{call_id}/acknowledge").status_code == 404
    assert post(li, "/api/v1/sos/calls/999999/acknowledge").status_code == 404
    assert post(li, f"{CALLS}/{call_id}/resolve", {"outcome": "x" * 1001}).status_code == 422
    assert Call.objects.get(pk=call_id).state == "raised"


def test_the_feed_gives_what_happened_after_an_id_to_those_who_may_see_it(world, care, client_as):
    c = world.c
    call_id = post(client_as(c.u_zhang), CALLS, {}).json()["call"]["id"]
    li = client_as(c.u_li)
    events = li.get("/api/v1/sos/feed").json()
    assert [e["action"] for e in events] == ["raise", "alert"]
    last = events[-1]["id"]
    post(li, f"{CALLS}/{call_id}/acknowledge")
    assert [e["action"] for e in li.get(f"/api/v1/sos/feed?after={last}").json()] == ["acknowledge"]
    assert client_as(c.u_sun).get("/api/v1/sos/feed").json() == []
    assert li.get("/api/v1/sos/feed?after=-1").status_code == 422


def test_family_numbers_are_masked_unless_the_role_needs_them_and_reading_them_is_logged(world, care, client_as):
    c = world.c
    url = f"/api/v1/sos/profiles/{care.pk}"
    assert client_as(c.u_li).get(url).json()["contacts"][0]["phone"] == "13900001111"  # her grid worker
    assert PersonalDataAccess.objects.filter(user=c.u_li, resident=c.zhang, field="phone").count() == 1
    assert client_as(c.u_qian).get(url).json()["contacts"][0]["phone"] != "13900001111"  # a leader: masked


def test_staff_rearrange_the_chain(world, care, client_as):
    c = world.c
    url = f"/api/v1/sos/profiles/{care.pk}/chain"
    chain = [
        {"user_id": c.u_zhou.pk, "kind": "village_duty"},
        {"name": "邻居王婶", "phone": "13911112222", "kind": "other"},
    ]
    r = put(client_as(c.u_li), url, {"chain": chain})
    assert r.status_code == 200, r.content
    assert [(x["user_id"], x["name"]) for x in r.json()["chain"]] == [(c.u_zhou.pk, "周村干"), (None, "邻居王婶")]
    assert put(client_as(c.u_li), url, {"chain": []}).status_code == 422
    assert put(client_as(c.u_li), url, {"chain": [{"name": "无号码"}]}).status_code == 422
    assert put(client_as(c.u_li), url, {"chain": [{"user_id": 999999}]}).status_code == 422
    assert put(client_as(c.u_zhang), url, {"chain": [{"user_id": c.u_li.pk}]}).status_code == 404
    assert list(care.chain.values_list("name", flat=True)) == ["周村干", "邻居王婶"]
    assert CallEvent.objects.count() == 0


@pytest.mark.parametrize("who", ["u_sun", "u_wang", "u_zhang", 999999])
def test_a_chain_naming_someone_who_does_not_serve_her_place_is_422_and_changes_nothing(world, care, client_as, who):
    """孙网格 works in another town, 王科员 in a department, 张阿姨 is the resident: the page never offers
    them, and the API answers as for an id that does not exist (422 on the field: ids cannot be probed)."""
    c = world.c
    user_id = getattr(c, who).pk if isinstance(who, str) else who
    url = f"/api/v1/sos/profiles/{care.pk}/chain"
    before = list(care.chain.values_list("position", "user_id", "name"))
    r = put(client_as(c.u_li), url, {"chain": [{"user_id": c.u_li.pk}, {"user_id": user_id, "kind": "other"}]})
    assert (r.status_code, error_code(r)) == (422, "validation_error"), r.content
    assert list(r.json()["error"]["fields"]) == ["chain"]
    assert list(care.chain.values_list("position", "user_id", "name")) == before


def test_the_responder_sees_the_callers_address_and_whole_phone_logged_and_others_a_masked_one(world, care, client_as):
    c = world.c
    call = services.call_raise(profile=care, kind="emergency", channel="button", by=c.u_zhang).call
    url = f"{CALLS}/{call.pk}"
    PersonalDataAccess.objects.all().delete()
    # 李网格 is alerted first: he is asked to come, and may ring her on the way.
    alerted = client_as(c.u_li).get(url).json()
    assert (alerted["caller_phone"], alerted["caller_address"]) == ("13800001234", "东村A1湾组1号")
    assert alerted["caller_phone_masked"] is False
    rows = list(PersonalDataAccess.objects.values_list("user_id", "resident_id", "field", "channel", "path"))
    assert rows == [(c.u_li.pk, c.zhang.pk, "phone", "api", url)]
    taken = post(client_as(c.u_li), f"{url}/acknowledge").json()
    assert taken["caller_phone"] == "13800001234"
    assert PersonalDataAccess.objects.filter(user=c.u_li, resident=c.zhang).count() == 2
    # Staff over her village who are not the call's responder (周村干 sees phones in his village),
    # and 刘党员 of her chain once 李网格 has taken it: masked, and nothing logged.
    for who in (c.u_zhou, c.u_wu, c.u_liu):
        body = client_as(who).get(url).json()
        assert body["caller_phone"] == "138****1234" and body["caller_phone_masked"] is True, who
    assert PersonalDataAccess.objects.exclude(user=c.u_li).count() == 0
    # The list shows no numbers at all.
    assert "caller_phone" not in client_as(c.u_li).get(CALLS).json()["items"][0]
