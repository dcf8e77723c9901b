"""The ledger: awards, deductions, reversals, claims by rule with caps, expiry oldest first, idempotency,
and refusals that change nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import DatabaseError, IntegrityError, transaction

from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from notify.models import Message
from points import services
from points.models import Account, Claim, Entry, Lot
from workorders.tests.helpers import Clock


def balance(resident) -> int:
    return Account.objects.filter(resident=resident).values_list("balance", flat=True).first() or 0


def snapshot() -> tuple:
    return (
        Entry.objects.count(),
        list(Account.objects.order_by("id").values_list("id", "balance")),
        list(Lot.objects.order_by("id").values_list("id", "remaining")),
        Claim.objects.count(),
    )


def test_a_manual_award_moves_points_from_the_village_and_tells_the_resident(pw):
    c = pw.c
    entry, created = services.award_manual(resident=c.zhang, amount=30, reason="清理沟渠", by=c.u_zhou)
    assert created and entry.kind == "award" and entry.amount == 30
    assert balance(c.zhang) == 30
    issue = Account.objects.get(kind="issue", node=c.v1)
    assert issue.balance == -30  # the village issued 30: all balances still add up to zero
    assert entry.source_id == issue.pk and entry.lot.remaining == 30
    assert Message.objects.filter(user=c.u_zhang, kind="points", text__contains="30").exists()


def test_the_same_idempotency_key_returns_the_first_entry_and_changes_nothing(pw):
    c = pw.c
    first, created = services.award_manual(resident=c.zhang, amount=30, reason="清理沟渠", by=c.u_zhou, key="k-1")
    before = snapshot()
    again, created_again = services.award_manual(resident=c.zhang, amount=30, reason="清理沟渠", by=c.u_zhou, key="k-1")
    assert (again.pk, created, created_again) == (first.pk, True, False)
    assert snapshot() == before
    with pytest.raises(Conflict) as exc:  # the same key for another amount is a client bug, not a replay
        services.award_manual(resident=c.zhang, amount=31, reason="清理沟渠", by=c.u_zhou, key="k-1")
    assert exc.value.code == "points.key_reused"
    assert snapshot() == before


def test_deductions_never_take_a_balance_below_zero(pw):
    c = pw.c
    services.award_manual(resident=c.zhang, amount=10, reason="打扫", by=c.u_zhou)
    before = snapshot()
    with pytest.raises(Conflict) as exc:
        services.deduct_manual(resident=c.zhang, amount=11, reason="虚报", by=c.u_zhou)
    assert exc.value.code == "points.insufficient_balance"
    assert snapshot() == before
    services.deduct_manual(resident=c.zhang, amount=10, reason="虚报", by=c.u_zhou)
    assert balance(c.zhang) == 0
    assert Account.objects.get(kind="deducted", node=c.v1).balance == 10


@pytest.mark.parametrize("amount", [0, -5, 100_001, 2.5])
def test_bad_amounts_are_refused_and_change_nothing(pw, amount):
    before = snapshot()
    with pytest.raises(ValidationFailed) as exc:
        services.award_manual(resident=pw.c.zhang, amount=amount, reason="x", by=pw.c.u_zhou)
    assert exc.value.code == "points.bad_amount"
    assert snapshot() == before


def test_only_staff_over_the_resident_award_or_deduct(pw):
    c = pw.c
    before = snapshot()
    for outsider in (c.u_sun, c.u_zhang, c.u_wang, c.u_li):  # other town; the resident; a department; grid worker
        with pytest.raises(NotFound):
            services.award_manual(resident=c.zhang, amount=5, reason="x", by=outsider)
    with pytest.raises(ValidationFailed):
        services.award_manual(resident=c.zhang, amount=5, reason="  ", by=c.u_zhou)
    assert snapshot() == before
    services.award_manual(resident=c.zhang, amount=5, reason="镇里表彰", by=c.u_wu)  # town staff: yes
    assert balance(c.zhang) == 5


def test_a_reversal_takes_back_that_award_once(pw):
    c = pw.c
    services.award_manual(resident=c.zhang, amount=20, reason="早的", by=c.u_zhou)
    wrong, _ = services.award_manual(resident=c.zhang, amount=50, reason="录错了", by=c.u_zhou)
    rev = services.entry_reverse(entry=wrong, reason="录入错误", by=c.u_zhou)
    assert rev.kind == "reverse" and rev.reverses_id == wrong.pk and rev.amount == 50
    assert balance(c.zhang) == 20
    assert Lot.objects.get(entry=wrong).remaining == 0  # it came out of its own lot, not the older one
    with pytest.raises(Conflict) as exc:
        services.entry_reverse(entry=wrong, reason="again", by=c.u_zhou)
    assert exc.value.code == "points.already_reversed"


def test_an_award_already_spent_cannot_be_reversed_below_zero(pw):
    c = pw.c
    award, _ = services.award_manual(resident=c.zhang, amount=40, reason="x", by=c.u_zhou)
    services.redeem(goods=pw.soap, resident=c.zhang, quantity=1, by=c.u_zhou)  # 20 spent
    before = snapshot()
    with pytest.raises(Conflict) as exc:
        services.entry_reverse(entry=award, reason="录错了", by=c.u_zhou)
    assert exc.value.code == "points.insufficient_balance"
    assert snapshot() == before


def test_the_database_refuses_to_edit_a_ledger_entry(pw):
    entry, _ = services.award_manual(resident=pw.c.zhang, amount=5, reason="x", by=pw.c.u_zhou)
    with pytest.raises(ValueError, match="append-only"):
        entry.save()
    with pytest.raises(ValueError, match="append-only"):
        entry.delete()
    with pytest.raises((DatabaseError, IntegrityError)), transaction.atomic():
        Entry.objects.filter(pk=entry.pk).update(amount=5000)
    assert Entry.objects.get(pk=entry.pk).amount == 5
    with pytest.raises(IntegrityError), transaction.atomic():  # and a resident's balance cannot go negative
        Account.objects.filter(resident=pw.c.zhang).update(balance=-1)


# --- claims by rule ----------------------------------------------------------------------------------------


def test_a_claim_that_needs_approval_awards_nothing_until_village_staff_approve(pw):
    c = pw.c
    claim, created = services.claim_submit(
        resident=c.zhang, rule=pw.rule_env, quantity=2, description="清扫公共区域", by=c.u_zhang
    )
    assert created and claim.state == "pending" and balance(c.zhang) == 0
    with pytest.raises(PermissionDenied):  # nobody approves their own claim, not even staff
        services.claim_decide(claim=claim, approve=True, by=c.u_zhang)
    with pytest.raises(NotFound):
        services.claim_decide(claim=claim, approve=True, by=c.u_sun)
    with pytest.raises(NotFound):  # grid workers file claims but do not approve them
        services.claim_decide(claim=claim, approve=True, by=c.u_li)
    services.claim_decide(claim=claim, approve=True, by=c.u_zhou)
    claim.refresh_from_db()
    assert (claim.state, claim.points, balance(c.zhang)) == ("approved", 10, 10)
    with pytest.raises(Conflict) as exc:
        services.claim_decide(claim=claim, approve=True, by=c.u_zhou)
    assert exc.value.code == "points.claim_decided"
    assert balance(c.zhang) == 10


def test_a_rejection_needs_a_reason_and_awards_nothing(pw):
    c = pw.c
    claim, _ = services.claim_submit(resident=c.zhang, rule=pw.rule_env, quantity=1, description="扫地", by=c.u_li)
    with pytest.raises(ValidationFailed):
        services.claim_decide(claim=claim, approve=False, by=c.u_zhou)
    services.claim_decide(claim=claim, approve=False, by=c.u_zhou, note="未核实到")
    claim.refresh_from_db()
    assert claim.state == "rejected" and claim.entry is None and balance(c.zhang) == 0
    assert Message.objects.filter(user=c.u_zhang, text__contains="未核实到").exists()


def test_caps_per_activity_and_per_month(pw):
    c = pw.c
    clock = Clock()
    clock.set("2026-03-10 10:00")
    try:
        # 10 acts × 5 = 50, capped at 20 per activity
        claim, _ = services.claim_submit(resident=c.zhang, rule=pw.rule_env, quantity=10, description="a", by=c.u_li)
        services.claim_decide(claim=claim, approve=True, by=c.u_zhou)
        assert Claim.objects.get(pk=claim.pk).points == 20
        for _i in range(5):  # 20 more each: the month's cap of 100 stops the fifth at 20 → 100 in all
            claim, _ = services.claim_submit(resident=c.zhang, rule=pw.rule_env, quantity=4, description="b", by=c.u_li)
            services.claim_decide(claim=claim, approve=True, by=c.u_zhou)
        assert balance(c.zhang) == 100
        last = Claim.objects.order_by("-id").first()
        assert last.state == "approved" and last.points == 0 and last.entry is None
        assert "上限" in last.decision_note or "cap" in last.decision_note
        clock.set("2026-04-01 09:00")  # a new month
        claim, _ = services.claim_submit(resident=c.zhang, rule=pw.rule_env, quantity=1, description="c", by=c.u_li)
        services.claim_decide(claim=claim, approve=True, by=c.u_zhou)
        assert balance(c.zhang) == 105
    finally:
        clock.reset()


def test_a_rule_without_approval_awards_at_once(pw):
    c = pw.c
    claim, _ = services.claim_submit(
        resident=c.zhang,
        rule=pw.rule_vs,
        quantity=Decimal("2.5"),
        description="义诊",
        by=c.u_zhou,
        source="participation:test",
    )
    assert claim.state == "approved" and claim.points == 25 and balance(c.zhang) == 25


@pytest.mark.parametrize("quantity", [0, -1, 25, "abc", "NaN"])
def test_bad_quantities_are_refused(pw, quantity):
    before = snapshot()
    with pytest.raises(ValidationFailed):
        services.claim_submit(resident=pw.c.zhang, rule=pw.rule_vs, quantity=quantity, description="x", by=pw.c.u_zhou)
    assert snapshot() == before


def test_residents_claim_only_for_themselves(pw):
    c = pw.c
    with pytest.raises(NotFound):
        services.claim_submit(resident=c.chen, rule=pw.rule_env, quantity=1, description="x", by=c.u_zhang)
    with pytest.raises(NotFound):  # a grid worker of another town
        services.claim_submit(resident=c.zhang, rule=pw.rule_env, quantity=1, description="x", by=c.u_sun)


# --- expiry ------------------------------------------------------------------------------------------------


def test_expiry_takes_the_oldest_lots_first_and_records_entries(pw, settings):
    settings.GONGZHI = {**settings.GONGZHI, "POINTS": {**settings.GONGZHI["POINTS"], "EXPIRE_MONTHS": 12}}
    c = pw.c
    clock = Clock()
    try:
        clock.set("2025-01-10 10:00")
        a, _ = services.award_manual(resident=c.zhang, amount=100, reason="一月", by=c.u_zhou)
        clock.set("2025-06-10 10:00")
        b, _ = services.award_manual(resident=c.zhang, amount=50, reason="六月", by=c.u_zhou)
        clock.set("2025-12-10 10:00")
        d, _ = services.award_manual(resident=c.zhang, amount=30, reason="十二月", by=c.u_zhou)
        # Spending takes the oldest first: all of January's 100 and 20 of June's.
        clock.set("2025-12-20 10:00")
        services.redeem(goods=pw.soap, resident=c.zhang, quantity=6, by=c.u_zhou)
        assert [Lot.objects.get(entry=e).remaining for e in (a, b, d)] == [0, 30, 30]
        assert Lot.objects.get(entry=a).expires_at == dt.datetime(2026, 1, 10, tzinfo=services.SHANGHAI)

        clock.set("2026-01-11 00:00")  # January's lot is due but empty: nothing to expire
        assert services.expire_one() is False
        clock.set("2026-06-10 00:00")  # June's: its remaining 30 expire, December's stay
        assert services.expire_one() is True
        assert services.expire_one() is False
        assert [Lot.objects.get(entry=e).remaining for e in (a, b, d)] == [0, 0, 30]
        exp = Entry.objects.get(kind="expire")
        assert exp.amount == 30 and exp.resident_id == c.zhang.pk
        assert exp.lot_uses.get().lot.entry_id == b.pk
        assert balance(c.zhang) == 30
        assert Account.objects.get(kind="expired", node=c.v1).balance == 30
        clock.set("2026-12-10 00:00")
        while services.handle_one():  # the worker's step (run_points loops over it)
            pass
        assert balance(c.zhang) == 0 and Entry.objects.filter(kind="expire").count() == 2
    finally:
        clock.reset()


def test_reconcile_command_reports_zero_differences(pw, capsys):
    c = pw.c
    services.award_manual(resident=c.zhang, amount=100, reason="x", by=c.u_zhou)
    r, _ = services.redeem(goods=pw.soap, resident=c.zhang, quantity=2, by=c.u_zhang)
    services.redemption_cancel(redemption=r, by=c.u_zhang)
    services.deduct_manual(resident=c.zhang, amount=10, reason="y", by=c.u_zhou)
    call_command("points_reconcile")
    out = capsys.readouterr().out
    assert "differences 0, sum of balances 0" in out
    Account.objects.filter(resident=c.zhang).update(balance=91)  # a cache gone wrong is found
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("points_reconcile")
    assert "cached 91, ledger 90" in capsys.readouterr().out
    Account.objects.filter(resident=c.zhang).update(balance=90)


def test_a_residents_own_claim_always_waits_for_staff_even_under_a_rule_without_approval(pw):
    c = pw.c
    claim, _ = services.claim_submit(
        resident=c.zhang, rule=pw.rule_vs, quantity=8, description="我自己报的", by=c.u_zhang
    )
    assert claim.state == "pending" and balance(c.zhang) == 0
    by_grid, _ = services.claim_submit(
        resident=c.zhang, rule=pw.rule_vs, quantity=1, description="网格员代报", by=c.u_li
    )
    assert by_grid.state == "pending"
    by_staff, _ = services.claim_submit(
        resident=c.zhang, rule=pw.rule_vs, quantity=1, description="村里登记", by=c.u_zhou
    )
    assert by_staff.state == "approved" and balance(c.zhang) == 10


def test_a_lapsed_reservation_is_cancelled_by_the_worker_with_points_and_stock_back(pw):
    c = pw.c
    services.award_manual(resident=c.zhang, amount=100, reason="x", by=c.u_zhou)
    clock = Clock()
    try:
        clock.set("2026-11-02 10:00")
        r, _ = services.redeem(goods=pw.oil, resident=c.zhang, quantity=1, by=c.u_zhang)
        assert r.state == "reserved" and balance(c.zhang) == 0
        clock.set("2026-11-08 10:00")
        assert services.pickup_lapse_one() is False  # within the seven days
        clock.set("2026-11-09 10:01")
        assert services.handle_one() is True
        r.refresh_from_db()
        assert r.state == "cancelled" and r.cancelled_by is None and balance(c.zhang) == 100
        pw.oil.refresh_from_db()
        assert pw.oil.stock == 3
    finally:
        clock.reset()


def test_a_household_that_moves_is_looked_after_by_its_new_village(pw):
    """The account, open claims and reservations follow the household; what is settled stays put."""
    from org import services as org

    c = pw.c
    services.award_manual(resident=c.liu, amount=100, reason="x", by=c.u_zhou)
    claim, _ = services.claim_submit(resident=c.liu, rule=pw.rule_env, quantity=1, description="扫地", by=c.u_liu)
    org.household_move(household=c.h_liu, grid=c.c1)  # to 南村, another town
    c.liu.refresh_from_db()
    assert Account.objects.get(resident=c.liu).path == c.c1.path
    assert Claim.objects.get(pk=claim.pk).path == c.c1.path
    with pytest.raises(NotFound):  # 东村's staff no longer decide for them
        services.claim_decide(claim=Claim.objects.get(pk=claim.pk), approve=True, by=c.u_zhou)
    assert Entry.objects.get(kind="award", resident=c.liu).path == c.a1.path  # history stays where it was
