"""Who sees which numbers. A leader sees their subtree and drills down to its grids; a department sees
its own numbers and detail, and where it stands among the departments; nobody sees another town's.
Out of scope answers like missing (404)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import Q

from core.clock import today
from core.errors import NotFound, ValidationFailed
from dashboards import indicators
from org.access import get_scope
from org.models import Department, Level, Node, path_range
from org.policy import Cap, under

if TYPE_CHECKING:
    from accounts.models import Viewer


@dataclass(frozen=True)
class DashScope:
    paths: tuple[str, ...]  # node subtrees whose numbers the user sees
    department_paths: tuple[str, ...]  # departments whose jurisdiction lies here: theirs too
    assess_paths: tuple[str, ...]  # where the user runs the assessment and decides appeals
    department_ids: frozenset[int]  # the user's own departments

    @property
    def any(self) -> bool:
        return bool(self.paths or self.department_ids)

    def sees_node(self, node: Node) -> bool:
        return under(self.paths, node.path)

    def sees_department(self, d: Department) -> bool:
        return d.pk in self.department_ids or under(self.department_paths, d.jurisdiction.path)

    def assesses(self, path: str) -> bool:
        return under(self.assess_paths, path)


def dash_scope(user: Viewer | None) -> DashScope:
    if user is None or not user.is_authenticated:
        return DashScope((), (), (), frozenset())
    scope = get_scope(user)
    return DashScope(
        scope.cap_paths(Cap.DASHBOARD),
        scope.cap_paths(Cap.DASHBOARD_DEPARTMENTS),
        scope.cap_paths(Cap.ASSESS),
        scope.department_ids,
    )


def home_node(user: Viewer) -> Node | None:
    """The top of the user's part of the tree (the first, if they hold several)."""
    ds = dash_scope(user)
    if not ds.paths:
        return None
    return Node.objects.filter(path=ds.paths[0]).first()


def access_node(user: Viewer, node_id: int) -> Node:
    node = Node.objects.filter(pk=node_id).select_related("parent").first()
    if node is None or not dash_scope(user).sees_node(node):
        raise NotFound()
    return node


def access_department(user: Viewer, department_id: int) -> Department:
    d = Department.objects.filter(pk=department_id).select_related("jurisdiction").first()
    if d is None or not dash_scope(user).sees_department(d):
        raise NotFound()
    return d


def departments_seen(user: Viewer) -> list[Department]:
    ds = dash_scope(user)
    q = Q(pk__in=ds.department_ids)
    for p in ds.department_paths:
        q |= Q(jurisdiction__path__startswith=p)
    return list(Department.objects.filter(q).select_related("jurisdiction").order_by("level", "code"))


def children(node: Node) -> list[Node]:
    return list(Node.objects.filter(parent=node).order_by("sort", "name"))


def breadcrumb(user: Viewer, node: Node) -> list[Node]:
    """The node's ancestors the user may open, then the node."""
    ds = dash_scope(user)
    ids = [int(p) for p in node.path.strip("/").split("/")]
    by_id = {n.pk: n for n in Node.objects.filter(pk__in=ids)}
    return [by_id[i] for i in ids if i in by_id and ds.sees_node(by_id[i])]


MAX_DAYS = 3 * 366


def period(start: dt.date | None, end: dt.date | None) -> tuple[dt.date, dt.date]:
    """The range asked for, this month so far by default; refused when inverted or longer than 3 years."""
    t = today()
    end = end or t
    start = start or end.replace(day=1)
    if start > end:
        raise ValidationFailed(fields={"start": [_inverted()]}, code="dashboard.bad_range")
    if (end - start).days > MAX_DAYS:
        raise ValidationFailed(fields={"start": [_too_long()]}, code="dashboard.bad_range")
    return start, end


def _inverted() -> str:
    from django.utils.translation import gettext as _

    return _("The start comes after the end.")


def _too_long() -> str:
    from django.utils.translation import gettext as _

    return _("Choose at most three years.")


LEVEL_BELOW = {
    Level.PROVINCE: Level.CITY,
    Level.CITY: Level.COUNTY,
    Level.COUNTY: Level.TOWN,
    Level.TOWN: Level.VILLAGE,
    Level.VILLAGE: Level.GRID,
}


def ranking_rows(user: Viewer, group: str, start: dt.date, end: dt.date, node_id: int | None) -> dict[str, Any]:
    """Units of one kind ranked by the weighted three rates (the scheme in force in the start month):
    what the ranking page, its workbook and the API all show. Departments see the departments' ranking
    (names and scores), but the detail of their own only."""
    # dashboards.services reads dash_scope from here: imported when called, not when loaded.
    from dashboards import services

    scheme = services.scheme_for(start.replace(day=1))
    ds = dash_scope(user)
    if group == "department":
        if node_id is not None:
            raise ValidationFailed(fields={"node": ["—"]})
        depts = departments_seen(user)
        if ds.department_ids and not ds.department_paths:
            # A department sees its peers: the departments of its own level and jurisdiction.
            mine = Department.objects.filter(pk__in=ds.department_ids).select_related("jurisdiction")
            peers = Department.objects.none()
            for d in mine:
                peers |= Department.objects.filter(jurisdiction=d.jurisdiction, level=d.level)
            depts = list(peers.select_related("jurisdiction"))
        nums = indicators.for_units(
            departments=True, start=start, end=end, department_ids={d.pk for d in depts},
            basic_weight=scheme.basic_weight,
        )  # fmt: skip
        units = [(d.pk, d.name) for d in depts if d.is_active]
    else:
        root = access_node(user, node_id) if node_id else home_node(user)
        if root is None:
            raise NotFound()
        level = {"town": Level.TOWN, "village": Level.VILLAGE, "grid": Level.GRID}[group]
        nodes = Node.objects.filter(path_range(root.path), level=level).order_by("path")
        nums = indicators.for_units(
            level=level, start=start, end=end, paths=(root.path,), basic_weight=scheme.basic_weight
        )
        units = [(n.pk, n.name) for n in nodes]
    empty = indicators.rates({c: 0 for c in indicators.COUNTERS})
    # Department staff see where they stand among their peers — names, scores, ranks — and their own
    # rates only.
    own_only = group == "department" and not ds.department_paths
    rows: list[dict[str, Any]] = []
    for pk, name in units:
        n = nums.get(pk)
        rates = n.rates if n else empty
        rows.append(
            {
                "id": pk,
                "name": name,
                "orders": n.counters["total"] if n else 0,
                "rates": dict.fromkeys(rates) if own_only and pk not in ds.department_ids else rates,
                "score": services.base_score(rates, scheme.weights),
            }
        )
    rows.sort(key=lambda x: (-x["score"], -x["orders"], x["name"]))
    for i, row in enumerate(rows):
        row["rank"] = rows[i - 1]["rank"] if i and row["score"] == rows[i - 1]["score"] else i + 1
    return {
        "group": group, "start": start, "end": end, "scheme": str(scheme), "weights": scheme.weights, "rows": rows,
    }  # fmt: skip
