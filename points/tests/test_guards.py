"""Guards found in review: stale copies never overwrite stock or price, nobody awards themself, and
leaderboards stay within the part of the tree whose people one sees."""

from __future__ import annotations

import pytest

from core.errors import Conflict, PermissionDenied
from core.memo import forget_all
from org.models import Resident
from points import services
from points.models import Account, Goods
from points.tests.test_ledger import snapshot


def test_changing_goods_never_writes_back_a_stale_stock(pw):
    c = pw.c
    stale = Goods.objects.get(pk=pw.oil.pk)  # the clerk's page read stock 3
    services.award_manual(resident=c.zhang, amount=100, reason="x", by=c.u_zhou)
    services.redeem(goods=pw.oil, resident=c.zhang, quantity=1, by=c.u_zhang)  # stock 2 now
    services.goods_save(shop=pw.shop, goods=stale, by=c.u_zhou, is_active=False)
    assert Goods.objects.get(pk=pw.oil.pk).stock == 2


def test_a_price_changed_while_buying_is_refused_not_charged_at_the_old_price(pw):
    c = pw.c
    services.award_manual(resident=c.zhang, amount=100, reason="x", by=c.u_zhou)
    stale = Goods.objects.select_related("shop").get(pk=pw.soap.pk)
    services.goods_save(shop=pw.shop, goods=Goods.objects.get(pk=pw.soap.pk), by=c.u_zhou, price=30)
    before = snapshot()
    with pytest.raises(Conflict) as exc:
        services.redeem(goods=stale, resident=c.zhang, quantity=1, by=c.u_zhang)
    assert exc.value.code == "points.price_changed"
    assert snapshot() == before


def test_staff_who_live_in_their_village_cannot_award_or_approve_for_themselves(pw):
    c = pw.c
    Resident.objects.filter(pk=c.chen.pk).update(user=c.u_zhou)  # 周村干 lives in 东村 too
    forget_all()
    chen = Resident.objects.get(pk=c.chen.pk)
    zhou = type(c.u_zhou).objects.get(pk=c.u_zhou.pk)  # a fresh login: the old one holds its scope
    before = snapshot()
    for fn in (services.award_manual, services.deduct_manual):
        with pytest.raises(PermissionDenied) as exc:
            fn(resident=chen, amount=10, reason="x", by=zhou)
        assert exc.value.code == "points.own_account"
    assert snapshot() == before
    claim, _ = services.claim_submit(resident=chen, rule=pw.rule_vs, quantity=8, description="自己报", by=zhou)
    assert claim.state == "pending"  # a rule without approval is not decided at once for oneself
    with pytest.raises(PermissionDenied):
        services.claim_decide(claim=claim, approve=True, by=zhou)
    with pytest.raises(PermissionDenied):
        services.nominate(resident=chen, month=claim.submitted_at.date(), reason="我自己", by=zhou)
    assert Account.objects.filter(resident=chen, balance__gt=0).count() == 0
    services.claim_decide(claim=claim, approve=True, by=c.u_wu)  # the town approves it
    assert Account.objects.get(resident=chen).balance == 80


def test_leaderboards_stay_where_one_sees_people(pw, client_as):
    c = pw.c
    services.award_manual(resident=c.zhang, amount=30, reason="x", by=c.u_zhou)
    county = f"/api/v1/points/leaderboard?node_id={c.county.pk}&period=all"
    assert client_as(c.u_sun).get(county).status_code == 404  # another town's grid worker: ancestors only
    assert client_as(c.u_wang).get(county).status_code == 404  # department staff see no people
    assert client_as(c.u_zhang).get(county).status_code == 404  # a resident: not the whole county
    assert client_as(c.u_zhang).get(f"/api/v1/points/leaderboard?node_id={c.t1.pk}&period=all").status_code == 200
    assert [r["name"] for r in client_as(c.u_qian).get(county).json()] == ["张阿姨"]  # the leader: yes
    for month in ("0000-01", "9999-12", "2026-13"):
        assert client_as(c.u_qian).get(f"{county}&month={month}").status_code == 422
