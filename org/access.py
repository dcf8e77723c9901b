"""The one place that decides who sees what.

Every scoped read in Gongzhi asks this module. Rules:
- Staff see the subtree of the node each of their role assignments names; several assignments add up.
- Department staff see their department's jurisdiction in the tree, but none of its people: they will
  see the work dispatched to them, not the register of residents.
- A party member sees the households linked to them (党员联户) and their own.
- A resident sees their own household.
- Out of scope answers exactly like missing (404), so nobody can probe what exists elsewhere.
- Personal numbers are masked unless a role whose subtree holds that resident needs them; the role
  table below says which. Reading an unmasked ID number or phone is logged by the caller through
  core.audit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from accounts.models import Role, RoleAssignment
from core.errors import NotFound
from core.memo import memo
from org.models import Department, Household, HouseholdLink, Node, Resident, path_ids, path_range

if TYPE_CHECKING:
    from accounts.models import User


@dataclass(frozen=True)
class RoleCaps:
    people: bool  # sees households and residents in its subtree
    phone: bool  # sees phone numbers unmasked there
    id_number: bool  # sees ID numbers unmasked there


# What each role needs to do its job, and no more.
ROLE_CAPS: dict[str, RoleCaps] = {
    Role.ADMIN: RoleCaps(people=True, phone=False, id_number=False),
    Role.LEADER: RoleCaps(people=True, phone=False, id_number=False),
    Role.DISPATCHER: RoleCaps(people=True, phone=True, id_number=False),  # calls residents back
    Role.DEPT_STAFF: RoleCaps(people=False, phone=False, id_number=False),
    Role.TOWN_STAFF: RoleCaps(people=True, phone=True, id_number=False),
    Role.VILLAGE_STAFF: RoleCaps(people=True, phone=True, id_number=True),  # files papers for residents
    Role.GRID_WORKER: RoleCaps(people=True, phone=True, id_number=True),  # 代办 needs the ID number
    Role.PARTY_MEMBER: RoleCaps(people=False, phone=False, id_number=False),  # linked households only
    Role.VOLUNTEER: RoleCaps(people=False, phone=False, id_number=False),
    Role.RESIDENT: RoleCaps(people=False, phone=False, id_number=False),  # own household only
}

# Roles that keep the register of households and residents (in their own subtree).
REGISTER_EDITORS = frozenset({Role.ADMIN, Role.TOWN_STAFF, Role.VILLAGE_STAFF, Role.GRID_WORKER})

STAFF_ROLES = frozenset(r for r in Role if r not in (Role.RESIDENT, Role.VOLUNTEER, Role.PARTY_MEMBER))


def _upper(path: str) -> str:
    return path[:-1] + "0"


def minimal_paths(paths: set[str]) -> tuple[str, ...]:
    """Drop paths that lie inside another path of the set."""
    out: list[str] = []
    for p in sorted(paths):
        if not any(p.startswith(q) for q in out):
            out.append(p)
    return tuple(out)


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
    assignments: tuple[RoleAssignment, ...] = field(default=(), compare=False, repr=False)
    own: OwnResident | None = field(default=None, compare=False, repr=False)

    @property
    def is_staff(self) -> bool:
        return bool(self.roles & STAFF_ROLES)

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
        return any(p <= path < _upper(p) for p in paths)

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


def get_scope(user: Any) -> Scope:
    """The scope of `user`: kept in memory between requests (core.memo "org": any change to roles,
    residents, links or the tree rebuilds it) and on the user object for the rest of the request."""
    if user is None or not user.is_authenticated:
        return EMPTY
    cached = getattr(user, "_gongzhi_scope", None)
    if cached is not None:
        return cached
    scope = memo("org").get(("scope", user.pk, user.is_superuser), lambda: _build_scope(user))
    user._gongzhi_scope = scope
    return scope


def _build_scope(user: User) -> Scope:
    assignments = tuple(RoleAssignment.objects.filter(user=user).select_related("node", "department__jurisdiction"))
    roles = {a.role for a in assignments}
    node_paths: set[str] = set()
    people: set[str] = set()
    phone: set[str] = set()
    ids: set[str] = set()
    edit: set[str] = set()
    departments: set[int] = set()
    for a in assignments:
        caps = ROLE_CAPS[a.role]
        if a.department_id is not None:
            departments.add(a.department_id)
            node_paths.add(a.department.jurisdiction.path)
            continue
        if a.node is None:
            continue
        node_paths.add(a.node.path)
        if caps.people:
            people.add(a.node.path)
        if caps.phone:
            phone.add(a.node.path)
        if caps.id_number:
            ids.add(a.node.path)
        if a.role in REGISTER_EDITORS:
            edit.add(a.node.path)
    if user.is_superuser:
        roles.add(Role.ADMIN)
        for root in Node.objects.filter(parent__isnull=True).values_list("path", flat=True):
            node_paths.add(root)
            people.add(root)

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
        roles.add(Role.RESIDENT)
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
        assignments=assignments,
        own=own,
    )


# --- gates: each answers "missing" and "not yours" with the same NotFound ---------------------


def nodes_for(user: Any) -> QuerySet[Node]:
    return Node.objects.filter(get_scope(user).nodes_q())


def households_for(user: Any) -> QuerySet[Household]:
    scope = get_scope(user)
    if not scope.sees_people:
        return Household.objects.none()
    return Household.objects.filter(scope.households_q())


def residents_for(user: Any) -> QuerySet[Resident]:
    scope = get_scope(user)
    if not scope.sees_people:
        return Resident.objects.none()
    return Resident.objects.filter(scope.residents_q())


def departments_for(user: Any) -> QuerySet[Department]:
    """The list of departments is public to everyone logged in: residents need to know who does what."""
    if not getattr(user, "is_authenticated", False):
        return Department.objects.none()
    return Department.objects.filter(is_active=True)


def access_node(user: Any, node_id: int) -> Node:
    node = nodes_for(user).filter(pk=node_id).first()
    if node is None:
        raise NotFound()
    return node


def access_household(user: Any, household_id: int) -> Household:
    household = households_for(user).filter(pk=household_id).select_related("grid").first()
    if household is None:
        raise NotFound()
    return household


def own_resident(user: Any) -> Resident | None:
    """The resident record behind a login, as the services take it (from the scope: no query), or None."""
    own = get_scope(user).own
    return own.instance() if own is not None else None


def access_own_resident(user: Any) -> Resident:
    """The resident behind a login, for what only a resident does for themself (404 when not linked)."""
    resident = own_resident(user)
    if resident is None:
        raise NotFound(_("Your login is not linked to a resident."), code="resident.not_linked")
    return resident


def access_resident(user: Any, resident_id: int) -> Resident:
    resident = residents_for(user).filter(pk=resident_id).select_related("household").first()
    if resident is None:
        raise NotFound()
    return resident
