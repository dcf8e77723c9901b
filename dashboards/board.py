"""The command-centre board and the breakdowns behind the dashboards, all from the tallies (and, for a
grid's breakdown or today's live figures, from a bounded slice of the orders)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from django.db.models import Count, Sum
from django.utils import timezone

from core.clock import EARLIEST, SHANGHAI, now, today
from dashboards import indicators
from dashboards.models import Volume
from org.models import Level, Node, path_range
from workorders.models import Channel, Kind, WorkOrder

HOT = 8
WORST = 5


def _midnight(d: dt.date) -> dt.datetime:
    return dt.datetime.combine(d, dt.time(), tzinfo=SHANGHAI)


def live(node: Node) -> dict[str, Any]:
    """Open, overdue and urged orders now (all of time, from the tallies); today's intake; open one-key
    calls; open red-flag disputes."""
    from mediation.selectors import red_flags
    from sos.models import Call
    from sos.states import OPEN_STATES as SOS_OPEN

    all_time = indicators.for_unit(node_id=node.pk, start=EARLIEST, end=today())
    t = today()
    return {
        "today": WorkOrder.objects.filter(path_range(node.path), created_at__gte=_midnight(t)).count(),
        "open": all_time.counters["open"],
        "open_overdue": all_time.counters["open_overdue"],
        "urged": all_time.counters["urged"],
        "sos_open": Call.objects.filter(path_range(node.path), state__in=SOS_OPEN).count(),
        # Open disputes at risk of violence or of a crime (民转刑): counted, no party named.
        "disputes_red": red_flags((node.path,)).count(),
        "at": now(),
    }


def grid_map(node: Node, start: dt.date, end: dt.date) -> list[dict[str, Any]]:
    """Every grid under the node with its centre and its orders in the range (and open now)."""
    grids = list(
        Node.objects.filter(path_range(node.path), level=Level.GRID).values("id", "name", "path", "lat", "lng")
    )
    counts = indicators.for_units(level=Level.GRID, start=start, end=end, paths=(node.path,))
    return [
        {
            "id": g["id"],
            "name": g["name"],
            "lat": float(g["lat"]) if g["lat"] is not None else None,
            "lng": float(g["lng"]) if g["lng"] is not None else None,
            "total": counts[g["id"]].counters["total"] if g["id"] in counts else 0,
            "open": counts[g["id"]].counters["open"] if g["id"] in counts else 0,
        }
        for g in grids
    ]


def _labels(dim: str) -> dict[str, str]:
    from catalog.models import Category

    if dim == "c":
        return {c.value: str(c.label) for c in Channel}
    if dim == "k":
        return {k.value: str(k.label) for k in Kind}
    return {str(pk): name for pk, name in Category.objects.filter(parent__isnull=True).values_list("pk", "name")}


def volume(
    *, node: Node | None = None, department_id: int | None = None, start: dt.date, end: dt.date
) -> dict[str, list[dict[str, Any]]]:
    """Orders by channel (c), type (k) and top category (g), largest first."""
    out: dict[str, list[dict[str, Any]]] = {}
    if node is not None and node.level == Level.GRID:
        # A grid's few orders are counted from the orders themselves.
        from dashboards.facts import top_categories

        tops = top_categories()
        qs = WorkOrder.objects.filter(
            path_range(node.path),
            created_at__gte=_midnight(start),
            created_at__lt=_midnight(end + dt.timedelta(days=1)),
        )
        counts: dict[str, Counter] = {"c": Counter(), "k": Counter(), "g": Counter()}
        for ch, kind, cat, n in qs.values_list("channel", "kind", "category_id").annotate(n=Count("id")).order_by():
            counts["c"][ch] += n
            counts["k"][kind] += n
            counts["g"][str(tops.get(cat, cat))] += n
    else:
        vq = Volume.objects.filter(start__gte=start, start__lte=end)
        if node is not None:
            vq = vq.filter(node=node)
        else:
            assert department_id is not None  # a node or a department
            vq = vq.filter(department_id=department_id, node__isnull=True)
        counts = {"c": Counter(), "k": Counter(), "g": Counter()}
        for dim, value, n in vq.values_list("dim", "value").annotate(n=Sum("n")).order_by():
            counts[dim][value] += n
    for dim, counter in counts.items():
        labels = _labels(dim)
        out[dim] = [{"value": v, "label": labels.get(v, v), "count": n} for v, n in counter.most_common() if n]
    return out


def hot_categories(node: Node) -> list[dict[str, Any]]:
    """Top categories of the last 7 days against the 7 before: rising first."""
    t = today()
    this = volume(node=node, start=t - dt.timedelta(days=6), end=t)["g"]
    before = {
        r["value"]: r["count"]
        for r in volume(node=node, start=t - dt.timedelta(days=13), end=t - dt.timedelta(days=7))["g"]
    }
    rows = [{**r, "before": before.get(r["value"], 0), "change": r["count"] - before.get(r["value"], 0)} for r in this]
    rows.sort(key=lambda r: (-r["change"], -r["count"]))
    return rows[:HOT]


def most_overdue(node: Node) -> dict[str, list[dict[str, Any]]]:
    """The units with the most open overdue orders: departments serving the node, and the level below."""
    from org.models import Department

    start, end = EARLIEST, today()
    depts = {d.pk: d.name for d in Department.objects.filter(jurisdiction__path__startswith=node.path)}
    dnums = indicators.for_units(departments=True, start=start, end=end, department_ids=set(depts))
    below = {n.pk: n.name for n in Node.objects.filter(parent=node)}
    level = Node.objects.filter(parent=node).values_list("level", flat=True).first()
    nnums = indicators.for_units(level=level, start=start, end=end, paths=(node.path,)) if level else {}

    def top(nums: dict[int, indicators.Numbers], names: dict[int, str]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = [
            {"id": k, "name": names[k], "open_overdue": n.counters["open_overdue"], "open": n.counters["open"]}
            for k, n in nums.items()
            if k in names and n.counters["open_overdue"]
        ]
        rows.sort(key=lambda r: (-r["open_overdue"], r["name"]))
        return rows[:WORST]

    return {"departments": top(dnums, depts), "nodes": top(nnums, below)}


def local_now() -> dt.datetime:
    return timezone.localtime(now())
