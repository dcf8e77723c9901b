"""Points over the API: what a resident and staff see and do, replays, and every kind of bad input
answered with a clear error that changes nothing."""

from __future__ import annotations

import pytest

from points import services
from points.models import Account, Claim, Entry, Goods, Nomination, Redemption
from points.tests.test_ledger import snapshot

API = "/api/v1/points"


def post(client, url, body=None):
    return client.post(url, body or {}, content_type="application/json")


def err(r) -> str:
    return r.json()["error"]["code"]


def test_my_points_history_and_lots(pw, client_as):
    c = pw.c
    services.award_manual(resident=c.zhang, amount=60, reason="清理沟渠", by=c.u_zhou)
    services.redeem(goods=pw.soap, resident=c.zhang, quantity=1, by=c.u_zhou)
    me = client_as(c.u_zhang).get(f"{API}/me").json()
    assert (me["balance"], me["earned"], me["spent"]) == (40, 60, 20)
    assert me["lots"][0]["remaining"] == 40 and me["lots"][0]["expires_at"]
    items = client_as(c.u_zhang).get(f"{API}/me/entries").json()["items"]
    assert [(e["kind"], e["signed"]) for e in items] == [("redeem", -20), ("award", 60)]
    assert client_as(c.u_li).get(f"{API}/me").status_code == 404  # staff without a resident record


def test_staff_award_replay_and_errors(pw, client_as):
    c = pw.c
    zhou = client_as(c.u_zhou)
    body = {"resident_id": c.zhang.pk, "amount": 25, "reason": "义务巡逻", "idempotency_key": "a-1"}
    r = post(zhou, f"{API}/awards", body)
    assert r.status_code == 201 and r.json()["balance"] == 25 and r.json()["entry"]["signed"] == 25
    before = snapshot()
    again = post(zhou, f"{API}/awards", body)
    assert again.status_code == 200 and again.json()["entry"]["id"] == r.json()["entry"]["id"]
    assert again.json()["created"] is False
    bad = [
        ({**body, "amount": -5, "idempotency_key": "a-2"}, 422),
        ({**body, "amount": 0, "idempotency_key": "a-3"}, 422),
        ({**body, "amount": "lots", "idempotency_key": "a-4"}, 422),
        ({**body, "reason": "", "idempotency_key": "a-5"}, 422),
        ({**body, "idempotency_key": "x" * 65}, 422),
        ({**body, "extra": 1, "idempotency_key": "a-6"}, 422),
        ({**body, "resident_id": c.sun_resident.pk, "idempotency_key": "a-7"}, 404),  # another town
        ({**body, "resident_id": 999999, "idempotency_key": "a-8"}, 404),
        ({**body, "amount": 26}, 409),  # the key again, for something else
    ]
    for b, status in bad:
        resp = post(zhou, f"{API}/awards", b)
        assert resp.status_code == status, (b, resp.json())
        assert resp.json()["error"]["message"]
    assert post(client_as(c.u_zhang), f"{API}/awards", {**body, "idempotency_key": "z"}).status_code == 404
    assert post(client_as(), f"{API}/awards", body).status_code == 401
    assert client_as(c.u_zhou).post(f"{API}/awards", "{not json", content_type="application/json").status_code == 400
    assert snapshot() == before


def test_deduction_below_zero_is_409_and_reversal(pw, client_as):
    c = pw.c
    zhou = client_as(c.u_zhou)
    r = post(zhou, f"{API}/awards", {"resident_id": c.zhang.pk, "amount": 10, "reason": "打扫"})
    entry_id = r.json()["entry"]["id"]
    before = snapshot()
    d = post(zhou, f"{API}/deductions", {"resident_id": c.zhang.pk, "amount": 11, "reason": "虚报"})
    assert d.status_code == 409 and err(d) == "points.insufficient_balance"
    assert snapshot() == before
    rev = post(zhou, f"{API}/entries/{entry_id}/reverse", {"reason": "录错"})
    assert rev.status_code == 201 and rev.json()["balance"] == 0 and rev.json()["entry"]["signed"] == -10
    again = post(zhou, f"{API}/entries/{entry_id}/reverse", {"reason": "录错"})
    assert again.status_code == 409 and err(again) == "points.already_reversed"
    assert post(client_as(c.u_sun), f"{API}/entries/{entry_id}/reverse", {"reason": "x"}).status_code == 404


def test_claims_flow_through_the_api(pw, client_as):
    c = pw.c
    zhang = client_as(c.u_zhang)
    r = post(
        zhang, f"{API}/claims", {"rule": "EN01", "quantity": 2, "description": "清扫村道", "idempotency_key": "c1"}
    )
    assert r.status_code == 201 and r.json()["state"] == "pending"
    again = post(
        zhang, f"{API}/claims", {"rule": "EN01", "quantity": 2, "description": "清扫村道", "idempotency_key": "c1"}
    )
    assert again.status_code == 200 and again.json()["id"] == r.json()["id"]
    assert post(zhang, f"{API}/claims", {"rule": "NOPE", "quantity": 1, "description": "x"}).status_code == 422
    assert post(zhang, f"{API}/claims", {"rule": "EN01", "quantity": -1, "description": "x"}).status_code == 422
    claim_id = r.json()["id"]
    pending = client_as(c.u_zhou).get(f"{API}/claims?state=pending").json()["items"]
    assert [x["id"] for x in pending] == [claim_id]
    assert client_as(c.u_sun).get(f"{API}/claims").json()["items"] == []
    assert post(client_as(c.u_sun), f"{API}/claims/{claim_id}/approve").status_code == 404
    assert post(zhang, f"{API}/claims/{claim_id}/approve").status_code == 403
    rej = post(client_as(c.u_zhou), f"{API}/claims/{claim_id}/reject", {"note": ""})
    assert rej.status_code == 422
    ok = post(client_as(c.u_zhou), f"{API}/claims/{claim_id}/approve", {"note": "属实"})
    assert ok.status_code == 200 and ok.json()["points"] == 10
    assert post(client_as(c.u_zhou), f"{API}/claims/{claim_id}/approve").status_code == 409
    assert Account.objects.get(resident=c.zhang).balance == 10


def test_a_resident_sees_only_the_shops_serving_their_village(pw, client_as):
    c = pw.c
    names = {s["name"] for s in client_as(c.u_zhang).get(f"{API}/shops").json()}
    assert names == {"东村积分超市", "东镇积分超市"}
    assert client_as(c.u_zhang).get(f"{API}/shops/{pw.other_shop.pk}").status_code == 404
    detail = client_as(c.u_zhang).get(f"{API}/shops/{pw.shop.pk}").json()
    assert [g["name"] for g in detail["goods"]] == ["洗衣皂", "食用油"]
    staff = {s["name"] for s in client_as(c.u_wu).get(f"{API}/shops").json()}
    assert staff == {"东村积分超市", "东镇积分超市"}  # the town's staff run both, not 南村's


def test_reserve_collect_cancel_and_the_errors_of_the_shop(pw, client_as):
    c = pw.c
    services.award_manual(resident=c.zhang, amount=300, reason="x", by=c.u_zhou)
    zhang = client_as(c.u_zhang)
    r = post(zhang, f"{API}/redemptions", {"goods_id": pw.oil.pk, "idempotency_key": "r1"})
    assert r.status_code == 201
    body = r.json()
    assert (body["state"], body["channel"], body["points"], body["balance"]) == ("reserved", "online", 100, 200)
    assert body["pickup_by"]
    before = snapshot()
    errors = [
        ({"goods_id": pw.oil.pk, "idempotency_key": "r2"}, 409, "points.limit_reached"),  # 1 a month
        ({"goods_id": pw.soap.pk, "quantity": 0}, 422, None),
        ({"goods_id": pw.soap.pk, "quantity": 100}, 422, None),
        ({"goods_id": 99999}, 404, "points.goods_not_found"),
        ({"goods_id": pw.soap.pk, "resident_id": c.chen.pk}, 404, "resident.not_found"),  # for someone else
    ]
    other_goods = services.goods_save(shop=pw.other_shop, by=c.u_admin, name="毛巾", price=5)
    services.goods_restock(goods=other_goods, delta=5, by=c.u_admin)
    before = snapshot()
    errors.append(({"goods_id": other_goods.pk}, 404, "points.goods_not_found"))  # another village's shop
    for b, status, code in errors:
        resp = post(zhang, f"{API}/redemptions", b)
        assert resp.status_code == status, (b, resp.json())
        if code:
            assert err(resp) == code
    assert snapshot() == before
    # Staff at the counter cannot serve a resident of another village either.
    out = post(client_as(c.u_zhou), f"{API}/redemptions", {"goods_id": pw.soap.pk, "resident_id": c.huang.pk})
    assert out.status_code == 404
    # Staff of another village cannot touch this shop's goods.
    assert (
        post(
            client_as(c.u_sun), f"{API}/redemptions", {"goods_id": pw.soap.pk, "resident_id": c.sun_resident.pk}
        ).status_code
        == 404
    )
    assert snapshot() == before

    rid = body["id"]
    handed = post(client_as(c.u_zhou), f"{API}/redemptions/{rid}/collect")
    assert handed.status_code == 200 and handed.json()["state"] == "collected"
    assert post(client_as(c.u_zhou), f"{API}/redemptions/{rid}/collect").status_code == 409
    assert post(zhang, f"{API}/redemptions/{rid}/cancel").status_code == 409  # picked up: not hers to cancel
    back = post(client_as(c.u_zhou), f"{API}/redemptions/{rid}/cancel", {"note": "商品退回"})
    assert back.status_code == 200 and back.json()["state"] == "cancelled" and back.json()["balance"] == 300
    assert Goods.objects.get(pk=pw.oil.pk).stock == 3
    assert post(client_as(c.u_zhou), f"{API}/redemptions/{rid}/cancel", {"note": "again"}).status_code == 409


def test_sold_out_and_not_on_sale(pw, client_as):
    c = pw.c
    services.award_manual(resident=c.zhang, amount=2000, reason="x", by=c.u_zhou)
    zhou = client_as(c.u_zhou)
    r = post(zhou, f"{API}/redemptions", {"goods_id": pw.soap.pk, "resident_id": c.zhang.pk, "quantity": 51})
    assert r.status_code == 409 and err(r) == "points.out_of_stock"
    p = client_as(c.u_zhou).patch(f"{API}/goods/{pw.soap.pk}", {"is_active": False}, content_type="application/json")
    assert p.status_code == 200 and p.json()["is_active"] is False
    r = post(client_as(c.u_zhang), f"{API}/redemptions", {"goods_id": pw.soap.pk})
    assert r.status_code == 409 and err(r) == "points.not_on_sale"
    assert Redemption.objects.count() == 0


def test_goods_and_stock_management(pw, client_as):
    c = pw.c
    zhou = client_as(c.u_zhou)
    g = post(zhou, f"{API}/shops/{pw.shop.pk}/goods", {"name": "牙膏", "price": 15, "stock": 20, "limit_per_person": 2})
    assert g.status_code == 201 and g.json()["stock"] == 20
    gid = g.json()["id"]
    assert post(zhou, f"{API}/goods/{gid}/stock", {"delta": 5}).json()["stock"] == 25
    assert post(zhou, f"{API}/goods/{gid}/stock", {"delta": -5}).status_code == 422  # not a delivery
    assert post(zhou, f"{API}/goods/{gid}/stock", {"delta": -5, "count": True, "note": "盘点"}).json()["stock"] == 20
    r = post(zhou, f"{API}/goods/{gid}/stock", {"delta": -21, "count": True})
    assert r.status_code == 409 and err(r) == "points.out_of_stock"
    assert post(zhou, f"{API}/shops/{pw.shop.pk}/goods", {"name": "x", "price": 0}).status_code == 422
    assert post(client_as(c.u_sun), f"{API}/shops/{pw.shop.pk}/goods", {"name": "x", "price": 5}).status_code == 404
    assert post(client_as(c.u_zhang), f"{API}/shops/{pw.shop.pk}/goods", {"name": "x", "price": 5}).status_code == 404
    assert post(client_as(c.u_zhang), f"{API}/goods/{gid}/stock", {"delta": 5}).status_code == 404
    assert Goods.objects.get(pk=gid).stock == 20
    shop = post(client_as(c.u_zhou), f"{API}/shops", {"node_id": c.v3.pk, "name": "越权超市"})
    assert shop.status_code == 404


def test_leaderboard_summary_and_nominations(pw, client_as):
    c = pw.c
    services.award_manual(resident=c.zhang, amount=30, reason="x", by=c.u_zhou)
    services.award_manual(resident=c.liu, amount=50, reason="x", by=c.u_zhou)
    services.award_manual(resident=c.huang, amount=70, reason="x", by=c.u_wu)  # 西村
    board = client_as(c.u_zhou).get(f"{API}/leaderboard?node_id={c.v1.pk}&period=all").json()
    assert [(r["name"], r["points"], r["rank"]) for r in board] == [("刘党员", 50, 1), ("张阿姨", 30, 2)]
    town = client_as(c.u_wu).get(f"{API}/leaderboard?node_id={c.t1.pk}&period=month").json()
    assert [r["name"] for r in town] == ["黄婶", "刘党员", "张阿姨"]
    assert client_as(c.u_zhou).get(f"{API}/leaderboard?period=week").status_code == 422
    s = client_as(c.u_wu).get(f"{API}/reports/summary?node_id={c.t1.pk}&period=all").json()
    assert (s["award"], s["outstanding"]) == (150, 150)
    assert client_as(c.u_zhang).get(f"{API}/reports/summary?node_id={c.t1.pk}").status_code == 404

    n = post(
        client_as(c.u_liu), f"{API}/nominations", {"resident_id": c.zhang.pk, "month": "2026-11", "reason": "照顾邻居"}
    )
    assert n.status_code == 201
    dup = post(client_as(c.u_li), f"{API}/nominations", {"resident_id": c.zhang.pk, "month": "2026-11", "reason": "x"})
    assert dup.status_code == 409
    far = post(client_as(c.u_sun), f"{API}/nominations", {"resident_id": c.zhang.pk, "month": "2026-11", "reason": "x"})
    assert far.status_code == 404
    bad = post(client_as(c.u_liu), f"{API}/nominations", {"resident_id": c.zhang.pk, "month": "2026-13", "reason": "x"})
    assert bad.status_code == 422
    nid = n.json()["id"]
    assert post(client_as(c.u_li), f"{API}/nominations/{nid}/select").status_code == 404  # grid workers nominate only
    sel = post(client_as(c.u_zhou), f"{API}/nominations/{nid}/select")
    assert sel.status_code == 200 and sel.json()["state"] == "selected"
    assert post(client_as(c.u_zhou), f"{API}/nominations/{nid}/pass").status_code == 409
    assert Account.objects.get(resident=c.zhang).balance == 130  # + the good-person rule's 100
    assert Nomination.objects.get(pk=nid).entry.amount == 100


def test_openapi_lists_points_and_volunteers(client_as, db):
    paths = client_as().get("/api/v1/openapi.json").json()["paths"]
    assert "/api/v1/points/redemptions" in paths and "/api/v1/volunteers/activities" in paths


@pytest.mark.parametrize(("lang", "word"), [("en", "Not enough points."), ("zh-hans", "积分不足。")])
def test_errors_speak_the_language_asked(pw, client_as, lang, word):
    r = post(client_as(pw.c.u_zhang, lang=lang), f"{API}/redemptions", {"goods_id": pw.soap.pk})
    assert r.status_code == 409 and r.json()["error"]["message"] == word
    assert Entry.objects.filter(kind="redeem").count() == 0 and Claim.objects.count() == 0
