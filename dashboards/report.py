"""A month's result as people read it: ranks, month-on-month change, the red and black lists (the
workbook is excel.py).

The top list (红榜) and the bottom list (黑榜) scale with the group ranked: each names `LIST_SHARE` (10 %)
of the units, rounded half up, at least one — one of each among 10 villages, 10 of each among 100. A tie
at a list's edge comes in whole (the lists never split equal scores), and a list always names fewer than
half of the group: a tie that would take it to half or more stays off, for a list naming most of the
group singles nobody out (everyone equal: no lists; a group of one or two: none). So no unit is ever on
both lists, and never is everyone on one."""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from dashboards.models import Result, ResultRow

LIST_SHARE = Decimal("0.10")  # the share of a group each list names (see the module's docstring)


def list_size(n: int) -> int:
    """How many units each list names in a group of `n`, before ties: LIST_SHARE of it, at least one."""
    return max(1, int((n * LIST_SHARE).quantize(Decimal(1), rounding=ROUND_HALF_UP)))


def lists(scores: Sequence[Decimal]) -> list[str]:
    """ "red", "black" or "" for each score, in the order given (see the module's docstring)."""
    n = len(scores)
    size = list_size(n)
    ordered = sorted(scores)
    out = []
    for s in scores:
        below = bisect.bisect_left(ordered, s)  # units scoring less
        above = n - bisect.bisect_right(ordered, s)  # units scoring more
        if above < size and 2 * (n - below) < n:
            out.append("red")
        elif below < size and 2 * (n - above) < n:
            out.append("black")
        else:
            out.append("")
    return out


def _previous(result: Result) -> dict[tuple[int | None, int | None], ResultRow]:
    m = result.month
    prev_month = (m.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    prev = Result.objects.filter(node=result.node_id, month=prev_month, group=result.group).first()
    if prev is None:
        return {}
    return {(r.node_id, r.department_id): r for r in prev.rows.all()}


def result_rows(result: Result) -> list[dict[str, Any]]:
    rows = list(result.rows.all())
    before = _previous(result)
    marks = lists([r.score for r in rows])
    out = []
    for r, listed in zip(rows, marks, strict=True):
        p = before.get((r.node_id, r.department_id))
        out.append(
            {
                "rank": r.rank,
                "name": r.name,
                "node_id": r.node_id,
                "department_id": r.department_id,
                "orders": r.orders,
                "rates": r.rates,
                "base": r.base,
                "special": r.special,
                "score": r.score,
                "previous_rank": p.rank if p else None,
                "change": (r.score - p.score) if p else None,
                "listed": listed,
            }
        )
    return out


def pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.1f}%"


def signed(x: Decimal | None) -> str:
    return "—" if x is None else f"{x:+.2f}"
