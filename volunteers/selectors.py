"""Reads of volunteer service that depend on who asks.

Activities are public to the people they are for: a village's activities to the volunteers of its town,
a town's to its county. Organisers — staff over the activity's node, the leader of its team, whoever
published it — see and handle its sign-ups."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.utils.translation import gettext as _

from core.errors import NotFound
from org.access import get_scope, paths_q
from org.models import path_prefixes
from points.selectors import manager_paths, manages
from volunteers.models import Activity, Participation, Team, TeamMember, Volunteer


def organises(user: Any, activity: Activity) -> bool:
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if activity.created_by_id == user.pk or manages(user, activity.path):
        return True
    return (
        activity.team_id is not None
        and TeamMember.objects.filter(
            team_id=activity.team_id,
            volunteer__resident__user_id=user.pk,
            role=TeamMember.Role.LEADER,
            left_at__isnull=True,
        ).exists()
    )


def _public_q(user: Any) -> Q:
    """Rows of nodes above the user's own grid and the nodes beside it in their town."""
    own = get_scope(user).own
    if own is None:
        return Q(pk__in=[])
    prefixes = path_prefixes(own.path)
    town = prefixes[-3] if len(prefixes) >= 3 else prefixes[0]
    return Q(path__in=prefixes) | paths_q((town,), "path")


def activities_for(user: Any) -> QuerySet[Activity]:
    if user is None or not getattr(user, "is_authenticated", False):
        return Activity.objects.none()
    q = _public_q(user) | Q(created_by_id=user.pk)
    if paths := manager_paths(user):
        q |= paths_q(paths, "path")
    led = TeamMember.objects.filter(
        volunteer__resident__user_id=user.pk, role=TeamMember.Role.LEADER, left_at__isnull=True
    ).values("team_id")
    q |= Q(team_id__in=led)
    return Activity.objects.filter(q)


def access_activity(user: Any, activity_id: int) -> Activity:
    a = activities_for(user).filter(pk=activity_id).select_related("team", "rule", "node").first()
    if a is None:
        raise NotFound(_("No such activity."), code="volunteers.activity_not_found")
    return a


def week_preview(user: Any, start: dt.datetime) -> QuerySet[Activity]:
    """一周活动预告: the open activities of the seven days from `start`."""
    return (
        activities_for(user)
        .filter(state=Activity.State.PUBLISHED, starts_at__gte=start, starts_at__lt=start + dt.timedelta(days=7))
        .annotate(
            taken=Count(
                "participations", filter=Q(participations__state__in=["signed_up", "checked_in", "checked_out"])
            )
        )
    )


def teams_for(user: Any) -> QuerySet[Team]:
    if user is None or not getattr(user, "is_authenticated", False):
        return Team.objects.none()
    q = _public_q(user)
    if paths := manager_paths(user):
        q |= paths_q(paths, "path")
    return Team.objects.filter(q)


def access_team(user: Any, team_id: int) -> Team:
    t = teams_for(user).filter(pk=team_id).first()
    if t is None:
        raise NotFound(_("No such team."), code="volunteers.team_not_found")
    return t


def volunteers_for(user: Any) -> QuerySet[Volunteer]:
    if user is None or not getattr(user, "is_authenticated", False):
        return Volunteer.objects.none()
    q = Q(resident__user_id=user.pk)
    if paths := manager_paths(user, grid_workers=True):
        q |= paths_q(paths, "path")
    return Volunteer.objects.filter(q)


def access_volunteer(user: Any, volunteer_id: int) -> Volunteer:
    v = volunteers_for(user).filter(pk=volunteer_id).select_related("resident").first()
    if v is None:
        raise NotFound(_("No such volunteer."), code="volunteers.volunteer_not_found")
    return v


def access_participation(user: Any, participation_id: int) -> Participation:
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
    return volunteer.participations.filter(state=Participation.State.DONE).aggregate(h=Sum("hours"))["h"] or Decimal(0)
