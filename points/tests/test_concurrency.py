"""Real concurrent writers through the API: the last items wanted by a hundred people, fifty spends from
one account, one request replayed many times at once, one claim approved twice at once."""

from __future__ import annotations

import uuid
from collections import Counter

import pytest
from django.test import Client

from org import services as org
from points import services
from points.models import Account, Claim, Entry, Goods, Redemption, StockMove
from points.reconcile import reconcile
from workorders.tests.test_concurrency import run_threads

pytestmark = pytest.mark.django_db(transaction=True)  # serialized_rollback too: see the root conftest

BACKEND = "django.contrib.auth.backends.ModelBackend"


def clients_as(user, n: int) -> list[Client]:
    """n clients sharing one session, made before the race: threads must not touch the database before
    they all start (PostgreSQL's connection pool is smaller than the crowd)."""
    first = Client()
    first.force_login(user, backend=BACKEND)
    out = [first]
    for _ in range(n - 1):
        c = Client()
        c.cookies = first.cookies
        out.append(c)
    return out


def post(client: Client, url: str, body: dict):
    return client.post(url, body, content_type="application/json")


def test_a_hundred_people_want_the_last_ten_items_exactly_ten_get_one(pw):
    c = pw.c
    goods = services.goods_save(shop=pw.shop, by=c.u_zhou, name="大米", price=30)
    services.goods_restock(goods=goods, delta=10, by=c.u_zhou)
    household = org.household_create(grid=c.a1, address="东村A1湾组9号")
    people = []
    for i in range(100):
        r = org.resident_create(household=household, name=f"村民{i:03d}", gender="F", phone="")
        services.award_manual(resident=r, amount=50, reason="测试", by=c.u_zhou)
        people.append(r)
    clients = clients_as(c.u_zhou, 100)

    def buy(i, go):
        go()
        r = post(
            clients[i],
            "/api/v1/points/redemptions",
            {"goods_id": goods.pk, "resident_id": people[i].pk, "idempotency_key": f"k{i}"},
        )
        return r.status_code, r.json()

    results = run_threads(100, buy)
    codes = Counter(s for s, _ in results)
    assert codes == {201: 10, 409: 90}, codes
    failures = [body["error"] for s, body in results if s == 409]
    assert {f["code"] for f in failures} == {"points.out_of_stock"}
    assert all(f["message"] for f in failures)
    assert Goods.objects.get(pk=goods.pk).stock == 0
    assert Redemption.objects.filter(goods=goods).count() == 10
    assert Entry.objects.filter(kind="redeem").count() == 10
    assert sum(StockMove.objects.filter(goods=goods).values_list("delta", flat=True)) == 0
    winners = {body["resident_id"] for s, body in results if s == 201}
    for r in people:  # the ten paid 30 each; nobody else lost a point
        assert Account.objects.get(resident=r).balance == (20 if r.pk in winners else 50)
    _n, diffs, total = reconcile()
    assert (diffs, total) == ([], 0)


def test_fifty_spends_at_once_from_one_account_never_overdraw(pw):
    c = pw.c
    services.award_manual(resident=c.zhang, amount=100, reason="测试", by=c.u_zhou)
    clients = clients_as(c.u_zhang, 50)

    def spend(i, go):
        go()
        r = post(clients[i], "/api/v1/points/redemptions", {"goods_id": pw.soap.pk, "idempotency_key": f"s{i}"})
        return r.status_code, r.json()

    results = run_threads(50, spend)
    codes = Counter(s for s, _ in results)
    assert codes == {201: 5, 409: 45}, codes  # 100 points buy five soaps at 20
    assert {body["error"]["code"] for s, body in results if s == 409} == {"points.insufficient_balance"}
    assert Account.objects.get(resident=c.zhang).balance == 0
    assert Goods.objects.get(pk=pw.soap.pk).stock == 45  # the failed ones took no stock either
    _n, diffs, total = reconcile()
    assert (diffs, total) == ([], 0)


def test_one_request_replayed_ten_times_at_once_makes_one_redemption(pw):
    c = pw.c
    services.award_manual(resident=c.zhang, amount=100, reason="测试", by=c.u_zhou)
    clients = clients_as(c.u_zhou, 10)
    key = uuid.uuid4().hex

    def replay(i, go):
        go()
        r = post(
            clients[i],
            "/api/v1/points/redemptions",
            {"goods_id": pw.soap.pk, "resident_id": c.zhang.pk, "idempotency_key": key},
        )
        return r.status_code, r.json()

    results = run_threads(10, replay)
    assert sorted(s for s, _ in results) == [200] * 9 + [201], results
    assert len({body["id"] for _, body in results}) == 1
    assert Redemption.objects.count() == 1
    assert Account.objects.get(resident=c.zhang).balance == 80
    assert Goods.objects.get(pk=pw.soap.pk).stock == 49


def test_two_staff_approve_one_claim_at_once_one_award(pw):
    c = pw.c
    for _ in range(3):
        claim, _ = services.claim_submit(resident=c.zhang, rule=pw.rule_env, quantity=1, description="扫地", by=c.u_li)
        clients = [*clients_as(c.u_zhou, 1), *clients_as(c.u_wu, 1)]

        def approve(i, go, claim=claim, clients=clients):
            go()
            r = post(clients[i], f"/api/v1/points/claims/{claim.pk}/approve", {})
            return r.status_code, r.json()

        results = run_threads(2, approve)
        assert sorted(s for s, _ in results) == [200, 409], results
        assert Claim.objects.get(pk=claim.pk).state == "approved"
    assert Entry.objects.filter(kind="award", rule=pw.rule_env).count() == 3
    assert Account.objects.get(resident=c.zhang).balance == 15


def test_redemptions_and_cancellations_crossing_keep_the_books(pw):
    """Spends and refunds on the same account and goods at once: lock order goods → accounts holds."""
    c = pw.c
    services.award_manual(resident=c.zhang, amount=400, reason="测试", by=c.u_zhou)
    made = [services.redeem(goods=pw.soap, resident=c.zhang, quantity=1, by=c.u_zhang)[0] for _ in range(6)]
    staff = clients_as(c.u_zhou, 6)
    own = clients_as(c.u_zhang, 6)

    def work(i, go):
        go()
        if i % 2:
            r = post(own[i], f"/api/v1/points/redemptions/{made[i].pk}/cancel", {})
        else:
            r = post(
                staff[i],
                "/api/v1/points/redemptions",
                {"goods_id": pw.soap.pk, "resident_id": c.zhang.pk, "idempotency_key": f"x{i}"},
            )
        return r.status_code

    results = run_threads(6, work)
    assert sorted(results) == [200, 200, 200, 201, 201, 201], results
    live = Redemption.objects.exclude(state="cancelled").count()
    assert live == 6
    assert Account.objects.get(resident=c.zhang).balance == 400 - 20 * live
    assert Goods.objects.get(pk=pw.soap.pk).stock == 50 - live
    _n, diffs, total = reconcile()
    assert (diffs, total) == ([], 0)
