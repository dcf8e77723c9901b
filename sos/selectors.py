"""Reads of one-key calls that depend on who asks. Out of scope answers like missing (404)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import F, Q, QuerySet

from core.errors import NotFound
from org.access import Term, any_holds, any_q, get_scope, paths_q
from org.policy import under
from org.selectors import whole_number
from sos.models import Call, CallEvent, CareProfile, Responder
from sos.states import Action, State

if TYPE_CHECKING:
    from accounts.models import User, Viewer

# The change counter (core.memo) of who sees which calls, for what no other counter tells: a chain
# rearranged, a logout. Open live streams compare it (with "auth" and "org") to know when to re-check.
GATE_GENERATION = "sos"


def area_paths(user: Viewer) -> tuple[str, ...]:
    """The subtrees whose registrations and calls `user` looks after as staff: where their roles see
    people. None for department staff, party members, volunteers and residents."""
    scope = get_scope(user)
    return scope.people_paths if scope.is_staff else ()


def looks_after(user: Viewer, path: str) -> bool:
    """Whether `user` is staff over the grid at `path` (registers, raises for, takes and closes calls)."""
    return user is not None and get_scope(user).covers(area_paths(user), path)


@dataclass(frozen=True)
class CallGate:
    """Who sees which calls, as one predicate: asked of the database (`q`, for lists and pages) or of
    rows in memory (`sees`, for the live stream, which holds it for the stream's life).

    The caller's own calls; the calls of residents whose chain names the user; and, for staff, every
    call in the part of the tree whose people they see (department staff see none)."""

    user_id: int
    profile_ids: frozenset[int]  # residents whose chain names the user
    staff_paths: tuple[str, ...]

    def terms(self) -> tuple[tuple[Term, Any], ...]:
        return (
            (Term("owner_user_id", "eq"), self.user_id),
            (Term("profile_id", "in"), self.profile_ids),
            (Term("path", "under"), self.staff_paths),
        )

    def q(self) -> Q:
        return any_q(self.terms())

    def sees(self, row: dict[str, Any]) -> bool:
        return any_holds(self.terms(), row)

    def covers(self, other: CallGate) -> bool:
        """Whether this gate lets through everything `other` does (the same viewer, no sight lost)."""
        return (
            self.user_id == other.user_id
            and other.profile_ids <= self.profile_ids
            and all(under(self.staff_paths, p) for p in other.staff_paths)
        )


def call_gate(user: User) -> CallGate:
    return CallGate(
        user_id=user.pk,
        profile_ids=frozenset(Responder.objects.filter(user_id=user.pk).values_list("profile_id", flat=True)),
        staff_paths=area_paths(user),
    )


def calls_for(user: Viewer) -> QuerySet[Call]:
    if user is None or not user.is_authenticated:
        return Call.objects.none()
    # The caller's own calls are found through their resident record (owner_user_id in memory).
    return Call.objects.alias(owner_user_id=F("profile__resident__user_id")).filter(call_gate(user).q())


def access_call(user: Viewer, call_id: int) -> Call:
    call = calls_for(user).filter(pk=call_id).select_related("profile__resident__household", "responder").first()
    if call is None:
        raise NotFound()
    return call


def profiles_for(user: Viewer) -> QuerySet[CareProfile]:
    if user is None or not user.is_authenticated:
        return CareProfile.objects.none()
    paths = area_paths(user)
    if not paths:
        return CareProfile.objects.filter(resident__user_id=user.pk)
    return CareProfile.objects.filter(paths_q(paths, "path") | Q(resident__user_id=user.pk))


def access_profile(user: Viewer, profile_id: int) -> CareProfile:
    p = profiles_for(user).filter(pk=profile_id).select_related("resident").first()
    if p is None:
        raise NotFound()
    return p


def timeline(call: Call) -> QuerySet[CallEvent]:
    return CallEvent.objects.filter(call=call).order_by("id")


def responder_phone(viewer: Viewer, rung: Responder, *, field: str, channel: str, path: str = "") -> str:
    """A rung's number for staff arranging the chain: a member of staff's work phone as it is; anyone
    else's (a party member's own phone, a neighbour's) is personal, shown whole and logged."""
    if rung.user_id is not None and rung.phone == getattr(rung.user, "work_phone", None):
        return rung.phone
    return whole_number(
        viewer, rung.phone, field=field, allowed=True, channel=channel, path=path, subject=f"sos:responder:{rung.pk}"
    )


def is_call_responder(user: Viewer, call: Call) -> bool:
    """Whom the call asks to come: the responder who took it; while nobody has, everyone its alerts
    went to (the rung, the village, the command centre)."""
    if user is None or not user.is_authenticated:
        return False
    if call.responder_id is not None:
        return call.responder_id == user.pk
    if call.state != State.RAISED:
        return False
    alerted = CallEvent.objects.filter(call=call, action=Action.ALERT).values_list("to_users", flat=True)
    return any(user.pk in to_users for to_users in alerted)


def caller_contact(viewer: Viewer, call: Call, *, channel: str, path: str = "") -> dict[str, Any]:
    """Where the caller lives and the number to ring them on, as `viewer` may see them on the call.

    The call's responders (is_call_responder) are on their way: the whole phone, each read logged as the
    resident's (org.selectors.whole_number), and the address. Anyone else who sees the call (staff over
    the area, the rest of the chain) gets the phone masked, whatever their role shows elsewhere, and the
    address only where they see the resident's household anyway. The caller sees their own."""
    resident = call.profile.resident
    own = resident.user_id is not None and resident.user_id == viewer.pk
    responder = own or is_call_responder(viewer, call)
    phone = whole_number(
        viewer, resident.phone, field="phone", allowed=responder, channel=channel, path=path, resident=resident
    )
    scope = get_scope(viewer)
    sees_home = (
        responder or scope.covers(scope.people_paths, resident.path) or (resident.household_id in scope.household_ids)
    )
    return {
        "phone": phone,
        "phone_masked": not responder and bool(resident.phone),
        "address": resident.household.address if sees_home else "",
    }
