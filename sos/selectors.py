"""Reads of one-key calls that depend on who asks. Out of scope answers like missing (404)."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from core.errors import NotFound
from org.access import get_scope, paths_q
from sos.models import Call, CallEvent, CareProfile, Responder


def area_paths(user: Any) -> tuple[str, ...]:
    """The subtrees whose registrations and calls `user` looks after as staff: where their roles see
    people. None for department staff, party members, volunteers and residents."""
    scope = get_scope(user)
    return scope.people_paths if scope.is_staff else ()


def looks_after(user: Any, path: str) -> bool:
    """Whether `user` is staff over the grid at `path` (registers, raises for, takes and closes calls)."""
    return user is not None and get_scope(user).covers(area_paths(user), path)


def _calls_q(user: Any) -> Q:
    """The caller's own calls; the calls of residents whose chain names the user; and, for staff, every
    call in the part of the tree whose people they see (department staff see none)."""
    q = Q(profile__resident__user_id=user.pk) | Q(
        profile_id__in=Responder.objects.filter(user_id=user.pk).values("profile_id")
    )
    if paths := area_paths(user):
        q |= paths_q(paths, "path")
    return q


def calls_for(user: Any) -> QuerySet[Call]:
    if user is None or not user.is_authenticated:
        return Call.objects.none()
    return Call.objects.filter(_calls_q(user))


def access_call(user: Any, call_id: int) -> Call:
    call = calls_for(user).filter(pk=call_id).select_related("profile__resident", "responder").first()
    if call is None:
        raise NotFound()
    return call


def profiles_for(user: Any) -> QuerySet[CareProfile]:
    if user is None or not user.is_authenticated:
        return CareProfile.objects.none()
    paths = area_paths(user)
    if not paths:
        return CareProfile.objects.filter(resident__user_id=user.pk)
    return CareProfile.objects.filter(paths_q(paths, "path") | Q(resident__user_id=user.pk))


def access_profile(user: Any, profile_id: int) -> CareProfile:
    p = profiles_for(user).filter(pk=profile_id).select_related("resident").first()
    if p is None:
        raise NotFound()
    return p


def timeline(call: Call) -> QuerySet[CallEvent]:
    return CallEvent.objects.filter(call=call).order_by("id")
