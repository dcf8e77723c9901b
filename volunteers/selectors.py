"""Reads of volunteer service that depend on who asks.

Activities are public to the people they are for: a village's activities to the volunteers of its town,
a town's to its county. Organisers — staff over the activity's node, the leader of its team, whoever
published it — see and handle its sign-ups."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, TypedDict

from django.conf import settings
from django.db.models import Count, DecimalField, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from core.clock import now
from core.errors import NotFound
from org.access import get_scope, paths_q
from org.models import path_prefixes
from points.selectors import manager_paths, manages
from volunteers.models import Activity, Participation, Team, TeamMember, Volunteer
from volunteers.states import ACTIVITY, PARTICIPATION

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

    from accounts.models import Viewer


class Counts(TypedDict):
    """What with_counts adds to an activity."""

    taken: int
    waiting: int


class Members(TypedDict):
    """What with_members adds to a team."""

    members_n: int
    leader_name: str | None


class Hours(TypedDict):
    """What with_hours adds to a volunteer."""

    hours: Decimal


# The states that hold a place (volunteers.services counts places by the same).
TAKEN = (Participation.State.SIGNED_UP, Participation.State.CHECKED_IN, Participation.State.CHECKED_OUT)


def led_team_ids(user: Viewer) -> frozenset[int]:
    """The teams `user` leads now."""
    if user is None or not user.is_authenticated:
        return frozenset()
    return frozenset(
        TeamMember.objects.filter(
            volunteer__resident__user_id=user.pk, role=TeamMember.Role.LEADER, left_at__isnull=True
        ).values_list("team_id", flat=True)
    )


def organises(user: Viewer, activity: Activity, led: frozenset[int] | None = None) -> bool:
    """Staff over the activity's node, whoever published it, or the leader of its team. Pass `led`
    (led_team_ids) when asking about a list of activities: one query instead of one per activity."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if activity.created_by_id == user.pk or manages(user, activity.path):
        return True
    if activity.team_id is None:
        return False
    return activity.team_id in (led if led is not None else led_team_ids(user))


def with_counts(qs: QuerySet[Activity]) -> QuerySet[WithAnnotations[Activity, Counts]]:
    """Activities with `taken` (places taken) and `waiting` (on the waiting list), in the same query."""
    return qs.annotate(
        taken=Count("participations", filter=Q(participations__state__in=TAKEN)),
        waiting=Count("participations", filter=Q(participations__state=Participation.State.WAITLISTED)),
    )


def _public_q(user: Viewer) -> Q:
    """Rows of nodes above the user's own grid and the nodes beside it in their town."""
    own = get_scope(user).own
    if own is None:
        return Q(pk__in=[])
    prefixes = path_prefixes(own.path)
    town = prefixes[-3] if len(prefixes) >= 3 else prefixes[0]
    return Q(path__in=prefixes) | paths_q((town,), "path")


def activities_for(user: Viewer) -> QuerySet[Activity]:
    if user is None or not user.is_authenticated:
        return Activity.objects.none()
    q = _public_q(user) | Q(created_by_id=user.pk)
    if paths := manager_paths(user):
        q |= paths_q(paths, "path")
    led = TeamMember.objects.filter(
        volunteer__resident__user_id=user.pk, role=TeamMember.Role.LEADER, left_at__isnull=True
    ).values("team_id")
    q |= Q(team_id__in=led)
    return Activity.objects.filter(q)


def access_activity(user: Viewer, activity_id: int) -> WithAnnotations[Activity, Counts]:
    a = with_counts(activities_for(user)).filter(pk=activity_id).select_related("team", "rule", "node").first()
    if a is None:
        raise NotFound(_("No such activity."), code="volunteers.activity_not_found")
    return a


def week_preview(user: Viewer, start: dt.datetime) -> QuerySet[WithAnnotations[Activity, Counts]]:
    """一周活动预告: the open activities of the seven days from `start`."""
    return with_counts(
        activities_for(user).filter(
            state=Activity.State.PUBLISHED, starts_at__gte=start, starts_at__lt=start + dt.timedelta(days=7)
        )
    )


def teams_for(user: Viewer) -> QuerySet[Team]:
    if user is None or not getattr(user, "is_authenticated", False):
        return Team.objects.none()
    q = _public_q(user)
    if paths := manager_paths(user):
        q |= paths_q(paths, "path")
    return Team.objects.filter(q)


def with_members(qs: QuerySet[Team]) -> QuerySet[WithAnnotations[Team, Members]]:
    """Teams with `members_n` (members now) and `leader_name`, in the same query."""
    leader = TeamMember.objects.filter(team=OuterRef("pk"), role=TeamMember.Role.LEADER, left_at__isnull=True)
    return qs.annotate(
        members_n=Count("members", filter=Q(members__left_at__isnull=True)),
        leader_name=Subquery(leader.order_by("id").values("volunteer__resident__name")[:1]),
    )


def with_hours(qs: QuerySet[Volunteer]) -> QuerySet[WithAnnotations[Volunteer, Hours]]:
    """Volunteers with `hours`, their honour record (see hours_of), in the same query."""
    return qs.annotate(
        hours=Coalesce(
            Sum("participations__hours", filter=Q(participations__state=Participation.State.DONE)),
            Decimal(0),
            output_field=DecimalField(max_digits=9, decimal_places=1),
        )
    )


def access_team(user: Viewer, team_id: int) -> Team:
    t = teams_for(user).filter(pk=team_id).first()
    if t is None:
        raise NotFound(_("No such team."), code="volunteers.team_not_found")
    return t


def volunteers_for(user: Viewer) -> QuerySet[Volunteer]:
    if user is None or not getattr(user, "is_authenticated", False):
        return Volunteer.objects.none()
    q = Q(resident__user_id=user.pk)
    if paths := manager_paths(user, grid_workers=True):
        q |= paths_q(paths, "path")
    return Volunteer.objects.filter(q)


def access_volunteer(user: Viewer, volunteer_id: int) -> Volunteer:
    v = volunteers_for(user).filter(pk=volunteer_id).select_related("resident").first()
    if v is None:
        raise NotFound(_("No such volunteer."), code="volunteers.volunteer_not_found")
    return v


def access_participation(user: Viewer, participation_id: int) -> Participation:
    p = (
        Participation.objects.filter(pk=participation_id)
        .select_related("activity", "volunteer__resident", "activity__rule")
        .first()
    )
    if p is None or not (p.volunteer.resident.user_id == getattr(user, "pk", None) or organises(user, p.activity)):
        raise NotFound(_("No such sign-up."), code="volunteers.participation_not_found")
    return p


def hours_of(volunteer: Volunteer) -> Decimal:
    """The honour record: every hour of service ever recorded. Points spent or expired do not touch it."""
    return with_hours(Volunteer.objects.filter(pk=volunteer.pk)).values_list("hours", flat=True).get()


# --- what a user may do with a row: the buttons a page shows ---------------------------------------------------

CHECKIN_LATE = dt.timedelta(days=1)  # an organiser may still check someone in a day after the end (check_in)


def participation_actions(
    user: Viewer, p: Participation, *, organiser: bool | None = None, at: dt.datetime | None = None
) -> list[str]:
    """What `user` may do with the sign-up `p` now, as volunteers.services decides it:

    - withdraw: the volunteer before the activity starts; an organiser at any time;
    - signup_again: the volunteer (or an organiser for them), after withdrawing, while the activity is open
      and not over;
    - check_in: while the activity is open, from shortly before the start: the volunteer with the code (not
      from the waiting list) until the end, an organiser until a day after it;
    - check_out: the volunteer or an organiser;
    - rate: an organiser, not for their own service, once the activity has started (unless cancelled).

    `organiser`: whether `user` organises the activity, when the caller knows it (one activity's list, or
    led_team_ids passed to `organises`): no query per row. Reads `p.activity` and `p.volunteer.resident`."""
    a = p.activity
    at = at or now()
    own = p.volunteer.resident.user_id == getattr(user, "pk", None)
    org = organises(user, a) if organiser is None else organiser
    published = a.state == Activity.State.PUBLISHED
    early = dt.timedelta(minutes=int(settings.GONGZHI["VOLUNTEERS"]["CHECKIN_EARLY_MINUTES"]))

    def may(action: str) -> bool:
        if action == "signup_again":
            return (own or org) and published and at < a.ends_at
        if action == "withdraw":
            return at < a.starts_at if own else org
        if action == "check_in":
            if not published or at < a.starts_at - early:
                return False
            by_code = own and p.state != Participation.State.WAITLISTED and at <= a.ends_at
            return by_code or (org and at <= a.ends_at + CHECKIN_LATE)
        if action == "check_out":
            return own or org
        if action == "rate":
            return org and not own and a.state != Activity.State.CANCELLED and a.starts_at <= at
        return False  # move_up: the waiting list moves by itself when a place comes free

    return PARTICIPATION.allowed(p, may)


def activity_actions(user: Viewer, activity: Activity, *, organiser: bool | None = None) -> list[str]:
    """What `user` may do with `activity` now (activity_cancel, activity_finish): its organisers cancel or
    close it while it is open. `organiser` as for participation_actions."""
    org = organises(user, activity) if organiser is None else organiser
    return ACTIVITY.allowed(activity, lambda action: org)
