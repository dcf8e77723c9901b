"""The one place that decides who sees what.

Every scoped read in Gongzhi asks this module. Rules:
- Staff see the subtree of the node each of their role assignments names; several assignments add up.
- Department staff see their department's jurisdiction in the tree, but none of its people: they will
  see the work dispatched to them, not the register of residents.
- A party member sees the households linked to them (党员联户) and their own.
- A resident sees their own household.
- Out of scope answers exactly like missing (404), so nobody can probe what exists elsewhere.
- Personal numbers are masked unless a role whose subtree holds that resident needs them; the table
  of capabilities (org.policy) says which. Reading an unmasked ID number or phone is logged by the
  caller through core.audit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from accounts.models import RoleAssignment, Viewer
from core.errors import NotFound
from core.extra import attach
from core.memo import memo
from org.models import Department, Household, HouseholdLink, Node, Resident, path_ids, path_range
from org.policy import CAPS, RESIDENT_ROLE, SUPERUSER_ROLE, Cap, caps_of, is_staff_role, minimal_paths, under

if TYPE_CHECKING:
    from accounts.models import User


def paths_q(paths: tuple[str, ...], field_name: str = "path") -> Q:
    """Rows whose `field_name` lies in any of the subtrees rooted at `paths` (none for no paths)."""
    if not paths:
        return Q(pk__in=[])
    q = path_range(paths[0], field_name)
    for p in paths[1:]:
        q |= path_range(p, field_name)
    return q


@dataclass(frozen=True)
class OwnResident:
    """The resident record behind a login, as intake needs it (owner and reply contact)."""

    id: int
    household_id: int
    grid_id: int
    path: str
    name: str
    phone: str
    user_id: int

    def instance(self) -> Resident:
        """A fresh model instance per caller: the copy in the scope is shared between requests."""
        r = Resident(
            id=self.id, household_id=self.household_id, path=self.path, name=self.name, phone=self.phone,
            user_id=self.user_id,
        )  # fmt: skip
        r._state.adding = False
        r._state.db = "default"
        return r


@dataclass(frozen=True)
class Scope:
    user_id: int | None
    roles: frozenset[str]
    node_paths: tuple[str, ...] = ()  # subtrees whose nodes are visible
    people_paths: tuple[str, ...] = ()  # subtrees whose households/residents are visible
    phone_paths: tuple[str, ...] = ()  # subtrees where phones are unmasked
    id_paths: tuple[str, ...] = ()  # subtrees where ID numbers are unmasked
    edit_paths: tuple[str, ...] = ()  # subtrees whose register the user may edit (per role, not per union)
    household_ids: frozenset[int] = frozenset()  # extra households: own, linked
    linked_household_ids: frozenset[int] = frozenset()  # households whose phones a party member sees
    own_household_id: int | None = None
    own_resident_id: int | None = None
    department_ids: frozenset[int] = frozenset()
    by_cap: Mapping[str, tuple[str, ...]] = field(default_factory=dict, compare=False, repr=False)
    assignments: tuple[RoleAssignment, ...] = field(default=(), compare=False, repr=False)
    own: OwnResident | None = field(default=None, compare=False, repr=False)

    @property
    def is_staff(self) -> bool:
        return any(is_staff_role(r) for r in self.roles)

    def cap_paths(self, cap: Cap) -> tuple[str, ...]:
        """The subtrees over which this user holds `cap` (org.policy)."""
        return self.by_cap.get(cap, ())

    @property
    def sees_people(self) -> bool:
        return bool(self.people_paths or self.household_ids)

    # --- querysets --------------------------------------------------------------------------
    def nodes_q(self) -> Q:
        """Visible nodes: the scope subtrees and their ancestors (for breadcrumbs)."""
        ancestors: set[int] = set()
        for p in self.node_paths:
            ancestors.update(path_ids(p)[:-1])
        return paths_q(self.node_paths, "path") | Q(pk__in=ancestors)

    def households_q(self) -> Q:
        if not self.household_ids:
            return paths_q(self.people_paths, "path")
        if not self.people_paths:
            return Q(pk__in=self.household_ids)
        return paths_q(self.people_paths, "path") | Q(pk__in=self.household_ids)

    def residents_q(self) -> Q:
        if not self.household_ids:
            return paths_q(self.people_paths, "path")
        if not self.people_paths:
            return Q(household_id__in=self.household_ids)
        return paths_q(self.people_paths, "path") | Q(household_id__in=self.household_ids)

    def covers(self, paths: tuple[str, ...], path: str) -> bool:
        return under(paths, path)

    def sees_people_under(self, node: Node) -> bool:
        return self.covers(self.people_paths, node.path)

    # --- masking ------------------------------------------------------------------------------
    def unmask_phone(self, resident: Resident) -> bool:
        if resident.pk == self.own_resident_id:
            return True
        return self.covers(self.phone_paths, resident.path) or resident.household_id in self.linked_household_ids

    def unmask_id(self, resident: Resident) -> bool:
        if resident.pk == self.own_resident_id:
            return True
        return self.covers(self.id_paths, resident.path)


EMPTY = Scope(user_id=None, roles=frozenset())


def get_scope(user: Viewer | None) -> Scope:
    """The scope of `user`: kept in memory between requests (core.memo "org": any change to roles,
    residents, links or the tree rebuilds it) and on the user object for the rest of the request."""
    if user is None or not user.is_authenticated:
        return EMPTY
    cached = getattr(user, "_gongzhi_scope", None)
    if cached is not None:
        return cached
    scope = memo("org").get(("scope", user.pk, user.is_superuser), lambda: _build_scope(user))
    attach(user, _gongzhi_scope=scope)
    return scope


def _build_scope(user: User) -> Scope:
    assignments = tuple(RoleAssignment.objects.filter(user=user).select_related("node", "department__jurisdiction"))
    roles = {a.role for a in assignments}
    node_paths: set[str] = set()
    departments: set[int] = set()
    by_cap: dict[str, set[str]] = {}
    for a in assignments:
        if a.department is not None:
            departments.add(a.department.pk)
            node_paths.add(a.department.jurisdiction.path)
            continue
        if a.node is None:
            continue
        node_paths.add(a.node.path)
        for cap in caps_of(a.role):
            by_cap.setdefault(cap, set()).add(a.node.path)
    if user.is_superuser:
        # A superuser holds the administrator's capabilities over the whole tree.
        roles.add(SUPERUSER_ROLE)
        roots = set(Node.objects.filter(parent__isnull=True).values_list("path", flat=True))
        node_paths |= roots
        for cap in CAPS[SUPERUSER_ROLE]:
            by_cap.setdefault(cap, set()).update(roots)
    people = by_cap.get(Cap.PEOPLE, set())
    phone = by_cap.get(Cap.PHONE, set())
    ids = by_cap.get(Cap.ID_NUMBER, set())
    edit = by_cap.get(Cap.REGISTER, set())

    household_ids: set[int] = set()
    linked: set[int] = set()
    own_household_id = None
    own_resident_id = None
    resident = (
        Resident.objects.filter(user=user)
        .values_list("id", "household_id", "household__grid_id", "path", "name", "phone", "user_id", named=True)
        .first()
    )
    own = None
    if resident is not None:
        own = OwnResident(
            resident.id, resident.household_id, resident.household__grid_id, resident.path, resident.name,
            resident.phone, resident.user_id,
        )  # fmt: skip
        node_paths.add(resident.path)  # their own grid and, through it, the breadcrumb above
        own_household_id = resident.household_id
        own_resident_id = resident.id
        household_ids.add(resident.household_id)
        roles.add(RESIDENT_ROLE)
        linked = set(
            HouseholdLink.objects.filter(member__resident_id=resident.id).values_list("household_id", flat=True)
        )
        household_ids |= linked

    return Scope(
        user_id=user.pk,
        roles=frozenset(roles),
        node_paths=minimal_paths(node_paths),
        people_paths=minimal_paths(people),
        phone_paths=minimal_paths(phone),
        id_paths=minimal_paths(ids),
        edit_paths=minimal_paths(edit),
        household_ids=frozenset(household_ids),
        linked_household_ids=frozenset(linked),
        own_household_id=own_household_id,
        own_resident_id=own_resident_id,
        department_ids=frozenset(departments),
        by_cap={cap: minimal_paths(ps) for cap, ps in by_cap.items()},
        assignments=assignments,
        own=own,
    )


# --- one predicate, two ways to ask it ------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """One way to see a row: its `field` (a column of the model, and the key of the row when it is held
    in memory) equals a value, is among values, or lies under one of some subtrees."""

    field: str
    match: str  # "eq" · "in" · "under"

    def q(self, value: Any) -> Q:
        if self.match == "under":
            return paths_q(tuple(value), self.field)
        if self.match == "in":
            return Q(**{f"{self.field}__in": list(value)})
        return Q(**{self.field: value}) if value is not None else Q(pk__in=[])

    def holds(self, value: Any, row_value: Any) -> bool:
        if self.match == "under":
            return bool(row_value) and under(value, row_value)
        if self.match == "in":
            return row_value in value
        return value is not None and row_value == value


def any_q(terms: tuple[tuple[Term, Any], ...]) -> Q:
    """The database's form of a gate: rows meeting any of the terms (each with its value)."""
    q = Q(pk__in=[])
    for term, value in terms:
        q |= term.q(value)
    return q


def any_holds(terms: tuple[tuple[Term, Any], ...], row: Any) -> bool:
    """The same gate asked of a row in memory (a dict, or an object with the fields as attributes)."""
    get = row.get if isinstance(row, dict) else (lambda k: getattr(row, k))
    return any(term.holds(value, get(term.field)) for term, value in terms)


# --- gates: each answers "missing" and "not yours" with the same NotFound ---------------------


def nodes_for(user: Viewer) -> QuerySet[Node]:
    return Node.objects.filter(get_scope(user).nodes_q())


def households_for(user: Viewer) -> QuerySet[Household]:
    scope = get_scope(user)
    if not scope.sees_people:
        return Household.objects.none()
    return Household.objects.filter(scope.households_q())


def residents_for(user: Viewer | None) -> QuerySet[Resident]:
    scope = get_scope(user)
    if not scope.sees_people:
        return Resident.objects.none()
    return Resident.objects.filter(scope.residents_q())


def departments_for(user: Viewer) -> QuerySet[Department]:
    """The list of departments is public to everyone logged in: residents need to know who does what."""
    if not getattr(user, "is_authenticated", False):
        return Department.objects.none()
    return Department.objects.filter(is_active=True)


def access_node(user: Viewer, node_id: int) -> Node:
    node = nodes_for(user).filter(pk=node_id).first()
    if node is None:
        raise NotFound()
    return node


def report_node(paths: tuple[str, ...], node_id: int | None) -> Node:
    """The node a report is asked for, among the subtrees `paths` where the user reads it (a capability's): the
    one with `node_id` if it lies under them, by default the top of the first. Missing and not theirs are the same
    404. (The party members' coverage, the disputes' figures.)"""
    if node_id is None:
        node = Node.objects.filter(path=paths[0]).first() if paths else None
    else:
        node = Node.objects.filter(pk=node_id).first()
        node = node if node is not None and under(paths, node.path) else None
    if node is None:
        raise NotFound(_("No such place in your area."), code="node.not_found")
    return node


def access_household(user: Viewer, household_id: int) -> Household:
    household = households_for(user).filter(pk=household_id).select_related("grid").first()
    if household is None:
        raise NotFound()
    return household


def own_resident(user: Viewer) -> Resident | None:
    """The resident record behind a login, as the services take it (from the scope: no query), or None."""
    own = get_scope(user).own
    return own.instance() if own is not None else None


def access_own_resident(user: Viewer) -> Resident:
    """The resident behind a login, for what only a resident does for themself (404 when not linked)."""
    resident = own_resident(user)
    if resident is None:
        raise NotFound(_("Your login is not linked to a resident."), code="resident.not_linked")
    return resident


def access_resident(user: Viewer, resident_id: int) -> Resident:
    resident = residents_for(user).filter(pk=resident_id).select_related("household").first()
    if resident is None:
        raise NotFound()
    return resident
