"""Who may do what, where: the one table of roles and capabilities.

Every gate, view, API endpoint, template and admin page asks this module, never a role name:
- `CAPS` says which capabilities each role brings (role → capabilities);
- a role held over a node brings its capabilities over that node's subtree; department staff hold
  theirs over their department's work (the scope rule of each capability is in its comment);
- a superuser holds the administrator's capabilities over every root of the tree;
- `paths(user, cap)` is where a user holds a capability, `may(user, cap, path)` whether they hold it
  there, `under(paths, path)` the one test of "lies in one of these subtrees";
- `holders(cap)` filters role assignments for the people to tell or to call (a work order's handlers, a
  one-key call's chain), and `nav(user)` says which sections a user's menu shows.

Seeing and masking are built on this table by org.access (the scope of each user); work orders, the
points, one-key calls and the dashboards put their gates on `paths` and `may`. Role names appear in
no other module (a test greps for them).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from django.db.models import Q

from accounts.models import Role


class Cap(StrEnum):
    # --- the register of people (scope: the subtree) ------------------------------------------------
    PEOPLE = "people"  # sees households and residents
    PHONE = "phone"  # sees their phone numbers unmasked (logged)
    ID_NUMBER = "id_number"  # sees their ID numbers unmasked (logged)
    REGISTER = "register"  # keeps the register: adds and edits households and residents
    # --- work orders (scope: orders located in the subtree, or handed to a unit in it) ----------------
    ORDERS_SEE = "orders.see"
    ORDERS_DISPATCH = "orders.dispatch"  # dispatch, reassign, answer, close, reopen, 甄别, extensions, duplicates
    ORDERS_SUPERVISE = "orders.supervise"  # 催办/督办, callbacks and spot checks
    ORDERS_HANDLE = "orders.handle"  # handles what is handed to a unit of the subtree (department staff: theirs)
    ORDERS_PROXY = "orders.proxy"  # files appeals for residents (代办, hotline, window, patrol, relay)
    ORDERS_TRIAGE = "orders.triage"  # is told of orders waiting to be dispatched
    # --- the command centre (scope: the subtree) -------------------------------------------------------
    DASHBOARD = "dashboard"  # the numbers of the subtree, down to its grids
    DASHBOARD_DEPARTMENTS = "dashboard.departments"  # and of the departments serving it
    ASSESS = "assess"  # runs the monthly assessment, decides appeals
    # --- points and volunteers (scope: the subtree) ------------------------------------------------------
    POINTS_MANAGE = "points.manage"  # shops, goods, awards, deciding claims, activities, nominations
    POINTS_FILE = "points.file"  # files points claims for residents
    POINTS_WATCH = "points.watch"  # reads the points figures of the area
    # --- one-key calls (scope: the node the role is held over) ------------------------------------------
    SOS_GRID = "sos.grid"  # the first rung of a resident's chain: their grid's worker
    SOS_VOLUNTEER = "sos.volunteer"  # the village's volunteers on the chain
    SOS_VILLAGE = "sos.village"  # the village on duty
    SOS_CENTRE = "sos.centre"  # the command centre, last rung (see CENTRE_LADDER)
    # --- party members and households (scope: the subtree; a member: the households linked to them) -----
    PARTY_VISIT = "party.visit"  # visits the subtree's households and deals with the needs found
    PARTY_MANAGE = "party.manage"  # links members and households, sets visit plans; sees visits and needs
    PARTY_WATCH = "party.watch"  # reads the coverage and activity reports
    # --- notices (scope: the subtree) ----------------------------------------------------------------------
    NOTICES_PUBLISH = "notices.publish"  # publishes notices to the subtree and reads who has read them
    # --- village deliberation (scope: the subtree; residents: their own village, by the matter's rules) --------
    DELIBERATION_MANAGE = "deliberation.manage"  # the village committee: agenda, votes, paper tallies, 三公开, rules
    DELIBERATION_PROXY = "deliberation.proxy"  # proposes and signs for residents without a phone
    DELIBERATION_WATCH = "deliberation.watch"  # reads matters, results and overdue disclosures of the subtree
    # --- disputes and mediation (scope: the subtree; a case itself: its mediator, the mediators registered over its
    # place, its parties and who reported it: mediation.selectors) ---------------------------------------------------
    MEDIATION_REPORT = "mediation.report"  # reports disputes found on patrol or brought in; turns orders into cases
    MEDIATION_MANAGE = "mediation.manage"  # registers the mediators of the subtree's villages and towns
    MEDIATION_WATCH = "mediation.watch"  # reads the settlement figures (小事不出村); told at once of red flags
    # --- integration with other systems (scope: the subtree) ---------------------------------------------------
    INTEGRATIONS_MANAGE = "integrations.manage"  # webhooks, hotline sources and their secrets; told when one fails
    INTEGRATIONS_EXCHANGE = "integrations.exchange"  # imports 12345 hotline files into the subtree, exports replies
    # --- personal data (个人信息保护法; scope: the residents of the subtree) ------------------------------------------
    PRIVACY_HANDLE = "privacy.handle"  # answers residents' correction and deletion requests (who keeps the register)
    PRIVACY_AUDIT = "privacy.audit"  # exports the log of who read whose personal numbers, for an audit


C = Cap
_LOCAL = {C.PEOPLE, C.PHONE, C.ORDERS_SEE, C.ORDERS_HANDLE, C.ORDERS_PROXY, C.DASHBOARD}

# What each role needs to do its job, and no more.
CAPS: dict[str, frozenset[Cap]] = {
    Role.ADMIN: frozenset(
        {C.PEOPLE, C.REGISTER, C.ORDERS_SEE, C.ORDERS_DISPATCH, C.ORDERS_SUPERVISE, C.ORDERS_PROXY}
        | {C.DASHBOARD, C.DASHBOARD_DEPARTMENTS, C.ASSESS, C.POINTS_MANAGE, C.POINTS_FILE, C.SOS_CENTRE}
        | {C.PARTY_MANAGE, C.PARTY_WATCH, C.NOTICES_PUBLISH, C.DELIBERATION_MANAGE, C.DELIBERATION_WATCH}
        | {C.MEDIATION_REPORT, C.MEDIATION_MANAGE, C.MEDIATION_WATCH, C.INTEGRATIONS_MANAGE, C.INTEGRATIONS_EXCHANGE}
        | {C.PRIVACY_HANDLE, C.PRIVACY_AUDIT}
    ),
    Role.LEADER: frozenset(
        {C.PEOPLE, C.ORDERS_SEE, C.ORDERS_SUPERVISE, C.DASHBOARD, C.DASHBOARD_DEPARTMENTS, C.ASSESS}
        | {C.POINTS_WATCH, C.SOS_CENTRE, C.PARTY_WATCH, C.NOTICES_PUBLISH, C.DELIBERATION_WATCH, C.MEDIATION_WATCH}
        | {C.PRIVACY_AUDIT}
    ),
    # The dispatcher calls residents back: phones, not ID numbers.
    Role.DISPATCHER: frozenset(
        {C.PEOPLE, C.PHONE, C.ORDERS_SEE, C.ORDERS_DISPATCH, C.ORDERS_SUPERVISE, C.ORDERS_PROXY, C.ORDERS_TRIAGE}
        | {C.DASHBOARD, C.DASHBOARD_DEPARTMENTS, C.POINTS_WATCH, C.SOS_CENTRE, C.PARTY_WATCH}
        | {C.MEDIATION_REPORT, C.MEDIATION_WATCH, C.INTEGRATIONS_EXCHANGE}
    ),
    # Department staff see the work dispatched to their department, not the register of residents.
    Role.DEPT_STAFF: frozenset({C.ORDERS_HANDLE}),
    Role.TOWN_STAFF: frozenset(
        _LOCAL
        | {C.REGISTER, C.POINTS_MANAGE, C.POINTS_FILE, C.PARTY_VISIT, C.PARTY_MANAGE, C.PARTY_WATCH}
        | {C.NOTICES_PUBLISH, C.DELIBERATION_WATCH, C.MEDIATION_REPORT, C.MEDIATION_MANAGE, C.MEDIATION_WATCH}
        | {C.PRIVACY_HANDLE}
    ),
    # Village staff file papers for residents (ID numbers) and are on duty for one-key calls.
    Role.VILLAGE_STAFF: frozenset(
        _LOCAL
        | {C.ID_NUMBER, C.REGISTER, C.POINTS_MANAGE, C.POINTS_FILE, C.SOS_VILLAGE}
        | {C.PARTY_VISIT, C.PARTY_MANAGE, C.PARTY_WATCH, C.NOTICES_PUBLISH}
        | {C.DELIBERATION_MANAGE, C.DELIBERATION_PROXY, C.DELIBERATION_WATCH, C.MEDIATION_REPORT, C.MEDIATION_WATCH}
        | {C.PRIVACY_HANDLE}
    ),
    # 代办 needs the ID number; the grid worker is the first a one-key call reaches.
    Role.GRID_WORKER: frozenset(
        _LOCAL
        | {C.ID_NUMBER, C.REGISTER, C.POINTS_FILE, C.SOS_GRID, C.PARTY_VISIT, C.DELIBERATION_PROXY}
        | {C.MEDIATION_REPORT}
    ),
    # A party member relays appeals of the households linked to them, visits them and deals with their
    # needs (their phones: org.access; the households: the links, not a place).
    Role.PARTY_MEMBER: frozenset({C.ORDERS_PROXY}),
    Role.VOLUNTEER: frozenset({C.SOS_VOLUNTEER}),
    Role.RESIDENT: frozenset(),  # their own household and orders, whatever the table says
    # A hotline system's account (integrations.HotlineSource): files the orders it sends into its area.
    Role.INTEGRATION: frozenset({C.ORDERS_PROXY}),
}

# A superuser holds this role's capabilities over every root of the tree.
SUPERUSER_ROLE: str = Role.ADMIN
# Everyone linked to a resident record holds this role (their own household and orders).
RESIDENT_ROLE: str = Role.RESIDENT
# The role of a connected system's account (a 12345 hotline's: integrations.HotlineSource).
INTEGRATION_ROLE: str = Role.INTEGRATION
# Roles held over a department rather than a node.
DEPARTMENT_ROLES = frozenset({Role.DEPT_STAFF})
# Roles that make someone staff (they work for the county), as against the people it serves.
STAFF_ROLES = frozenset(
    r for r in Role if r not in (Role.RESIDENT, Role.VOLUNTEER, Role.PARTY_MEMBER, Role.INTEGRATION)
)
# Who the command centre is for a one-key call, in the order they are tried: the first group that has
# anyone over the call's place is alerted.
CENTRE_LADDER: tuple[frozenset[str], ...] = (
    frozenset({Role.DISPATCHER}),
    frozenset({Role.LEADER}),
    frozenset({Role.ADMIN}),
)


def roles_with(cap: Cap) -> frozenset[str]:
    return frozenset(role for role, caps in CAPS.items() if cap in caps)


def caps_of(role: str) -> frozenset[Cap]:
    return CAPS.get(role, frozenset())


def holds_over_department(role: str) -> bool:
    return role in DEPARTMENT_ROLES


def is_staff_role(role: str) -> bool:
    return role in STAFF_ROLES


def may_respond(role: str) -> bool:
    """Whether someone holding `role` over a place may be on its residents' one-key call chains: staff,
    party members and volunteers of the place (not department staff, who hold no place, nor residents)."""
    return role not in DEPARTMENT_ROLES and role != RESIDENT_ROLE


# --- subtrees -------------------------------------------------------------------------------------


def under(paths: Iterable[str], path: str) -> bool:
    """Whether `path` lies in one of the subtrees rooted at `paths` (tree paths end with "/")."""
    return any(path.startswith(p) for p in paths)


def minimal_paths(paths: Iterable[str]) -> tuple[str, ...]:
    """Drop paths that lie inside another path of the set."""
    out: list[str] = []
    for p in sorted(set(paths)):
        if not under(out, p):
            out.append(p)
    return tuple(out)


# --- who holds what ------------------------------------------------------------------------------


def _scope(user: Any) -> Any:
    from org.access import get_scope  # access builds the scope on this table

    return get_scope(user)


def paths(user: Any, cap: Cap) -> tuple[str, ...]:
    """The subtrees over which `user` holds `cap` (through a node role, or as a superuser over the roots)."""
    scope = _scope(user)
    return scope.cap_paths(cap)


def may(user: Any, cap: Cap, path: str | None = None) -> bool:
    """Whether `user` holds `cap` over `path` (anywhere, without one). Department staff hold their
    capabilities over their departments' work, which `departments` answers."""
    found = paths(user, cap)
    if path is None:
        return bool(found) or (bool(_scope(user).department_ids) and cap in _department_caps())
    return under(found, path)


def departments(user: Any, cap: Cap) -> frozenset[int]:
    """The departments over whose work `user` holds `cap`."""
    return _scope(user).department_ids if cap in _department_caps() else frozenset()


def _department_caps() -> frozenset[Cap]:
    return frozenset(c for r in DEPARTMENT_ROLES for c in CAPS[r])


def holders(cap: Cap) -> Q:
    """Role assignments that bring `cap`: filter RoleAssignment with it (and with the place)."""
    return Q(role__in=roles_with(cap))


def centre_ladder() -> tuple[Q, ...]:
    """The command centre's groups for a one-key call, in order (filters of RoleAssignment)."""
    return tuple(Q(role__in=group) for group in CENTRE_LADDER)


# --- menus ------------------------------------------------------------------------------------------


def nav(user: Any) -> dict[str, bool]:
    """Which sections a user's menu shows: the dispatch console to those who dispatch or supervise work
    orders, the work queue to those who handle them, household visits to party members with households and to
    staff who visit or manage them, API tokens to staff (whose clients call the API for
    their work; a resident has no use for them). (The command centre's link asks dashboards.context, which
    knows a department's own dashboard too.)"""
    if user is None or not getattr(user, "is_authenticated", False):
        return {}
    return {
        "console": may(user, Cap.ORDERS_DISPATCH) or may(user, Cap.ORDERS_SUPERVISE),
        "queue": may(user, Cap.ORDERS_HANDLE),
        "api": _scope(user).is_staff,
        # Household visits: a party member with households linked, staff who visit or manage them.
        "party": bool(_scope(user).linked_household_ids) or may(user, Cap.PARTY_VISIT) or may(user, Cap.PARTY_MANAGE),
        # Village deliberation: residents (their village's matters, votes, 三公开 and rules) and its staff.
        "deliberation": _scope(user).own is not None
        or any(may(user, c) for c in (Cap.DELIBERATION_MANAGE, Cap.DELIBERATION_PROXY, Cap.DELIBERATION_WATCH)),
        # Disputes: residents (their own cases), mediators, and staff who report, register mediators or watch.
        "mediation": _scope(user).own is not None
        or any(may(user, c) for c in (Cap.MEDIATION_REPORT, Cap.MEDIATION_MANAGE, Cap.MEDIATION_WATCH)),
        # Connected systems: 12345 files for dispatchers, hotline sources and webhooks for administrators.
        "integrations": may(user, Cap.INTEGRATIONS_EXCHANGE) or may(user, Cap.INTEGRATIONS_MANAGE),
        # Residents' requests about their personal data (correction, deletion) and the access log's export.
        "privacy": may(user, Cap.PRIVACY_HANDLE) or may(user, Cap.PRIVACY_AUDIT),
        # 长辈版 (accounts.mode) is for the people the county serves: its switch, and the mode itself.
        "elder": not _scope(user).is_staff,
    }
