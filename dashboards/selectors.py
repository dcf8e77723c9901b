"""Who sees which numbers. A leader sees their subtree and drills down to its grids; a department sees
its own numbers and detail, and where it stands among the departments; nobody sees another town's.
Out of scope answers like missing (404)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from accounts.models import Role
from core.clock import today
from core.errors import NotFound, ValidationFailed
from org.access import get_scope, minimal_paths
from org.models import Department, Level, Node

# Roles held over a node that open that node's dashboard.
NODE_ROLES = frozenset(
    {Role.ADMIN, Role.LEADER, Role.DISPATCHER, Role.TOWN_STAFF, Role.VILLAGE_STAFF, Role.GRID_WORKER}
)
# Roles over a node that also see the departments serving it, and run the assessment.
DEPARTMENT_ROLES = frozenset({Role.ADMIN, Role.LEADER, Role.DISPATCHER})
ASSESSORS = frozenset({Role.ADMIN, Role.LEADER})


@dataclass(frozen=True)
class DashScope:
    paths: tuple[str, ...]  # node subtrees whose numbers the user sees
    department_paths: tuple[str, ...]  # departments whose jurisdiction lies here: theirs too
    assess_paths: tuple[str, ...]  # where the user runs the assessment and decides appeals
    department_ids: frozenset[int]  # the user's own departments

    @property
    def any(self) -> bool:
        return bool(self.paths or self.department_ids)

    @staticmethod
    def _under(paths: tuple[str, ...], path: str) -> bool:
        return any(path.startswith(p) for p in paths)

    def sees_node(self, node: Node) -> bool:
        return self._under(self.paths, node.path)

    def sees_department(self, d: Department) -> bool:
        return d.pk in self.department_ids or self._under(self.department_paths, d.jurisdiction.path)

    def assesses(self, path: str) -> bool:
        return self._under(self.assess_paths, path)


def dash_scope(user: Any) -> DashScope:
    if user is None or not user.is_authenticated:
        return DashScope((), (), (), frozenset())
    scope = get_scope(user)
    paths: set[str] = set()
    dept: set[str] = set()
    assess: set[str] = set()
    for a in scope.assignments:
        if a.node is None or a.role not in NODE_ROLES:
            continue
        paths.add(a.node.path)
        if a.role in DEPARTMENT_ROLES:
            dept.add(a.node.path)
        if a.role in ASSESSORS:
            assess.add(a.node.path)
    if user.is_superuser:
        roots = set(Node.objects.filter(parent__isnull=True).values_list("path", flat=True))
        paths |= roots
        dept |= roots
        assess |= roots
    return DashScope(minimal_paths(paths), minimal_paths(dept), minimal_paths(assess), scope.department_ids)


def home_node(user: Any) -> Node | None:
    """The top of the user's part of the tree (the first, if they hold several)."""
    ds = dash_scope(user)
    if not ds.paths:
        return None
    return Node.objects.filter(path=ds.paths[0]).first()


def access_node(user: Any, node_id: int) -> Node:
    node = Node.objects.filter(pk=node_id).select_related("parent").first()
    if node is None or not dash_scope(user).sees_node(node):
        raise NotFound()
    return node


def access_department(user: Any, department_id: int) -> Department:
    d = Department.objects.filter(pk=department_id).select_related("jurisdiction").first()
    if d is None or not dash_scope(user).sees_department(d):
        raise NotFound()
    return d


def departments_seen(user: Any) -> list[Department]:
    ds = dash_scope(user)
    q = Q(pk__in=ds.department_ids)
    for p in ds.department_paths:
        q |= Q(jurisdiction__path__startswith=p)
    return list(Department.objects.filter(q).select_related("jurisdiction").order_by("level", "code"))


def children(node: Node) -> list[Node]:
    return list(Node.objects.filter(parent=node).order_by("sort", "name"))


def breadcrumb(user: Any, node: Node) -> list[Node]:
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
