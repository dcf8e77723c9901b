"""小事不出村: where disputes were settled, by unit (the towns of the county, the villages of a town, the grids of a
village) or by month, over the cases reported in a range of days. One GROUP BY over the subtree (by path, state,
level and flag), folded into the units in memory. Counts only: no party, no account.

Definitions (the same on the page, in the API and in the Excel file):
- reported: cases reported in the range, those not accepted (not a dispute for mediation) left out;
- settled: of those, settled (or agreed and being kept) at any level; in the village: settled in the grid or the
  village (小事不出村); in the town: no further than the town (大事不出镇); open: still being handled;
- the rates are those counts over the cases reported; a unit without cases has no rate."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields
from typing import Any

from django.db.models import Count
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.clock import SHANGHAI, today
from core.errors import ValidationFailed
from mediation.models import IN_TOWN, IN_VILLAGE, Case
from mediation.selectors import watch_paths
from mediation.states import OPEN_STATES
from org.access import report_node as access_report_node
from org.models import Node, path_ids, path_range

DEFINITIONS = {
    "reported": gettext_lazy("Cases reported in the period, not counting those not accepted."),
    "settled": gettext_lazy("Of those, settled at any level (an agreement being kept counts)."),
    "in_village": gettext_lazy("Of those, settled in the grid or the village (小事不出村)."),
    "in_town": gettext_lazy("Of those, settled no further than the town (大事不出镇)."),
    "open": gettext_lazy("Of those, still being handled (an agreement being kept counts as settled)."),
    "red_flags": gettext_lazy("Of those, flagged at risk of violence or of a crime."),
}


def columns() -> list[tuple[str, Any]]:
    return [
        ("reported", gettext_lazy("Reported")),
        ("settled", gettext_lazy("Settled")),
        ("in_village", gettext_lazy("Settled in the village")),
        ("in_town", gettext_lazy("Settled in the town")),
        ("open", gettext_lazy("Still open")),
        ("red_flags", gettext_lazy("Red flags")),
    ]


RATES = (
    ("settle_rate", gettext_lazy("Settlement rate")),
    ("village_rate", gettext_lazy("小事不出村 rate")),
    ("town_rate", gettext_lazy("大事不出镇 rate")),
)


@dataclass
class Row:
    node_id: int | None
    name: str
    level: int = 0
    reported: int = 0
    settled: int = 0
    in_village: int = 0
    in_town: int = 0
    open: int = 0
    red_flags: int = 0

    def _rate(self, n: int) -> float | None:
        return n / self.reported if self.reported else None

    @property
    def settle_rate(self) -> float | None:
        return self._rate(self.settled)

    @property
    def village_rate(self) -> float | None:
        return self._rate(self.in_village)

    @property
    def town_rate(self) -> float | None:
        return self._rate(self.in_town)

    def add(self, n: int, *, state: str, level: str, red: bool) -> None:
        self.reported += n
        self.settled += n if level else 0
        self.in_village += n if level in IN_VILLAGE else 0
        self.in_town += n if level in IN_TOWN else 0
        self.open += n if state in OPEN_STATES and not level else 0
        self.red_flags += n if red else 0

    def as_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "level"}
        out.update(settle_rate=self.settle_rate, village_rate=self.village_rate, town_rate=self.town_rate)
        return out


@dataclass
class Report:
    node: Node
    rows: list[Row] = field(default_factory=list)
    total: Row = field(default_factory=lambda: Row(None, ""))


def _bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    return (
        dt.datetime.combine(start, dt.time(), tzinfo=SHANGHAI),
        dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=SHANGHAI),
    )


def _groups(node: Node, start: dt.date, end: dt.date, *by: str) -> Any:
    since, until = _bounds(start, end)
    return (
        Case.objects.filter(path_range(node.path), created_at__gte=since, created_at__lt=until)
        .exclude(state=Case.State.DECLINED)
        .values(*by, "state", "level", "red_flag")
        .annotate(n=Count("id"))
        .order_by()
    )


def settlement(node: Node, *, start: dt.date, end: dt.date) -> Report:
    """The children of `node` (itself, for a grid), each with its cases reported in [start, end], and the total."""
    children = list(Node.objects.filter(parent=node).order_by("sort", "name").values_list("id", "name", "level"))
    report = Report(node=node, total=Row(None, _("Total"), node.level))
    rows = {pk: Row(pk, name, level) for pk, name, level in children}
    own = Row(node.pk, node.name, node.level)  # cases reported at the node itself (a village's, not a grid's)
    depth = len(path_ids(node.path))
    for g in _groups(node, start, end, "path"):
        ids = path_ids(g["path"])
        row = rows.get(ids[depth]) if len(ids) > depth else own
        (row or own).add(g["n"], state=g["state"], level=g["level"], red=g["red_flag"])
        report.total.add(g["n"], state=g["state"], level=g["level"], red=g["red_flag"])
    report.rows = list(rows.values()) + ([own] if own.reported or not rows else [])
    return report


def by_month(node: Node, *, start: dt.date, end: dt.date) -> list[Row]:
    """The cases under `node` reported in [start, end], month by month (Asia/Shanghai), oldest first."""
    months: dict[str, Row] = {}
    d = start.replace(day=1)
    while d <= end:
        key = f"{d.year}-{d.month:02d}"
        months[key] = Row(None, key)
        d = (d + dt.timedelta(days=32)).replace(day=1)
    since, until = _bounds(start, end)
    qs = (
        Case.objects.filter(path_range(node.path), created_at__gte=since, created_at__lt=until)
        .exclude(state=Case.State.DECLINED)
        .values_list("created_at", "state", "level", "red_flag")
    )
    for at, state, level, red in qs.iterator(chunk_size=2000):
        local = at.astimezone(SHANGHAI)
        months[f"{local.year}-{local.month:02d}"].add(1, state=state, level=level, red=red)
    return list(months.values())


def default_range(start: dt.date | None, end: dt.date | None) -> tuple[dt.date, dt.date]:
    """The range asked for; by default this year to today."""
    end = end or today()
    start = start or end.replace(month=1, day=1)
    if start > end:
        message = _("The start is after the end.")
        raise ValidationFailed(message, code="range.invalid", fields={"start": [message]})
    return start, end


def report_node(user: Any, node_id: int | None) -> Node:
    """The node whose figures `user` asks for: under where they watch disputes (mediation.watch); by default the top
    of it. Missing and not theirs are the same 404."""
    return access_report_node(watch_paths(user), node_id)
