"""Scoped reads of the county model; every one takes the asking user and goes through org.access."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from core import clock
from core.audit import PersonRecord, log_personal_read
from core.masking import mask_id_number, mask_phone
from core.memo import memo
from org import access
from org.models import Household, Level, Node, Relation, Resident, ServicePoint, path_range

if TYPE_CHECKING:
    from accounts.models import Viewer

_MASKED_PHONE = re.compile(r"^(\d{3})\*+(\d{4})$")
_TAIL = re.compile(r"^\d{4}$")


def _town_and_village_names() -> dict[int, str]:
    return dict(Node.objects.filter(level__in=(Level.TOWN, Level.VILLAGE)).values_list("pk", "name"))


def place(node: Node | None) -> str:
    """A place as people say it: a village or a grid with the town and village it is in ("东镇·东村·一组"),
    since 一组 or 二网格 alone is in every village. Names come from a per-process copy (core.memo "tree")."""
    if node is None:
        return ""
    if node.level <= Level.TOWN:
        return node.name
    names = memo("tree").get("place-names", _town_and_village_names)
    return "·".join([*(names[i] for i in node.ancestor_ids if i in names), node.name])


def breadcrumb(node: Node) -> list[Node]:
    ids = node.ancestor_ids
    by_id = {n.pk: n for n in Node.objects.filter(pk__in=ids)}
    return [by_id[i] for i in ids if i in by_id] + [node]


@dataclass(frozen=True)
class NodeStats:
    towns: int
    villages: int
    grids: int
    households: int
    residents: int


def _levels_below(node: Node) -> dict[int, int]:
    return dict(
        Node.objects.filter(node.subtree_q())
        .exclude(pk=node.pk)  # below it, not itself
        .values_list("level")
        .annotate(n=Count("id"))
    )


def node_stats(node: Node) -> NodeStats:
    """Counts below a node: three indexed range counts, whatever the size of the subtree."""
    levels = _levels_below(node)
    return NodeStats(
        towns=levels.get(Level.TOWN, 0),
        villages=levels.get(Level.VILLAGE, 0),
        grids=levels.get(Level.GRID, 0),
        households=Household.objects.filter(node.subtree_q()).count(),
        residents=Resident.objects.filter(node.subtree_q()).count(),
    )


@dataclass(frozen=True)
class ChildRow:
    node: Node
    grids: int | None
    households: int | None
    residents: int | None


def node_overview(node: Node, *, with_people: bool) -> tuple[NodeStats, list[ChildRow]]:
    """Counts below a node and below each child, from grouped counts (a handful of queries in all).

    Households and residents are grouped by their grid path: at most one row per grid, however many
    people live below. Without `with_people` the people counts stay zero and are not queried.
    """
    levels = _levels_below(node)
    grids_by_path: dict[str, int] = {}
    if node.level < Level.VILLAGE:
        grids_by_path = dict(
            Node.objects.filter(node.subtree_q(), level=Level.GRID).values_list("path").annotate(n=Count("id"))
        )
    households_by_path: dict[str, int] = {}
    residents_by_path: dict[str, int] = {}
    if with_people:
        households_by_path = dict(
            Household.objects.filter(node.subtree_q()).values_list("path").annotate(n=Count("id"))
        )
        residents_by_path = dict(Resident.objects.filter(node.subtree_q()).values_list("path").annotate(n=Count("id")))

    def under(counts: dict[str, int], path: str) -> int:
        return sum(n for p, n in counts.items() if p.startswith(path))

    stats = NodeStats(
        towns=levels.get(Level.TOWN, 0),
        villages=levels.get(Level.VILLAGE, 0),
        grids=levels.get(Level.GRID, 0),
        households=sum(households_by_path.values()),
        residents=sum(residents_by_path.values()),
    )
    rows = [
        ChildRow(
            node=c,
            grids=under(grids_by_path, c.path) if grids_by_path else None,
            households=under(households_by_path, c.path) if with_people else None,
            residents=under(residents_by_path, c.path) if with_people else None,
        )
        for c in node.children.order_by("sort", "name", "id")
    ]
    return stats, rows


def scope_roots(user: Viewer) -> list[Node]:
    """The top nodes of the user's scope, the places a staff home starts from."""
    scope = access.get_scope(user)
    return list(Node.objects.filter(path__in=scope.node_paths).order_by("path"))


def node_children(user: Viewer, parent: Node | None) -> QuerySet[Node]:
    qs = access.nodes_for(user)
    if parent is None:
        scope = access.get_scope(user)
        return qs.filter(path__in=scope.node_paths)
    return qs.filter(parent=parent).order_by("sort", "name", "id")


def node_search(user: Viewer, q: str, within: Node | None = None, level: int | None = None) -> QuerySet[Node]:
    qs = access.nodes_for(user).filter(Q(name__icontains=q) | Q(code__startswith=q))
    if within is not None:
        qs = qs.filter(within.subtree_q())
    if level is not None:
        qs = qs.filter(level=level)
    return qs.order_by("level", "path")


def household_list(user: Viewer, *, node: Node | None = None, q: str = "", tag: str = "") -> QuerySet[Household]:
    qs = access.households_for(user).select_related("grid")
    if node is not None:
        qs = qs.filter(node.subtree_q())
    if tag:
        if connection.vendor == "postgresql":
            qs = qs.filter(tags__contains=[tag])  # jsonb @>, answered by the GIN index (migration org 0003)
        else:
            qs = qs.filter(tags__icontains=f'"{tag}"')  # a closed vocabulary: the quoted word is exact
    if q:
        qs = qs.filter(Q(address__icontains=q) | Exists(_residents_matching(q).filter(household=OuterRef("pk"))))
    return qs.order_by("path", "id")


def household_heads(households: list[Household]) -> dict[int, str]:
    """Head-of-household names for a page of households, in one query."""
    return dict(
        Resident.objects.filter(household__in=households, relation=Relation.HEAD).values_list("household_id", "name")
    )


def _residents_matching(q: str) -> QuerySet[Resident]:
    m = _MASKED_PHONE.match(q)
    if m:
        return Resident.objects.filter(phone__startswith=m.group(1), phone_tail=m.group(2))
    if _TAIL.match(q):
        return Resident.objects.filter(phone_tail=q)
    return Resident.objects.filter(name__icontains=q)


def resident_list(user: Viewer, *, node: Node | None = None, q: str = "") -> QuerySet[Resident]:
    qs = access.residents_for(user).select_related("household")
    if node is not None:
        qs = qs.filter(node.subtree_q())
    if q:
        qs = qs.filter(pk__in=_residents_matching(q).values("pk"))
    return qs.order_by("path", "household_id", "id")


def service_points(user: Viewer, *, node: Node | None = None, kind: str = "") -> QuerySet[ServicePoint]:
    """Service points are public places: every logged-in user sees all of them."""
    qs = ServicePoint.objects.select_related("node")
    if node is not None:
        qs = qs.filter(path_range(node.path))
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("path", "id")


def age(birth: dt.date | None, today: dt.date | None = None) -> int | None:
    if birth is None:
        return None
    today = today or clock.today()
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def whole_number(
    viewer: Viewer,
    number: str,
    *,
    field: str,
    allowed: bool,
    channel: str,
    path: str = "",
    resident: PersonRecord | None = None,
    subject: str = "",
) -> str:
    """A personal number as `viewer` may read it: whole where `allowed` (their role needs it there, or it
    is their own), each whole number shown logged (core.audit) as `resident`'s or, for someone not on the
    register, as the `subject`'s; masked otherwise. Every page, API answer and admin form that shows a
    whole phone or ID number gets it from here."""
    if not number:
        return ""
    if not allowed or not viewer.is_authenticated:  # nobody logged out is shown a whole number
        return mask_phone(number) if field == "phone" else mask_id_number(number)
    log_personal_read(user=viewer, resident=resident, subject=subject, field=field, channel=channel, path=path)
    return number


def resident_view(user: Viewer, resident: Resident, *, reveal: bool, channel: str, path: str = "") -> dict[str, Any]:
    """A resident as `user` may see them. With reveal=True, numbers the role needs are shown whole and
    each whole number shown is logged; otherwise everything is masked."""
    scope = access.get_scope(user)
    show_phone = reveal and scope.unmask_phone(resident)
    show_id = reveal and scope.unmask_id(resident)
    where: dict[str, Any] = {"channel": channel, "path": path, "resident": resident}
    phone = whole_number(user, resident.phone, field="phone", allowed=show_phone, **where)
    id_number = whole_number(user, resident.id_number, field="id_number", allowed=show_id, **where)
    return {
        "id": resident.pk,
        "name": resident.name,
        "gender": resident.gender,
        "gender_label": resident.get_gender_display(),
        "relation": resident.relation,
        "relation_label": resident.get_relation_display(),
        "age": age(resident.birth_date),
        "birth_date": resident.birth_date if show_id else None,
        "phone": phone,
        "phone_masked": not show_phone,
        "id_number": id_number,
        "id_number_masked": not show_id,
        "household_id": resident.household_id,
    }
