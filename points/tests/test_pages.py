"""Points pages as people use them: a resident's balance, claims and reservations; the staff's claims,
awards, counter, stock, leaderboard, nominations and report; refusals that change nothing; 404 for
everyone outside."""

from __future__ import annotations

import re

import pytest

from core.clock import SHANGHAI
from points import services
from points.models import Account, Claim, Entry, Goods, Lot, Nomination, Redemption

pytestmark = pytest.mark.django_db


def balance(resident) -> int:
    return Account.objects.filter(resident=resident).values_list("balance", flat=True).first() or 0


def snapshot() -> tuple:
    return (
        list(Account.objects.order_by("id").values_list("id", "balance")),
        list(Lot.objects.order_by("id").values_list("id", "remaining")),
        list(Goods.objects.order_by("id").values_list("id", "stock")),
        list(Redemption.objects.order_by("id").values_list("id", "state")),
        list(Claim.objects.order_by("id").values_list("id", "state")),
        Entry.objects.count(),
    )


def shown_balance(html: str) -> int:
    m = re.search(r"data-balance>(\d+)<", html)
    assert m, "the page shows no balance"
    return int(m.group(1))


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


# --- a resident ---------------------------------------------------------------------------------------------


def test_my_points_shows_the_balance_what_was_earned_what_expires_and_the_history(pw, client_as):
    c = pw.c
    services.award_manual(resident=c.zhang, amount=30, reason="清理沟渠", by=c.u_zhou)
    page = client_as(c.u_zhang, lang="en").get("/points/")
    html = page.content.decode()
    assert page.status_code == 200
    assert shown_balance(html) == 30
    assert re.search(r"data-earned>30<", html)
    lot = Lot.objects.get(account__resident=c.zhang)
    assert f"30 points expire on {lot.expires_at.astimezone(SHANGHAI):%Y-%m-%d}." in html
    assert "清理沟渠" in html and "+30" in html
    assert f"/points/shops/{pw.shop.pk}/" in html and f"/points/shops/{pw.town_shop.pk}/" in html
    assert f"/points/shops/{pw.other_shop.pk}/" not in html  # another town's shop does not serve her
    assert "/points/claim/" in html and "/points/redemptions/" in html


def test_the_history_is_paged_newest_first(pw, client_as):
    c = pw.c
    for i in range(25):
        services.award_manual(resident=c.zhang, amount=1, reason=f"打扫{i:02d}", by=c.u_zhou)
    zhang = client_as(c.u_zhang)
    first = zhang.get("/points/")
    html = first.content.decode()
    assert "打扫24" in html and "打扫04" not in html
    older = first.context["history"].older_url
    assert older
    html2 = zhang.get("/points/" + older).content.decode()
    assert "打扫04" in html2 and "打扫24" not in html2


def test_a_reservation_appears_the_balance_drops_and_a_double_submit_reserves_once(pw, client_as):
    c = pw.c
    services.award_manual(resident=c.zhang, amount=100, reason="打扫", by=c.u_zhou)
    zhang = client_as(c.u_zhang, lang="en")
    shop = zhang.get(f"/points/shops/{pw.shop.pk}/")
    assert shop.status_code == 200
    html = shop.content.decode()
    assert "洗衣皂" in html and "20 points" in html and "50 left" in html and "at most 1 per month per person" in html
    key = next(r["key"] for r in shop.context["rows"] if r["goods"].pk == pw.soap.pk)
    for _ in range(2):  # a double tap on a slow phone
        r = zhang.post(f"/points/shops/{pw.shop.pk}/reserve/", {"goods": pw.soap.pk, "quantity": "1", "key": key})
        assert r.status_code == 302 and r["Location"] == "/points/redemptions/"
    assert Redemption.objects.count() == 1
    assert Redemption.objects.get().state == "reserved"
    page = zhang.get("/points/redemptions/")
    html = page.content.decode()
    assert "洗衣皂 × 1" in html and "Pick it up by" in html
    assert shown_balance(html) == 80 and balance(c.zhang) == 80
    assert any("Reserved: 洗衣皂 × 1 for 20 points" in m for m in messages_of(page))
    assert Goods.objects.get(pk=pw.soap.pk).stock == 49
    assert shown_balance(zhang.get("/points/").content.decode()) == 80


def test_a_refused_reservation_shows_why_and_changes_nothing(pw, client_as):
    c = pw.c
    services.award_manual(resident=c.zhang, amount=50, reason="打扫", by=c.u_zhou)
    before = snapshot()
    zhang = client_as(c.u_zhang, lang="en")
    r = zhang.post(
        f"/points/shops/{pw.shop.pk}/reserve/", {"goods": pw.oil.pk, "quantity": "1", "key": "k1"}, follow=True
    )
    assert r.status_code == 200
    assert "Not enough points." in r.content.decode()
    assert snapshot() == before
    r = zhang.post(
        f"/points/shops/{pw.shop.pk}/reserve/", {"goods": pw.soap.pk, "quantity": "abc", "key": "k2"}, follow=True
    )
    assert "The quantity must be from 1 to 99." in r.content.decode()
    assert snapshot() == before


def test_a_resident_cancels_a_reservation_and_gets_the_points_back(pw, client_as):
    c = pw.c
    services.award_manual(resident=c.zhang, amount=100, reason="打扫", by=c.u_zhou)
    r, _ = services.redeem(goods=pw.soap, resident=c.zhang, quantity=2, by=c.u_zhang)
    zhang = client_as(c.u_zhang, lang="en")
    assert shown_balance(zhang.get("/points/redemptions/").content.decode()) == 60
    page = zhang.post(f"/points/redemptions/{r.pk}/cancel/", {"next": "/points/redemptions/"}, follow=True)
    html = page.content.decode()
    assert Redemption.objects.get().state == "cancelled"
    assert shown_balance(html) == 100 and "40 points are back" in html
    again = zhang.post(f"/points/redemptions/{r.pk}/cancel/", follow=True)
    assert "Only a reservation not yet picked up can be cancelled." in again.content.decode()
    assert balance(c.zhang) == 100


def test_a_claim_goes_to_the_village_which_approves_or_rejects_with_a_reason(pw, client_as):
    c = pw.c
    zhang = client_as(c.u_zhang, lang="en")
    form = zhang.get("/points/claim/")
    assert form.status_code == 200
    assert "EN01" in form.content.decode()
    key = form.context["key"]
    for _ in range(2):
        zhang.post("/points/claim/", {"rule": "EN01", "quantity": "2", "description": "清理村口沟渠", "key": key})
    claim = Claim.objects.get()
    assert (claim.state, claim.resident_id) == ("pending", c.zhang.pk)
    assert "清理村口沟渠" in zhang.get("/points/claim/").content.decode()

    zhou = client_as(c.u_zhou, lang="en")
    manage = zhou.get("/points/manage/")
    assert manage.status_code == 200
    html = manage.content.decode()
    assert "清理村口沟渠" in html and "张阿姨" in html
    assert manage.context["pending"][0].would == 10  # 5 points an act, two acts
    before = snapshot()
    r = zhou.post(f"/points/claims/{claim.pk}/decide/", {"decision": "reject", "note": ""}, follow=True)
    assert "Give the reason." in r.content.decode()
    assert snapshot() == before
    zhou.post(f"/points/claims/{claim.pk}/decide/", {"decision": "approve"})
    assert Claim.objects.get().state == "approved" and balance(c.zhang) == 10
    r = zhou.post(f"/points/claims/{claim.pk}/decide/", {"decision": "reject", "note": "重复"}, follow=True)
    assert "already been decided" in r.content.decode()
    assert Claim.objects.get().state == "approved"


def test_a_rule_awarded_at_once_cannot_be_claimed_by_a_resident_for_themself(pw, client_as):
    c = pw.c
    zhang = client_as(c.u_zhang, lang="en")
    html = zhang.get("/points/claim/").content.decode()
    assert "GP01" not in html and "VS01" not in html
    r = zhang.post("/points/claim/", {"rule": "GP01", "quantity": "1", "description": "我是好人", "key": "k"})
    assert r.status_code == 422 and "No such points rule." in r.content.decode()
    assert Claim.objects.count() == 0 and balance(c.zhang) == 0
    r = zhang.post("/points/claim/", {"rule": "EN01", "quantity": "0", "description": "扫地", "key": "k2"})
    assert r.status_code == 422 and "more than 0" in r.content.decode()
    assert Claim.objects.count() == 0


def test_staff_award_and_deduct_by_hand_once_per_form(pw, client_as):
    c = pw.c
    zhou = client_as(c.u_zhou, lang="en")
    found = zhou.get("/points/manage/?q=张阿姨")
    html = found.content.decode()
    assert "张阿姨" in html and "13800001234" in html  # village staff see their residents' phones
    key = found.context["key"]
    body = {"resident": c.zhang.pk, "kind": "award", "amount": "50", "reason": "义务清扫", "key": key, "q": "张阿姨"}
    for _ in range(2):
        r = zhou.post("/points/manage/adjust/", body)
        assert r.status_code == 302
    assert balance(c.zhang) == 50 and Entry.objects.filter(kind="award").count() == 1
    before = snapshot()
    r = zhou.post(
        "/points/manage/adjust/",
        {"resident": c.zhang.pk, "kind": "deduct", "amount": "80", "reason": "虚报", "key": "d1"},
        follow=True,
    )
    assert "Not enough points." in r.content.decode()
    assert snapshot() == before
    r = zhou.post(
        "/points/manage/adjust/",
        {"resident": c.zhang.pk, "kind": "deduct", "amount": "20", "reason": "", "key": "d2"},
        follow=True,
    )
    assert "Give the reason." in r.content.decode() and snapshot() == before
    zhou.post(
        "/points/manage/adjust/",
        {"resident": c.zhang.pk, "kind": "deduct", "amount": "20", "reason": "虚报", "key": "d3"},
    )
    assert balance(c.zhang) == 30
    assert "虚报" in zhou.get("/points/manage/").content.decode()


def test_the_counter_finds_residents_masks_phones_hands_over_and_keeps_stock(pw, client_as):
    c = pw.c
    services.award_manual(resident=c.zhang, amount=300, reason="打扫", by=c.u_zhou)
    reserved, _ = services.redeem(goods=pw.soap, resident=c.zhang, quantity=1, by=c.u_zhang)
    admin = client_as(c.u_admin, lang="en").get(f"/points/counter/{pw.shop.pk}/?q=1234")
    assert admin.status_code == 200
    html = admin.content.decode()
    assert "张阿姨" in html and "138****1234" in html and "13800001234" not in html  # the role needs no phone

    zhou = client_as(c.u_zhou, lang="en")
    page = zhou.get(f"/points/counter/{pw.shop.pk}/?q=张")
    html = page.content.decode()
    assert "张阿姨" in html and f'data-redemption="{reserved.pk}"' in html
    key = page.context["key"]
    for _ in range(2):
        zhou.post(
            f"/points/counter/{pw.shop.pk}/redeem/",
            {"resident": c.zhang.pk, "goods": pw.oil.pk, "quantity": "1", "key": key, "q": "张"},
        )
    handed = Redemption.objects.get(goods=pw.oil)
    assert (handed.state, handed.channel) == ("collected", "counter")
    assert balance(c.zhang) == 300 - 20 - 100
    assert Goods.objects.get(pk=pw.oil.pk).stock == 2
    before = snapshot()
    r = zhou.post(
        f"/points/counter/{pw.shop.pk}/redeem/",
        {"resident": c.zhang.pk, "goods": pw.oil.pk, "quantity": "1", "key": "again"},
        follow=True,
    )
    assert "Limit reached" in r.content.decode() and snapshot() == before

    zhou.post(f"/points/redemptions/{reserved.pk}/collect/")
    assert Redemption.objects.get(pk=reserved.pk).state == "collected"
    r = zhou.post(
        f"/points/redemptions/{handed.pk}/cancel/",
        {"reason": "", "next": f"/points/counter/{pw.shop.pk}/"},
        follow=True,
    )
    assert "Give the reason." in r.content.decode()
    assert Redemption.objects.get(pk=handed.pk).state == "collected"
    zhou.post(
        f"/points/redemptions/{handed.pk}/cancel/", {"reason": "油退回", "next": f"/points/counter/{pw.shop.pk}/"}
    )
    assert Redemption.objects.get(pk=handed.pk).state == "cancelled" and balance(c.zhang) == 280


def test_stock_is_restocked_counted_and_goods_added_at_the_counter(pw, client_as):
    zhou = client_as(pw.c.u_zhou, lang="en")
    zhou.post(f"/points/goods/{pw.soap.pk}/stock/", {"delta": "10", "note": "到货"})
    assert Goods.objects.get(pk=pw.soap.pk).stock == 60
    before = snapshot()
    r = zhou.post(f"/points/goods/{pw.soap.pk}/stock/", {"delta": "-5"}, follow=True)
    assert "positive whole number" in r.content.decode() and snapshot() == before
    r = zhou.post(f"/points/goods/{pw.oil.pk}/stock/", {"delta": "-9", "count": "1"}, follow=True)
    assert "cannot go below zero" in r.content.decode() and snapshot() == before
    zhou.post(f"/points/goods/{pw.soap.pk}/stock/", {"delta": "-5", "count": "1", "note": "盘点"})
    assert Goods.objects.get(pk=pw.soap.pk).stock == 55
    zhou.post(
        f"/points/counter/{pw.shop.pk}/goods/", {"name": "牙膏", "price": "15", "stock": "12", "limit_period": "week"}
    )
    paste = Goods.objects.get(name="牙膏")
    assert (paste.price, paste.stock, paste.limit_period) == (15, 12, "week")
    r = zhou.post(f"/points/counter/{pw.shop.pk}/goods/", {"name": "毛巾", "price": ""}, follow=True)
    assert "The price must be from 1" in r.content.decode() and not Goods.objects.filter(name="毛巾").exists()
    zhou.post(f"/points/goods/{paste.pk}/sale/")
    assert not Goods.objects.get(pk=paste.pk).is_active
    assert "牙膏" not in client_as(pw.c.u_zhang).get(f"/points/shops/{pw.shop.pk}/").content.decode()


def test_outsiders_get_404_and_residents_cannot_open_the_staff_pages(pw, client_as):
    c = pw.c
    services.award_manual(resident=c.zhang, amount=100, reason="打扫", by=c.u_zhou)
    r, _ = services.redeem(goods=pw.soap, resident=c.zhang, quantity=1, by=c.u_zhang)
    claim, _ = services.claim_submit(resident=c.zhang, rule=pw.rule_env, quantity=1, description="扫地", by=c.u_zhang)
    before = snapshot()
    zhang, sun, zhou = client_as(c.u_zhang), client_as(c.u_sun), client_as(c.u_zhou)
    for url in ("/points/manage/", f"/points/counter/{pw.shop.pk}/", "/points/report/"):
        assert zhang.get(url).status_code == 404, url
    assert zhang.get(f"/points/shops/{pw.other_shop.pk}/").status_code == 404
    assert zhang.post(f"/points/claims/{claim.pk}/decide/", {"decision": "approve"}).status_code == 404
    assert zhang.post(f"/points/redemptions/{r.pk}/collect/").status_code == 404
    assert sun.get(f"/points/shops/{pw.shop.pk}/").status_code == 404
    assert sun.get(f"/points/counter/{pw.shop.pk}/").status_code == 404
    assert sun.post(f"/points/redemptions/{r.pk}/cancel/", {"reason": "x"}).status_code == 404
    assert sun.post(f"/points/claims/{claim.pk}/decide/", {"decision": "approve"}).status_code == 404
    assert sun.post(f"/points/goods/{pw.soap.pk}/stock/", {"delta": "5"}).status_code == 404
    assert zhou.get(f"/points/counter/{pw.other_shop.pk}/").status_code == 404
    assert zhou.post(f"/points/goods/{pw.soap.pk + 999}/stock/", {"delta": "5"}).status_code == 404
    assert (
        zhou.post(
            f"/points/counter/{pw.shop.pk}/redeem/",
            {"resident": c.sun_resident.pk, "goods": pw.soap.pk, "quantity": "1", "key": "x"},
        ).status_code
        == 404
    )
    assert snapshot() == before
    assert client_as(None).get("/points/").status_code == 302  # to the login page


def test_staff_without_a_resident_record_land_on_their_page(pw, client_as):
    assert client_as(pw.c.u_zhou).get("/points/")["Location"] == "/points/manage/"
    page = client_as(pw.c.u_wang, lang="en").get("/points/")  # a department clerk runs no points
    assert page.status_code == 200 and "not linked to a resident" in page.content.decode()


def test_the_leaderboard_ranks_by_points_earned_and_staff_select_good_people(pw, client_as):
    c = pw.c
    services.award_manual(resident=c.zhang, amount=30, reason="打扫", by=c.u_zhou)
    services.award_manual(resident=c.liu, amount=50, reason="调解", by=c.u_zhou)
    services.redeem(goods=pw.soap, resident=c.liu, quantity=2, by=c.u_liu)  # spending does not lower a place
    page = client_as(c.u_zhang, lang="en").get("/points/ranking/")
    assert page.status_code == 200
    assert page.context["node"].pk == c.v1.pk  # a resident sees her village
    assert [(r["name"], r["points"]) for r in page.context["board"]] == [("刘党员", 50), ("张阿姨", 30)]
    board = page.content.decode().split("data-leaderboard", 1)[1]
    assert board.index("刘党员") < board.index("张阿姨")
    html = page.content.decode()
    assert "Nominate a good person" not in html
    assert client_as(c.u_zhang).get(f"/points/ranking/?node={c.v3.pk}").status_code == 404

    zhou = client_as(c.u_zhou, lang="en")
    month = page.context["month"]
    found = zhou.get(f"/points/ranking/?nq=陈大爷&month={month}").content.decode()
    assert "陈大爷" in found
    zhou.post("/points/nominations/", {"resident": c.chen.pk, "reason": "照顾邻居老人", "month": month})
    n = Nomination.objects.get()
    assert n.resident_id == c.chen.pk and n.state == "nominated"
    r = zhou.post("/points/nominations/", {"resident": c.chen.pk, "reason": "再次", "month": month}, follow=True)
    assert "already nominated" in r.content.decode() and Nomination.objects.count() == 1
    html = zhou.get(f"/points/ranking/?month={month}").content.decode()
    assert "照顾邻居老人" in html and f"/points/nominations/{n.pk}/select/" in html
    zhou.post(f"/points/nominations/{n.pk}/select/")
    assert Nomination.objects.get().state == "selected"
    assert balance(c.chen) == 100  # GP01: 100 points for the good person of the month
    assert client_as(c.u_sun).post(f"/points/nominations/{n.pk}/pass/").status_code == 404


def test_the_report_sums_the_ledger_for_a_place_and_period(pw, client_as):
    c = pw.c
    services.award_manual(resident=c.zhang, amount=130, reason="打扫", by=c.u_zhou)
    r, _ = services.redeem(goods=pw.soap, resident=c.zhang, quantity=2, by=c.u_zhang)
    services.redemption_cancel(redemption=r, by=c.u_zhang)
    services.redeem(goods=pw.oil, resident=c.zhang, quantity=1, by=c.u_zhang)
    services.deduct_manual(resident=c.zhang, amount=5, reason="虚报", by=c.u_zhou)
    page = client_as(c.u_zhou, lang="en").get("/points/report/?period=all")
    assert page.status_code == 200
    t = page.context["totals"]
    assert (t["award"], t["redeem"], t["refund"], t["deduct"]) == (130, 140, 40, 5)
    assert page.context["outstanding"] == 25 == balance(c.zhang)
    assert re.search(r"data-outstanding>25<", page.content.decode())
    assert client_as(c.u_qian).get(f"/points/report/?node={c.t1.pk}").status_code == 200  # a leader watches
    assert client_as(c.u_zhou).get(f"/points/report/?node={c.v3.pk}").status_code == 404
    assert client_as(c.u_li).get("/points/report/").status_code == 404


def test_the_pages_speak_chinese_by_default_and_english_on_request(pw, client_as):
    c = pw.c
    zh = client_as(c.u_zhang).get("/points/").content.decode()
    en = client_as(c.u_zhang, lang="en").get("/points/").content.decode()
    assert '<html lang="zh-hans">' in zh and '<html lang="en">' in en
    assert "My points" in en and "Claim points" in en


def test_staff_lists_take_the_same_number_of_queries_however_long_they_are(pw, client_as, steady_memo):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    c = pw.c
    services.award_manual(resident=c.zhang, amount=500, reason="打扫", by=c.u_zhou)
    services.award_manual(resident=c.liu, amount=500, reason="打扫", by=c.u_zhou)
    zhou = client_as(c.u_zhou)

    def counted(url: str) -> int:
        zhou.get(url)  # warm the per-process copies (scope, sessions)
        with CaptureQueriesContext(connection) as ctx:
            assert zhou.get(url).status_code == 200
        return len(ctx.captured_queries)

    def more(n: int) -> None:
        for who, user in ((c.zhang, c.u_zhang), (c.liu, c.u_liu)):
            for _ in range(n):
                services.claim_submit(resident=who, rule=pw.rule_env, quantity=1, description="扫地", by=user)
                services.redeem(goods=pw.soap, resident=who, quantity=1, by=user)
                services.redeem(goods=pw.soap, resident=who, quantity=1, by=c.u_zhou)

    more(1)
    few = (counted("/points/manage/"), counted(f"/points/counter/{pw.shop.pk}/"), counted("/points/ranking/"))
    more(4)
    many = (counted("/points/manage/"), counted(f"/points/counter/{pw.shop.pk}/"), counted("/points/ranking/"))
    assert few == many
