"""Coverage and activity of household work (党员联户) by grid, village or town: the children of one node,
each with its households and links, members over the limit, links without a visit in the period, the needs
found and how they ended. A handful of GROUP BY queries over the subtree (one per figure, grouped by grid
path), rolled up to the children in memory: the county's 110,000+ households answer in well under a second.

Definitions (the same in the page, the API and the Excel file):
- households: on the register under the unit; unlinked: of those, without a party member;
- members: party members whose branch lies under the unit; over the limit: those linked to more than
  GONGZHI["PARTY"]["MAX_HOUSEHOLDS"] households;
- unvisited: linked households with no visit in the period [start, end);
- visits: visits in the period; needs: found (or asked) in the period, and of those: settled on the spot,
  relayed as a work order, and relayed whose order is resolved (resolved, rated or closed), still open.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields
from typing import Any

from django.db.models import Count, Exists, OuterRef
from django.utils.translation import gettext_lazy as _

from org.access import paths_q
from org.models import Household, HouseholdLink, Level, Node, PartyMember, path_ids, path_range
from partylink import selectors
from partylink.models import Need, Project, Visit

DONE_ORDER_STATES = ("resolved", "rated", "closed")


@dataclass
class Row:
    node_id: int
    name: str
    level: int
    households: int = 0
    unlinked: int = 0
    linked: int = 0
    members: int = 0
    over_limit: int = 0
    unvisited: int = 0
    visits: int = 0
    needs: int = 0
    settled: int = 0
    relayed: int = 0
    resolved: int = 0
    open: int = 0
    projects: int = 0
    projects_done: int = 0

    def add(self, other: Row) -> None:
        for f in FIGURES:
            setattr(self, f, getattr(self, f) + getattr(other, f))

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @property
    def coverage(self) -> float | None:
        """Linked households as a share of all (None without households)."""
        return self.linked / self.households if self.households else None


FIGURES = ("households", "unlinked", "linked", "members", "over_limit", "unvisited", "visits", "needs", "settled",
           "relayed", "resolved", "open", "projects", "projects_done")  # fmt: skip


@dataclass
class Report:
    node: Node
    start: dt.datetime
    end: dt.datetime
    rows: list[Row] = field(default_factory=list)
    total: Row | None = None


def _child_of(node: Node, depth: int, path: str) -> int | None:
    """The child of `node` (at `depth` in the tree) that `path` lies under; None for `node` itself."""
    ids = path_ids(path)
    return ids[depth] if len(ids) > depth else None


def coverage(node: Node, *, start: dt.datetime, end: dt.datetime) -> Report:
    """The report of `node`'s children (the caller has checked that the user may read `node`)."""
    depth = len(path_ids(node.path))
    children = list(Node.objects.filter(parent=node).order_by("code", "id")) if node.level < Level.GRID else []
    rows = {c.pk: Row(c.pk, c.name, c.level) for c in children}
    total = Row(node.pk, node.name, node.level)
    under = path_range(node.path)

    def add(path: str, name: str, n: int) -> None:
        child = _child_of(node, depth, path)
        row = rows.get(child) if child is not None else None
        if row is not None:
            setattr(row, name, getattr(row, name) + n)
        setattr(total, name, getattr(total, name) + n)

    def grouped(qs: Any, name: str, by: str = "path") -> None:
        for path, n in qs.order_by().values(by).annotate(n=Count("id")).values_list(by, "n"):
            add(path, name, n)

    households = Household.objects.filter(under)
    grouped(households, "households")
    grouped(households.filter(party_link__isnull=True), "unlinked")
    links = HouseholdLink.objects.filter(paths_q((node.path,), "household__path"))
    grouped(links, "linked", "household__path")
    visited = Visit.objects.filter(household_id=OuterRef("household_id"), visited_at__gte=start, visited_at__lt=end)
    grouped(links.filter(~Exists(visited)), "unvisited", "household__path")
    members = PartyMember.objects.filter(paths_q((node.path,), "branch__path"))
    grouped(members, "members", "branch__path")
    limit = int(selectors.setting("MAX_HOUSEHOLDS"))
    for path, _n in members.annotate(n=Count("links")).filter(n__gt=limit).order_by().values_list("branch__path", "n"):
        add(path, "over_limit", 1)
    grouped(Visit.objects.filter(under, visited_at__gte=start, visited_at__lt=end), "visits")
    needs = Need.objects.filter(under, created_at__gte=start, created_at__lt=end)
    grouped(needs, "needs")
    grouped(needs.filter(state=Need.State.SETTLED), "settled")
    grouped(needs.filter(state=Need.State.RELAYED), "relayed")
    grouped(needs.filter(state=Need.State.RELAYED, order__state__in=DONE_ORDER_STATES), "resolved")
    grouped(needs.filter(state=Need.State.OPEN), "open")
    projects = Project.objects.filter(under)
    grouped(projects.filter(state=Project.State.APPROVED), "projects")
    grouped(projects.filter(state=Project.State.DONE, done_at__gte=start, done_at__lt=end), "projects_done")
    return Report(node=node, start=start, end=end, rows=list(rows.values()), total=total)


@dataclass(frozen=True)
class Summary:
    households: int
    linked: int
    unvisited: int
    visits: int
    open: int

    @property
    def coverage(self) -> float | None:
        return self.linked / self.households if self.households else None


def summary(node: Node, *, start: dt.datetime, end: dt.datetime) -> Summary:
    """The command centre board's figures of household work under `node`: this period's visits and linked
    households not visited, and every need still open (not only this period's): four queries."""
    under = path_range(node.path)
    counts = Household.objects.filter(under).aggregate(households=Count("id"), linked=Count("party_link"))
    visited = Visit.objects.filter(household_id=OuterRef("household_id"), visited_at__gte=start, visited_at__lt=end)
    unvisited = HouseholdLink.objects.filter(paths_q((node.path,), "household__path")).filter(~Exists(visited)).count()
    visits = Visit.objects.filter(under, visited_at__gte=start, visited_at__lt=end).count()
    still_open = Need.objects.filter(under, state=Need.State.OPEN).count()  # the backlog, however old
    return Summary(counts["households"], counts["linked"], unvisited, visits, still_open)


def columns() -> list[tuple[str, Any]]:
    return [
        ("households", _("Households")), ("unlinked", _("Without a member")), ("linked", _("Linked")),
        ("members", _("Party members")), ("over_limit", _("Members over the limit")),
        ("unvisited", _("Linked, not visited")), ("visits", _("Visits")), ("needs", _("Needs found")),
        ("settled", _("Settled on the spot")), ("relayed", _("Work orders opened")),
        ("resolved", _("Orders resolved")), ("open", _("Still open")),
        ("projects", _("Projects under way")), ("projects_done", _("Projects done")),
    ]  # fmt: skip


DEFINITIONS = {
    "households": _("Households on the register under the unit."),
    "unlinked": _("Households with no party member linked to them."),
    "linked": _("Households with a party member linked to them."),
    "members": _("Party members whose branch lies under the unit."),
    "over_limit": _("Party members linked to more households than the most allowed."),
    "unvisited": _("Linked households with no visit in the period."),
    "visits": _("Visits made in the period."),
    "needs": _("Needs found on visits or brought by residents in the period."),
    "settled": _("Of those, settled on the spot."),
    "relayed": _("Of those, relayed as work orders."),
    "resolved": _("Of those relayed, the orders resolved, rated or closed."),
    "open": _("Of those, neither settled nor relayed yet."),
    "projects": _("Practical projects led by party members, approved and under way now."),
    "projects_done": _("Practical projects finished in the period."),
}


MAX_DAYS = 366


def report_period(start: dt.date | None, end: dt.date | None) -> tuple[dt.date, dt.date]:
    """The days asked for: this month so far by default; refused when inverted or longer than a year."""
    from django.utils.translation import gettext as _

    from core.clock import today
    from core.errors import ValidationFailed

    end = end or today()
    start = start or end.replace(day=1)
    if start > end:
        message = _("The first day comes after the last.")
        raise ValidationFailed(message, code="report.bad_range", fields={"start": [message]})
    if (end - start).days >= MAX_DAYS:
        message = _("At most %(n)s days at a time.") % {"n": MAX_DAYS}
        raise ValidationFailed(message, code="report.bad_range", fields={"end": [message]})
    return start, end
