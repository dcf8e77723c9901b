"""What one order contributes to the tallies: a pure function of the order, its main-handler
assignments, its ratings and callbacks. The rollup worker and the full recount both call it, so the
two cannot disagree about a definition (indicators.py writes them out for the pages)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from core import workcal
from dashboards.models import COUNTERS
from org.models import path_ids
from workorders.states import OPEN_STATES, State

IDX = {name: i for i, name in enumerate(COUNTERS)}
N = len(COUNTERS)

# The order columns the function reads: one query per batch.
ORDER_COLUMNS = (
    "id", "created_at", "path", "department_id", "category_id", "channel", "kind", "excluded", "round",
    "dispatched_at", "accepted_at", "respond_overdue", "resolved_at", "overdue", "state",
)  # fmt: skip


@dataclass
class Extra:
    """The rows beside the order: main assignments (department id, returned), the latest verdict and the
    latest satisfaction level (from a rating or a callback, whichever came last)."""

    assignments: list[tuple[int | None, bool]]
    solved: bool | None = None
    satisfaction: int | None = None


def local_day(t: dt.datetime) -> dt.date:
    return timezone.localtime(t).date()


def _working_hours(a: dt.datetime, b: dt.datetime) -> float | None:
    try:
        return workcal.working_hours_between(a, b)
    except ValueError:  # a span longer than the calendar scans: left out of the average
        return None


def contribution(o: dict[str, Any], extra: Extra, top_category: int | None) -> dict[str, Any]:
    """{"day": iso, "units": {"n12": [counters], "d3": [...]}, "vol": [[dim, value], ...]}."""
    c = [0] * N
    c[IDX["total"]] = 1
    # A reopened order waits on the dispatchers (its clock runs from the reopening): late while it waits is
    # not the lateness of the unit that had it before, whose name it still carries.
    late = bool(o["overdue"]) and o["state"] != State.REOPENED
    if o["state"] in OPEN_STATES:
        c[IDX["open"]] = 1
        c[IDX["open_overdue"]] = int(late)
        c[IDX["urged"]] = int(bool(o["respond_overdue"]))
    per_department: dict[int, list[int]] = defaultdict(lambda: [0] * N)
    if o["excluded"]:
        c[IDX["excluded"]] = 1
    else:
        dispatched = o["dispatched_at"] is not None
        accepted = o["accepted_at"] is not None
        resolved = o["resolved_at"] is not None
        if dispatched and (accepted or o["respond_overdue"]):
            ok = int(accepted and not o["respond_overdue"])
            c[IDX["sign_due"]] = c[IDX["resp_due"]] = 1
            c[IDX["sign_ok"]] = c[IDX["resp_ok"]] = ok
        elif not dispatched and resolved:
            c[IDX["resp_due"]] = c[IDX["resp_ok"]] = 1  # answered directly by the dispatcher (直接答复)
        if extra.solved is not None:
            c[IDX["verdicts"]] = 1
            c[IDX["solved"]] = int(extra.solved)
        if extra.satisfaction is not None:
            c[IDX["rated"]] = 1
            c[IDX[f"sat{extra.satisfaction}"]] = 1
        reopened = o["round"] > 1
        c[IDX["reopened"]] = int(reopened)
        c[IDX["handled"]] = int(resolved or reopened)
        c[IDX["overdue"]] = int(late)
        if resolved:
            c[IDX["done"]] = 1
            c[IDX["on_time"]] = int(not o["overdue"])
            hours = _working_hours(o["dispatched_at"], o["resolved_at"]) if dispatched else None
            if hours is not None:
                c[IDX["timed"]] = 1
                c[IDX["hours_x10"]] = round(hours * 10)
        for dept, returned in extra.assignments:
            c[IDX["assigned"]] += 1
            c[IDX["returned"]] += int(returned)
            if dept is not None:
                d = per_department[dept]
                d[IDX["assigned"]] += 1
                d[IDX["returned"]] += int(returned)
    units: dict[str, list[int]] = {f"n{nid}": c for nid in path_ids(o["path"])}
    if o["department_id"] is not None:
        mine = list(c)
        # The current department's assignments are counted from its own rows, like any other's.
        mine[IDX["assigned"]] = mine[IDX["returned"]] = 0
        per_department[o["department_id"]]  # the current department always has a tally
        for i, v in enumerate(mine):
            per_department[o["department_id"]][i] += v
    for dept, d in per_department.items():
        units[f"d{dept}"] = d
    vol = [["c", o["channel"]], ["k", o["kind"]], ["g", str(top_category or o["category_id"])]]
    return {"day": local_day(o["created_at"]).isoformat(), "units": units, "vol": vol}


def extras_for(ids: Iterable[int]) -> dict[int, Extra]:
    """The assignments, ratings and callbacks of these orders, in three queries."""
    from workorders.models import Assignment, Callback, Rating

    ids = list(ids)
    out: dict[int, Extra] = {i: Extra(assignments=[]) for i in ids}
    for oid, dept, returned in (
        Assignment.objects.filter(order_id__in=ids, role=Assignment.Role.MAIN)
        .order_by("id")
        .values_list("order_id", "department_id", "returned")
    ):
        out[oid].assignments.append((dept, returned))
    # The latest word wins: a rating, or a callback or spot check that reached the resident.
    verdicts: list[tuple[dt.datetime, int, int, bool | None, int | None]] = [
        (at, 0, oid, solved, sat)
        for oid, at, solved, sat in Rating.objects.filter(order_id__in=ids).values_list(
            "order_id", "at", "solved", "satisfaction"
        )
    ]
    verdicts += [
        (at, 1, oid, solved, sat)
        for oid, at, solved, sat in Callback.objects.filter(order_id__in=ids, reached=True).values_list(
            "order_id", "at", "solved", "satisfaction"
        )
    ]
    verdicts.sort(key=lambda v: (v[0], v[1]))
    for _at, _kind, oid, solved, sat in verdicts:
        e = out[oid]
        if solved is not None:
            e.solved = solved
        if sat is not None:
            e.satisfaction = sat
    return out


def facts_for(ids: list[int]) -> dict[int, dict[str, Any] | None]:
    """Each order's contribution now (None for an order that no longer exists)."""
    from workorders.models import WorkOrder

    rows = {r["id"]: r for r in WorkOrder.objects.filter(pk__in=ids).order_by().values(*ORDER_COLUMNS)}
    extras = extras_for(rows)
    tops = top_categories()
    return {i: (contribution(rows[i], extras[i], tops.get(rows[i]["category_id"])) if i in rows else None) for i in ids}


def top_categories() -> dict[int, int]:
    """Category id → the id of its top-level category."""
    from catalog.models import Category

    parent = dict(Category.objects.values_list("id", "parent_id"))
    out = {}
    for cid in parent:
        top = cid
        while parent.get(top) is not None:
            top = parent[top]
        out[cid] = top
    return out
