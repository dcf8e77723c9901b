"""A month's result as people read it: ranks, month-on-month change, the red and black lists (the
workbook is excel.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from dashboards.models import Result, ResultRow
from dashboards.services import LISTED


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
    n = len(rows)
    red_floor = min((r.score for r in rows if r.rank <= LISTED), default=None)
    out = []
    for r in rows:
        p = before.get((r.node_id, r.department_id))
        # The top five and the bottom five, ties included; with ten units or fewer, only a unit clear of
        # the other list is named on one.
        listed = (
            "red"
            if r.rank <= LISTED
            else "black"
            if r.rank > max(n - LISTED, LISTED) and red_floor is not None and r.score < red_floor
            else ""
        )
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
