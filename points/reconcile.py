"""Proof that the cached balances are the ledger: every account's balance equals what came in less
what went out, the lots of every resident add up to their balance, all balances add up to zero, and
every goods' stock equals the sum of its stock moves."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Sum

from points.models import Account, Entry, Goods, Lot, StockMove


@dataclass(frozen=True)
class Difference:
    account_id: int
    label: str
    cached: int
    ledger: int
    lots: int | None


def reconcile() -> tuple[int, list[Difference], int]:
    """(accounts and goods checked, differences, sum of all balances — 0 when the books balance)."""
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        # One snapshot for all the sums: a redemption committing between two of them is not a difference.
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            return _reconcile()
    return _reconcile()


def _reconcile() -> tuple[int, list[Difference], int]:
    ins = dict(Entry.objects.values_list("sink_id").annotate(s=Sum("amount")).values_list("sink_id", "s"))
    outs = dict(Entry.objects.values_list("source_id").annotate(s=Sum("amount")).values_list("source_id", "s"))
    lots = dict(Lot.objects.values_list("account_id").annotate(s=Sum("remaining")).values_list("account_id", "s"))
    diffs: list[Difference] = []
    total = 0
    n = 0
    for acc in Account.objects.select_related("resident", "shop", "node").iterator(chunk_size=2000):
        n += 1
        total += acc.balance
        ledger = (ins.get(acc.pk) or 0) - (outs.get(acc.pk) or 0)
        in_lots = (lots.get(acc.pk) or 0) if acc.kind == Account.Kind.RESIDENT else None
        if acc.balance != ledger or (in_lots is not None and in_lots != acc.balance):
            diffs.append(Difference(acc.pk, str(acc), acc.balance, ledger, in_lots))
    moves = dict(StockMove.objects.values_list("goods_id").annotate(s=Sum("delta")).values_list("goods_id", "s"))
    for g in Goods.objects.values("id", "name", "stock").iterator(chunk_size=2000):
        n += 1
        if g["stock"] != (moves.get(g["id"]) or 0):
            diffs.append(Difference(g["id"], f"goods {g['name']}", g["stock"], moves.get(g["id"]) or 0, None))
    return n, diffs, total
