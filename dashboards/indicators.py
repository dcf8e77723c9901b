"""The indicators: their written definitions (shown on every page) and how they are read from the
tallies for any unit and any range of days.

Every indicator counts the orders *submitted* in the range: an order submitted on 31 October and
resolved on 3 November counts in October, and its resolution changes October's figures. Orders ruled
unreasonable (甄别) count in the volumes only."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet, Sum
from django.utils.translation import gettext_lazy as _

from dashboards.models import COUNTERS, Period, Tally


@dataclass(frozen=True)
class Indicator:
    key: str
    label: Any
    definition: Any
    kind: str = "rate"  # rate (0..1), count, hours


INDICATORS = (
    Indicator(
        "response",
        _("Response rate"),
        _(
            "Orders signed for by the handling unit within the sign-for limit, or answered directly by the "
            "dispatcher, out of the orders that had to be responded to (signed for, or past the limit)."
        ),
    ),
    Indicator(
        "resolution",
        _("Resolution rate"),
        _(
            "Orders the resident (rating) or a callback says are solved, out of the orders with such a "
            "verdict. The latest word counts: a callback after a rating replaces it."
        ),
    ),
    Indicator(
        "satisfaction",
        _("Satisfaction rate"),
        _(
            "Very satisfied plus satisfied — plus 'basically satisfied' at the scheme's weight — out of the "
            "orders given a satisfaction level (rating or callback)."
        ),
    ),
    Indicator(
        "on_time",
        _("On-time completion rate"),
        _("Orders resolved within their time limit (extensions included), out of the orders resolved."),
    ),
    Indicator(
        "sign",
        _("Timely sign-for rate"),
        _("Dispatched orders signed for within the sign-for limit, out of those signed for or past the limit."),
    ),
    Indicator(
        "return",
        _("Return rate"),
        _("Dispatches returned by the unit (退单), out of all dispatches to it."),
    ),
    Indicator(
        "reopen",
        _("Reopen rate"),
        _("Orders reopened (重办) after a bad rating or callback, out of the orders handled at least once."),
    ),
    Indicator("overdue", _("Overdue"), _("Orders past their time limit, open or resolved late."), "count"),
    Indicator(
        "hours",
        _("Average handling time"),
        _("Working hours from dispatch to resolution, averaged over the resolved orders (holidays excluded)."),
        "hours",
    ),
    Indicator("total", _("Orders"), _("Orders submitted in the period, through every channel."), "count"),
    Indicator(
        "excluded",
        _("Excluded"),
        _("Orders ruled unreasonable or whose appeal was approved (甄别): counted in the volumes, not in the rates."),
        "count",
    ),
)
BY_KEY = {i.key: i for i in INDICATORS}
THREE = ("response", "resolution", "satisfaction")
DEFAULT_BASIC_WEIGHT = Decimal("0.6")


def _ratio(n: int, d: int) -> float | None:
    return None if d == 0 else n / d


def rates(c: dict[str, int], basic_weight: Decimal = DEFAULT_BASIC_WEIGHT) -> dict[str, float | int | None]:
    """Every indicator from summed counters."""
    sat = c["sat5"] + c["sat4"] + float(basic_weight) * c["sat3"]
    return {
        "response": _ratio(c["resp_ok"], c["resp_due"]),
        "resolution": _ratio(c["solved"], c["verdicts"]),
        "satisfaction": None if c["rated"] == 0 else sat / c["rated"],
        "on_time": _ratio(c["on_time"], c["done"]),
        "sign": _ratio(c["sign_ok"], c["sign_due"]),
        "return": _ratio(c["returned"], c["assigned"]),
        "reopen": _ratio(c["reopened"], c["handled"]),
        "overdue": c["overdue"],
        "hours": None if c["timed"] == 0 else c["hours_x10"] / 10 / c["timed"],
        "total": c["total"],
        "excluded": c["excluded"],
    }


def _month_end(m: dt.date) -> dt.date:
    return (m.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)


def range_q(start: dt.date, end: dt.date) -> Q:
    """The tally rows that add up to the days start..end (inclusive): whole months from the monthly rows,
    the days at either edge from the daily rows — at most 12 rows a year plus 60 edge days."""
    months: list[dt.date] = []
    m = start.replace(day=1)
    if m < start:
        m = _month_end(m) + dt.timedelta(days=1)
    while _month_end(m) <= end:
        months.append(m)
        m = _month_end(m) + dt.timedelta(days=1)
    if not months:
        return Q(period=Period.DAY, start__gte=start, start__lte=end)
    q = Q(period=Period.MONTH, start__in=months)
    if start < months[0]:
        q |= Q(period=Period.DAY, start__gte=start, start__lt=months[0])
    after = _month_end(months[-1])
    if after < end:
        q |= Q(period=Period.DAY, start__gt=after, start__lte=end)
    return q


SUMS = {f"s_{name}": Sum(name) for name in COUNTERS}  # an annotation may not take a field's name


def summed(qs: QuerySet[Tally]) -> dict[str, int]:
    row = qs.aggregate(**SUMS)
    return {k: int(row[f"s_{k}"] or 0) for k in COUNTERS}


@dataclass
class Numbers:
    counters: dict[str, int]
    rates: dict[str, float | int | None] = field(default_factory=dict)


def for_unit(
    *, node_id: int | None = None, department_id: int | None = None, start: dt.date, end: dt.date,
    basic_weight: Decimal = DEFAULT_BASIC_WEIGHT,
) -> Numbers:  # fmt: skip
    unit = Q(node_id=node_id) if node_id is not None else Q(department_id=department_id, node__isnull=True)
    c = summed(Tally.objects.filter(unit).filter(range_q(start, end)))
    return Numbers(c, rates(c, basic_weight))


def for_units(
    *, level: int | None = None, departments: bool = False, start: dt.date, end: dt.date,
    paths: tuple[str, ...] | None = None, department_ids: set[int] | None = None,
    basic_weight: Decimal = DEFAULT_BASIC_WEIGHT,
) -> dict[int, Numbers]:  # fmt: skip
    """Every unit of a level (or every department) in one grouped query: unit id → numbers."""
    from org.access import paths_q

    qs = Tally.objects.filter(range_q(start, end))
    if departments:
        qs = qs.filter(level=0, node__isnull=True)
        if department_ids is not None:
            qs = qs.filter(department_id__in=department_ids)
        key = "department_id"
    else:
        assert level is not None  # a level of the tree, unless departments
        qs = qs.filter(level=level)
        if paths is not None:
            qs = qs.filter(paths_q(paths, "path"))
        key = "node_id"
    out = {}
    for row in qs.values(key).annotate(**SUMS).order_by():
        c = {k: int(row[f"s_{k}"] or 0) for k in COUNTERS}
        out[row[key]] = Numbers(c, rates(c, basic_weight))
    return out
