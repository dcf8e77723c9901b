"""Who reads which notice: a notice reaches its audience in its area — residents living under its node,
staff whose role is held there or below, party members whose branch lies there — while it is published and
not expired. Those who publish over a subtree (org.policy's notices.publish) see every notice of it, with
how many of its audience have read it. Missing and not yours are the same 404."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _

from core.clock import now
from core.errors import NotFound
from notices.models import Attendance, Event, Notice, Read
from org.access import Viewer, get_scope, paths_q
from org.models import Node, PartyMember, Resident, path_prefixes
from org.policy import Cap, is_staff_role, under

if TYPE_CHECKING:
    from accounts.models import RoleAssignment


def publish_paths(user: Viewer) -> tuple[str, ...]:
    return get_scope(user).cap_paths(Cap.NOTICES_PUBLISH)


def _staff_places(assignments: tuple[RoleAssignment, ...]) -> set[str]:
    places: set[str] = set()
    for a in assignments:
        if not is_staff_role(a.role):
            continue
        if a.node is not None:
            places.add(a.node.path)
        elif a.department is not None:
            places.add(a.department.jurisdiction.path)
    return places


def audience_q(user: Viewer) -> Q:
    """The notices addressed to `user` (whatever their state), as a filter."""
    scope = get_scope(user)
    if scope.user_id is None:
        return Q(pk__in=[])
    q = Q(pk__in=[])
    if scope.own is not None:
        q |= Q(to_residents=True, path__in=path_prefixes(scope.own.path))
        branch = PartyMember.objects.filter(resident_id=scope.own.id).values_list("branch__path", flat=True).first()
        if branch:
            q |= Q(to_party=True, path__in=path_prefixes(branch))
    staff = {p for place in _staff_places(scope.assignments) for p in path_prefixes(place)}
    if staff:
        q |= Q(to_staff=True, path__in=sorted(staff))
    return q


def current(at: dt.datetime | None = None) -> Q:
    at = at or now()
    return Q(state=Notice.State.PUBLISHED) & (Q(expires_at__isnull=True) | Q(expires_at__gt=at))


def notices_for(user: Viewer, *, at: dt.datetime | None = None) -> QuerySet[Notice]:
    """The notices `user` is to read now: pinned first, then the newest."""
    return (
        Notice.objects.filter(audience_q(user) & current(at))
        .select_related("node")
        .prefetch_related("attachments")
        .order_by("-pinned", "-published_at", "-id")
    )


def managed(user: Viewer) -> QuerySet[Notice]:
    """Every notice of the subtrees where `user` publishes, with its number of reads."""
    paths = publish_paths(user)
    if not paths:
        return Notice.objects.none()
    return (
        Notice.objects.filter(paths_q(paths, "path"))
        .select_related("node", "created_by")
        .prefetch_related("attachments")
        .annotate(read_count=Count("reads"))
        .order_by("-created_at", "-id")
    )


def manages(user: Viewer, notice: Notice) -> bool:
    return under(publish_paths(user), notice.path)


def access_notice(user: Viewer, notice_id: int) -> Notice:
    """A notice `user` may open: addressed to them and current, or in a subtree where they publish."""
    n = Notice.objects.filter(pk=notice_id).select_related("node", "created_by").first()
    if n is None or not (
        manages(user, n) or Notice.objects.filter(audience_q(user) & current(), pk=notice_id).exists()
    ):
        raise NotFound(_("No such notice."), code="notice.not_found")
    return n


def unread_count(user: Viewer) -> int:
    uid = get_scope(user).user_id
    return notices_for(user).exclude(reads__user_id=uid).count() if uid is not None else 0


@dataclass(frozen=True)
class Reach:
    audience: int  # accounts the notice is addressed to
    read: int


def reach(notice: Notice) -> Reach:
    """How many accounts the notice is addressed to, and how many of them have read it."""
    from accounts.models import RoleAssignment

    users: set[int] = set()
    under_node = paths_q((notice.path,), "path")
    if notice.to_residents:
        users |= set(Resident.objects.filter(under_node, user__isnull=False).values_list("user_id", flat=True))
    if notice.to_party:
        users |= set(
            PartyMember.objects.filter(
                paths_q((notice.path,), "branch__path"), resident__user__isnull=False
            ).values_list("resident__user_id", flat=True)
        )
    if notice.to_staff:
        for ra in RoleAssignment.objects.filter(
            paths_q((notice.path,), "node__path") | paths_q((notice.path,), "department__jurisdiction__path")
        ):
            if is_staff_role(ra.role):
                users.add(ra.user_id)
    read = notice.reads.filter(user_id__in=users).count() if users else 0
    return Reach(len(users), read)


def publish_nodes(user: Viewer) -> QuerySet[Node]:
    """The places `user` may publish to: their subtrees, down to the grids."""
    paths = publish_paths(user)
    if not paths:
        return Node.objects.none()
    return Node.objects.filter(paths_q(paths, "path")).order_by("path")[:500]


# --- events ---------------------------------------------------------------------------------------------------


def events_for(user: Viewer, *, start: dt.datetime, end: dt.datetime) -> QuerySet[Event]:
    """The events of the week for a resident: those of their area (their grid and every place above it),
    published, starting in [start, end)."""
    scope = get_scope(user)
    if scope.own is None:
        return Event.objects.none()
    return (
        Event.objects.filter(
            path__in=path_prefixes(scope.own.path), state=Event.State.PUBLISHED, starts_at__gte=start,
            starts_at__lt=end,
        )
        .select_related("node", "point")
        .order_by("starts_at", "id")
    )  # fmt: skip


def managed_events(user: Viewer) -> QuerySet[Event]:
    paths = publish_paths(user)
    if not paths:
        return Event.objects.none()
    return Event.objects.filter(paths_q(paths, "path")).select_related("node", "point").order_by("-starts_at", "-id")


def access_event(user: Viewer, event_id: int) -> Event:
    """An event `user` may open: one of their area's (as a resident), or one where they publish."""
    e = Event.objects.filter(pk=event_id).select_related("node", "point").first()
    scope = get_scope(user)
    mine = e is not None and scope.own is not None and scope.own.path.startswith(e.path)
    if e is None or not (mine or under(publish_paths(user), e.path)):
        raise NotFound(_("No such event."), code="event.not_found")
    return e


def my_attendance(user: Viewer, events: list[Event]) -> dict[int, Attendance]:
    uid = get_scope(user).user_id
    if uid is None:
        return {}
    return {a.event_id: a for a in Attendance.objects.filter(user_id=uid, event__in=events)}


def read_ids(user: Viewer, notices: list[Notice]) -> set[int]:
    """Which of `notices` `user` has opened: one query for a page."""
    uid = get_scope(user).user_id
    if uid is None or not notices:
        return set()
    return set(Read.objects.filter(user_id=uid, notice__in=notices).values_list("notice_id", flat=True))
