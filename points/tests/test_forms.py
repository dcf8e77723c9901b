"""Every form of the points pages refuses a NUL byte and an over-long field with the form's message and
changes nothing (compared row by row), on SQLite and PostgreSQL alike; and the buttons of a redemption,
a claim and a nomination are exactly the moves the services would accept from the user who sees them."""

from __future__ import annotations

import pytest

from core.clock import SHANGHAI, now
from core.memo import forget_all
from gongzhi.test import accepted, assert_refuses_bad_input, db_fingerprint
from org.models import Resident
from points import forms, selectors, services
from points.models import Claim, Nomination, Redemption
from points.states import CLAIM, NOMINATION, REDEMPTION

pytestmark = pytest.mark.django_db


def test_every_points_form_refuses_nul_and_over_long_fields(pw, client_as):
    c = pw.c
    zhang, zhou = client_as(c.u_zhang), client_as(c.u_zhou)
    services.award_manual(resident=c.zhang, amount=200, reason="打扫", by=c.u_zhou)
    reserved, _ = services.redeem(goods=pw.soap, resident=c.zhang, quantity=1, by=c.u_zhang)
    handed, _ = services.redeem(goods=pw.soap, resident=c.zhang, quantity=1, by=c.u_zhou)
    claim, _ = services.claim_submit(resident=c.zhang, rule=pw.rule_env, quantity=1, description="扫地", by=c.u_zhang)
    month = now().astimezone(SHANGHAI).strftime("%Y-%m")
    counter = f"/points/counter/{pw.shop.pk}/"
    posts = 0
    posts += assert_refuses_bad_input(
        zhang, "/points/claim/", {"rule": "EN01", "quantity": "2", "description": "清理沟渠", "key": "c1"},
        forms.ClaimForm,
    )  # fmt: skip
    posts += assert_refuses_bad_input(
        zhang, f"/points/shops/{pw.shop.pk}/reserve/", {"goods": pw.soap.pk, "quantity": "1", "key": "r1"},
        forms.ReserveForm,
    )  # fmt: skip
    posts += assert_refuses_bad_input(
        zhang, f"/points/redemptions/{reserved.pk}/cancel/", {"next": "/points/redemptions/"}, forms.CancelForm
    )
    posts += assert_refuses_bad_input(
        zhou, f"/points/redemptions/{handed.pk}/cancel/", {"reason": "退回", "next": counter}, forms.CancelForm
    )
    posts += assert_refuses_bad_input(
        zhou, f"/points/claims/{claim.pk}/decide/", {"decision": "reject", "note": "重复"}, forms.DecideForm
    )
    posts += assert_refuses_bad_input(
        zhou, "/points/manage/adjust/",
        {"resident": c.zhang.pk, "kind": "award", "amount": "5", "reason": "清扫", "key": "a1", "q": "张"},
        forms.AdjustForm,
    )  # fmt: skip
    posts += assert_refuses_bad_input(
        zhou, f"/points/counter/{pw.shop.pk}/redeem/",
        {"resident": c.zhang.pk, "goods": pw.soap.pk, "quantity": "1", "key": "h1", "q": "张"},
        forms.CounterRedeemForm,
    )  # fmt: skip
    posts += assert_refuses_bad_input(
        zhou, f"/points/counter/{pw.shop.pk}/goods/",
        {"name": "牙膏", "description": "中华", "price": "15", "stock": "3", "limit_per_person": "2",
         "limit_period": "week"},
        forms.GoodsAddForm,
    )  # fmt: skip
    posts += assert_refuses_bad_input(
        zhou, f"/points/goods/{pw.soap.pk}/stock/", {"delta": "5", "note": "到货"}, forms.GoodsStockForm
    )
    posts += assert_refuses_bad_input(
        zhou, "/points/nominations/", {"resident": c.chen.pk, "reason": "照顾邻居老人", "month": month},
        forms.NominateForm,
    )  # fmt: skip
    assert posts >= 60  # every text field of every form, twice (a key field once: it has no length)


def test_the_forms_without_fields_still_refuse_a_nul_byte_smuggled_in(pw, client_as):
    c = pw.c
    services.award_manual(resident=c.zhang, amount=100, reason="打扫", by=c.u_zhou)
    reserved, _ = services.redeem(goods=pw.soap, resident=c.zhang, quantity=1, by=c.u_zhang)
    n = services.nominate(resident=c.chen, month=now().date(), reason="照顾邻居老人", by=c.u_zhou)
    zhou = client_as(c.u_zhou)
    for url in (
        f"/points/redemptions/{reserved.pk}/collect/",
        f"/points/goods/{pw.soap.pk}/sale/",
        f"/points/nominations/{n.pk}/select/",
    ):
        before = db_fingerprint()
        r = zhou.post(url, {"smuggled": "x\x00"}, follow=True)
        assert r.status_code == 200 and [str(m) for m in r.context["messages"]], url
        assert db_fingerprint() == before, url
    assert Redemption.objects.get(pk=reserved.pk).state == "reserved"
    assert Nomination.objects.get(pk=n.pk).state == "nominated"


def test_an_unknown_decision_is_refused_not_taken_for_a_rejection(pw, client_as):
    c = pw.c
    claim, _ = services.claim_submit(resident=c.zhang, rule=pw.rule_env, quantity=1, description="扫地", by=c.u_zhang)
    r = client_as(c.u_zhou, lang="en").post(
        f"/points/claims/{claim.pk}/decide/", {"decision": "maybe", "note": "x"}, follow=True
    )
    assert "Choose one of the options offered." in r.content.decode()
    assert Claim.objects.get().state == "pending"


# --- the buttons follow the allowed actions ---------------------------------------------------------------------


def test_a_resident_may_cancel_her_reservation_and_the_shop_staff_hand_it_over(pw, client_as):
    c = pw.c
    services.award_manual(resident=c.zhang, amount=200, reason="打扫", by=c.u_zhou)
    reserved, _ = services.redeem(goods=pw.soap, resident=c.zhang, quantity=1, by=c.u_zhang)
    handed, _ = services.redeem(goods=pw.soap, resident=c.zhang, quantity=1, by=c.u_zhou)
    gone, _ = services.redeem(goods=pw.soap, resident=c.zhang, quantity=1, by=c.u_zhang)
    services.redemption_cancel(redemption=gone, by=c.u_zhang)

    mine = client_as(c.u_zhang).get("/points/redemptions/")
    assert {r.pk: r.actions for r in mine.context["page"].rows} == {reserved.pk: ["cancel"], handed.pk: [], gone.pk: []}
    html = mine.content.decode()
    assert f"/points/redemptions/{reserved.pk}/cancel/" in html
    assert f"/points/redemptions/{handed.pk}/cancel/" not in html  # handed over: only the shop takes it back
    assert "/collect/" not in html

    counter = client_as(c.u_zhou).get(f"/points/counter/{pw.shop.pk}/")
    actions = {r.pk: r.actions for r in [*counter.context["reserved"], *counter.context["recent"]]}
    assert actions == {reserved.pk: ["collect", "cancel"], handed.pk: ["cancel"], gone.pk: []}
    html = counter.content.decode()
    assert f"/points/redemptions/{reserved.pk}/collect/" in html
    assert f"/points/redemptions/{handed.pk}/cancel/" in html
    assert f"/points/redemptions/{gone.pk}/cancel/" not in html


def test_staff_see_the_decisions_of_claims_and_nominations_but_not_of_their_own(pw, client_as):
    c = pw.c
    Resident.objects.filter(pk=c.chen.pk).update(user=c.u_zhou)  # 周村干 lives in 东村 too
    forget_all()
    chen = Resident.objects.get(pk=c.chen.pk)
    zhou_user = type(c.u_zhou).objects.get(pk=c.u_zhou.pk)
    theirs, _ = services.claim_submit(resident=c.zhang, rule=pw.rule_env, quantity=1, description="扫地", by=c.u_zhang)
    own, _ = services.claim_submit(resident=chen, rule=pw.rule_env, quantity=1, description="自己报", by=zhou_user)
    zhou = client_as(zhou_user)
    page = zhou.get("/points/manage/")
    assert {cl.pk: cl.actions for cl in page.context["pending"]} == {theirs.pk: ["approve", "reject"], own.pk: []}
    html = page.content.decode()
    assert f"/points/claims/{theirs.pk}/decide/" in html and f"/points/claims/{own.pk}/decide/" not in html

    month = now().astimezone(SHANGHAI).date()
    n_zhang = services.nominate(resident=c.zhang, month=month, reason="照顾邻居", by=c.u_liu)
    n_chen = services.nominate(resident=chen, month=month, reason="热心", by=c.u_liu)
    board = zhou.get(f"/points/ranking/?month={month:%Y-%m}")
    assert {n.pk: n.actions for n in board.context["nominations"]} == {
        n_zhang.pk: ["select", "pass_over"],
        n_chen.pk: [],
    }
    html = board.content.decode()
    assert f"/points/nominations/{n_zhang.pk}/select/" in html and f"/points/nominations/{n_zhang.pk}/pass/" in html
    assert f"/points/nominations/{n_chen.pk}/" not in html
    resident = client_as(c.u_zhang).get(f"/points/ranking/?month={month:%Y-%m}")
    assert all(n.actions == [] for n in resident.context["nominations"])
    assert "/select/" not in resident.content.decode()


# --- a button is shown exactly when the service would accept it --------------------------------------------------


def _redemption(pk: int) -> Redemption:
    return Redemption.objects.select_related("shop", "goods", "resident", "entry").get(pk=pk)


def _claim(pk: int) -> Claim:
    return Claim.objects.select_related("resident", "rule").get(pk=pk)


def _nomination(pk: int) -> Nomination:
    return Nomination.objects.select_related("resident").get(pk=pk)


def _moves(user, kind: str, pk: int) -> dict:
    """Each move of a table as the pages make it (a cancellation with a reason, as the counter sends it)."""
    if kind == "redemption":
        return {
            "collect": lambda: services.redemption_collect(redemption=_redemption(pk), by=user),
            "cancel": lambda: services.redemption_cancel(redemption=_redemption(pk), by=user, reason="退回"),
        }
    if kind == "claim":
        return {
            "approve": lambda: services.claim_decide(claim=_claim(pk), approve=True, by=user),
            "reject": lambda: services.claim_decide(claim=_claim(pk), approve=False, by=user, note="重复"),
        }
    return {
        "select": lambda: services.nomination_decide(nomination=_nomination(pk), select=True, by=user),
        "pass_over": lambda: services.nomination_decide(nomination=_nomination(pk), select=False, by=user),
    }


def test_the_allowed_actions_are_the_moves_the_services_accept(pw):
    c = pw.c
    services.award_manual(resident=c.zhang, amount=300, reason="打扫", by=c.u_zhou)
    reserved, _ = services.redeem(goods=pw.soap, resident=c.zhang, quantity=1, by=c.u_zhang)
    handed, _ = services.redeem(goods=pw.soap, resident=c.zhang, quantity=1, by=c.u_zhou)
    gone, _ = services.redeem(goods=pw.soap, resident=c.zhang, quantity=1, by=c.u_zhang)
    services.redemption_cancel(redemption=gone, by=c.u_zhang)
    pending, _ = services.claim_submit(resident=c.zhang, rule=pw.rule_env, quantity=1, description="扫地", by=c.u_zhang)
    decided, _ = services.claim_submit(resident=c.liu, rule=pw.rule_env, quantity=1, description="扫地", by=c.u_liu)
    services.claim_decide(claim=decided, approve=True, by=c.u_zhou)
    nominated = services.nominate(resident=c.zhang, month=now().date(), reason="照顾邻居", by=c.u_liu)
    rows = [
        *(
            ("redemption", pk, REDEMPTION, selectors.redemption_actions, _redemption)
            for pk in (reserved.pk, handed.pk, gone.pk)
        ),
        *(("claim", pk, CLAIM, selectors.claim_actions, _claim) for pk in (pending.pk, decided.pk)),
        ("nomination", nominated.pk, NOMINATION, selectors.nomination_actions, _nomination),
    ]
    # zhang the resident, liu a neighbour, zhou the village's staff, wu the town's, li a grid worker, sun outside
    people = [c.u_zhang, c.u_liu, c.u_zhou, c.u_wu, c.u_li, c.u_sun]
    checked = allowed = 0
    for user in people:
        for kind, pk, machine, actions_of, fresh in rows:
            shown = actions_of(user, fresh(pk))
            moves = _moves(user, kind, pk)
            assert set(moves) == set(machine.actions)
            for action, move in moves.items():
                assert accepted(move) == (action in shown), (user.username, kind, pk, action, shown)
                checked, allowed = checked + 1, allowed + (action in shown)
    assert checked == len(people) * (3 * 2 + 2 * 2 + 2)
    assert 10 <= allowed < checked  # both answers were asked for: some moves shown, others not
