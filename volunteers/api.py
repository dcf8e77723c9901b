"""Volunteer service over the API: join, teams, the week's activities, sign-up, check-in/out, rating."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router
from ninja.responses import Status

from accounts.http import AuthedRequest
from core.clock import EARLIEST, LATEST, SHANGHAI, now
from core.errors import NotFound, ValidationFailed
from core.schemas import DictSchema, Page, PageParams, QueryIn, StrictIn, paginate
from org.access import access_node, access_own_resident, residents_for
from org.models import ServicePoint
from points.models import Rule
from volunteers import selectors, services
from volunteers.models import Activity, Participation, Team, TeamMember, Volunteer

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

    from volunteers.selectors import Counts, Hours, Members

router = Router(tags=["volunteers"])


class VolunteerOut(DictSchema):
    id: int
    resident_id: int
    name: str
    skills: list[str]
    availability: str
    joined_at: dt.datetime
    is_active: bool
    hours: float


class TeamOut(DictSchema):
    id: int
    node_id: int
    name: str
    description: str
    members: int
    leader: str | None


class ParticipationOut(DictSchema):
    id: int
    activity_id: int
    activity_title: str
    volunteer_id: int
    volunteer_name: str
    state: str
    state_label: str
    signed_at: dt.datetime
    checkin_at: dt.datetime | None
    checkout_at: dt.datetime | None
    hours: float | None
    rating: int | None
    points: int | None


class ActivityOut(DictSchema):
    id: int
    node_id: int
    team_id: int | None
    title: str
    description: str
    place: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    capacity: int
    taken: int
    waiting: int
    state: str
    state_label: str
    rule: str | None
    organiser: bool


class ActivityDetailOut(ActivityOut):
    checkin_code: str | None  # only for its organisers: shown (as a QR code) at the place
    mine: ParticipationOut | None
    participations: list[ParticipationOut]


def _volunteer(v: WithAnnotations[Volunteer, Hours]) -> dict[str, Any]:
    return {
        "id": v.pk,
        "resident_id": v.resident_id,
        "name": v.resident.name,
        "skills": v.skills,
        "availability": v.availability,
        "joined_at": v.joined_at,
        "is_active": v.is_active,
        "hours": float(v.hours),  # read through selectors.with_hours
    }


def _participation(p: Participation) -> dict[str, Any]:
    return {
        "id": p.pk,
        "activity_id": p.activity_id,
        "activity_title": p.activity.title,
        "volunteer_id": p.volunteer_id,
        "volunteer_name": p.volunteer.resident.name,
        "state": p.state,
        "state_label": str(Participation.State(p.state).label),
        "signed_at": p.signed_at,
        "checkin_at": p.checkin_at,
        "checkout_at": p.checkout_at,
        "hours": float(p.hours) if p.hours is not None else None,
        "rating": p.rating,
        "points": p.claim.points if p.claim is not None and p.claim.state == "approved" else None,
    }


def _activity(
    request: HttpRequest, a: WithAnnotations[Activity, Counts], led: frozenset[int] | None = None
) -> dict[str, Any]:
    """One activity, read through selectors.with_counts (taken, waiting)."""
    return {
        "id": a.pk,
        "node_id": a.node_id,
        "team_id": a.team_id,
        "title": a.title,
        "description": a.description,
        "place": a.place,
        "starts_at": a.starts_at,
        "ends_at": a.ends_at,
        "capacity": a.capacity,
        "taken": a.taken,
        "waiting": a.waiting,
        "state": a.state,
        "state_label": str(Activity.State(a.state).label),
        "rule": a.rule.code if a.rule is not None else None,
        "organiser": selectors.organises(request.user, a, led),
    }


def _detail(request: HttpRequest, a: WithAnnotations[Activity, Counts]) -> dict[str, Any]:
    out = _activity(request, a)
    parts = a.participations.select_related("volunteer__resident", "activity", "claim").order_by("signed_at", "id")
    mine = next((p for p in parts if p.volunteer.resident.user_id == request.user.pk), None)
    return {
        **out,
        "checkin_code": a.checkin_code if out["organiser"] else None,
        "mine": _participation(mine) if mine else None,
        "participations": [_participation(p) for p in parts] if out["organiser"] else [],
    }


def _fresh_team(team_id: int) -> dict[str, Any]:
    return _team(selectors.with_members(Team.objects.filter(pk=team_id)).get())


def _team(t: WithAnnotations[Team, Members]) -> dict[str, Any]:
    """One team, read through selectors.with_members."""
    return {
        "id": t.pk,
        "node_id": t.node_id,
        "name": t.name,
        "description": t.description,
        "members": t.members_n,
        "leader": t.leader_name,
    }


class JoinIn(StrictIn):
    skills: list[str] = Field(default_factory=list, max_length=services.MAX_SKILLS)
    availability: str = Field("", max_length=100)
    resident_id: int | None = Field(None, ge=1, description="Staff: whom to register; omit for yourself")


class TeamIn(StrictIn):
    node_id: int = Field(..., ge=1)
    name: str = Field(..., min_length=1, max_length=60)
    description: str = Field("", max_length=300)
    leader_volunteer_id: int | None = Field(None, ge=1)


class MemberIn(StrictIn):
    volunteer_id: int | None = Field(None, ge=1, description="Omit to join yourself")
    role: TeamMember.Role = TeamMember.Role.MEMBER


class ActivityIn(StrictIn):
    node_id: int | None = Field(None, ge=1)
    team_id: int | None = Field(None, ge=1)
    service_point_id: int | None = Field(None, ge=1)
    title: str = Field(..., min_length=1, max_length=80)
    description: str = Field("", max_length=1000)
    place: str = Field(..., min_length=1, max_length=120)
    starts_at: dt.datetime
    ends_at: dt.datetime
    capacity: int = Field(..., ge=1, le=services.MAX_CAPACITY)
    rule: str | None = Field(None, max_length=20, description="Points rule code; default: volunteer service")


class WhoIn(StrictIn):
    volunteer_id: int | None = Field(None, ge=1, description="Organisers: for whom; omit for yourself")
    code: str = Field("", max_length=12, description="Volunteers checking themselves in: the code at the place")


class CodeIn(StrictIn):
    code: str = Field("", max_length=12)


class ParticipationRateIn(StrictIn):
    rating: int = Field(..., ge=0, le=5, description="0: did not come (no hours, no points)")
    hours: Decimal | None = Field(None, ge=0, le=24, description="Correct the counted hours")


class ActivityReasonIn(StrictIn):
    reason: str = Field(..., min_length=1, max_length=200)


class ActivityFilter(QueryIn):
    start: dt.date | None = Field(
        None, ge=EARLIEST, le=LATEST, description="The first day of the week shown (default today)"
    )
    mine: bool = False


@router.get("/volunteers/me", response=VolunteerOut, summary="My volunteer profile and service hours")
def me(request: AuthedRequest):
    v = (
        selectors.with_hours(Volunteer.objects.filter(resident__user_id=request.user.pk))
        .select_related("resident")
        .first()
    )
    if v is None:
        raise NotFound(_("You are not registered as a volunteer."), code="volunteers.not_volunteer")
    return _volunteer(v)


@router.post("/volunteers", response={201: VolunteerOut}, summary="Register as a volunteer (or register a resident)")
def join(request: AuthedRequest, body: JoinIn):
    if body.resident_id:
        resident = residents_for(request.user).filter(pk=body.resident_id).first()
        if resident is None:
            raise NotFound(_("No such resident in your area."), code="resident.not_found")
    else:
        resident = access_own_resident(request.user)
    v = services.volunteer_join(resident=resident, by=request.user, skills=body.skills, availability=body.availability)
    return Status(
        201, _volunteer(selectors.with_hours(Volunteer.objects.filter(pk=v.pk)).select_related("resident").get())
    )


@router.get("/volunteers", response=Page[VolunteerOut], summary="Volunteers in your area (staff)")
def volunteers(request: AuthedRequest, page: Query[PageParams]):
    qs = selectors.with_hours(selectors.volunteers_for(request.user)).select_related("resident").order_by("path", "id")
    return paginate(qs, page, convert=_volunteer)


@router.get("/volunteers/me/participations", response=Page[ParticipationOut], summary="My sign-ups and service")
def my_participations(request: AuthedRequest, page: Query[PageParams]):
    qs = (
        Participation.objects.filter(volunteer__resident__user_id=request.user.pk)
        .select_related("activity", "volunteer__resident", "claim")
        .order_by("-activity__starts_at", "-id")
    )
    return paginate(qs, page, convert=_participation)


@router.get("/volunteers/teams", response=list[TeamOut], summary="Volunteer teams near you, or in your area")
def teams(request: AuthedRequest):
    teams = selectors.with_members(selectors.teams_for(request.user).filter(is_active=True))
    return [_team(t) for t in teams.order_by("path", "id")[:200]]


@router.post("/volunteers/teams", response={201: TeamOut}, summary="Set up a team under a village or town")
def team_create(request: AuthedRequest, body: TeamIn):
    node = access_node(request.user, body.node_id)
    leader = selectors.access_volunteer(request.user, body.leader_volunteer_id) if body.leader_volunteer_id else None
    t = services.team_create(node=node, name=body.name, by=request.user, description=body.description, leader=leader)
    return Status(201, _fresh_team(t.pk))


@router.post("/volunteers/teams/{team_id}/members", response={201: TeamOut}, summary="Join a team, or add a member")
def team_join(request: AuthedRequest, team_id: int, body: MemberIn):
    team = selectors.access_team(request.user, team_id)
    if body.volunteer_id:
        v = selectors.access_volunteer(request.user, body.volunteer_id)
    else:
        v = services._volunteer_of(request.user)
    services.team_add(team=team, volunteer=v, by=request.user, role=body.role)
    return Status(201, _fresh_team(team.pk))


@router.post("/volunteers/teams/{team_id}/leave", response=TeamOut, summary="Leave a team (or remove a member)")
def team_leave(request: AuthedRequest, team_id: int, body: MemberIn):
    team = selectors.access_team(request.user, team_id)
    if body.volunteer_id:
        v = selectors.access_volunteer(request.user, body.volunteer_id)
    else:
        v = services._volunteer_of(request.user)
    services.team_leave(team=team, volunteer=v, by=request.user)
    return _fresh_team(team.pk)


@router.get("/volunteers/activities", response=list[ActivityOut], summary="The week's activities (一周活动预告)")
def activities(request: AuthedRequest, f: Query[ActivityFilter]):
    day = f.start or now().astimezone(SHANGHAI).date()
    start = dt.datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)
    qs = selectors.week_preview(request.user, start).select_related("rule").order_by("starts_at", "id")[:200]
    led = selectors.led_team_ids(request.user)
    return [_activity(request, a, led) for a in qs]


@router.post("/volunteers/activities", response={201: ActivityDetailOut}, summary="Publish an activity")
def activity_create(request: AuthedRequest, body: ActivityIn):
    team = selectors.access_team(request.user, body.team_id) if body.team_id else None
    if team is not None:
        node = team.node
    elif body.node_id is not None:
        node = access_node(request.user, body.node_id)
    else:
        raise ValidationFailed(fields={"node_id": [_("Give the village or town, or the team.")]})
    point = None
    if body.service_point_id:
        point = ServicePoint.objects.filter(pk=body.service_point_id).first()
        if point is None:
            raise NotFound(_("No such service point."), code="servicepoint.not_found")
    rule = None
    if body.rule:
        rule = Rule.objects.filter(code=body.rule, is_active=True).first()
        if rule is None:
            raise ValidationFailed(fields={"rule": [_("No such points rule.")]}, code="points.rule_not_found")
    a = services.activity_publish(
        node=node,
        team=team,
        service_point=point,
        title=body.title,
        description=body.description,
        place=body.place,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        capacity=body.capacity,
        rule=rule,
        by=request.user,
    )
    return Status(201, _detail(request, selectors.access_activity(request.user, a.pk)))


@router.get("/volunteers/activities/{activity_id}", response=ActivityDetailOut, summary="One activity")
def activity(request: AuthedRequest, activity_id: int):
    return _detail(request, selectors.access_activity(request.user, activity_id))


def _who(request: HttpRequest, volunteer_id: int | None) -> Volunteer | None:
    return selectors.access_volunteer(request.user, volunteer_id) if volunteer_id else None


@router.post("/volunteers/activities/{activity_id}/signup", response={201: ActivityDetailOut}, summary="Sign up")
def signup(request: AuthedRequest, activity_id: int, body: WhoIn):
    a = selectors.access_activity(request.user, activity_id)
    services.signup(activity=a, by=request.user, volunteer=_who(request, body.volunteer_id))
    return Status(201, _detail(request, selectors.access_activity(request.user, activity_id)))


@router.post("/volunteers/activities/{activity_id}/checkin", response=ActivityDetailOut, summary="Check in")
def checkin(request: AuthedRequest, activity_id: int, body: WhoIn):
    a = selectors.access_activity(request.user, activity_id)
    services.check_in(activity=a, by=request.user, volunteer=_who(request, body.volunteer_id), code=body.code)
    return _detail(request, selectors.access_activity(request.user, activity_id))


@router.post("/volunteers/activities/{activity_id}/cancel", response=ActivityDetailOut, summary="Cancel an activity")
def activity_cancel(request: AuthedRequest, activity_id: int, body: ActivityReasonIn):
    a = selectors.access_activity(request.user, activity_id)
    services.activity_cancel(activity=a, by=request.user, reason=body.reason)
    return _detail(request, selectors.access_activity(request.user, activity_id))


@router.post("/volunteers/activities/{activity_id}/finish", response=ActivityDetailOut, summary="Close an activity")
def activity_finish(request: AuthedRequest, activity_id: int):
    a = selectors.access_activity(request.user, activity_id)
    services.activity_finish(activity=a, by=request.user)
    return _detail(request, selectors.access_activity(request.user, activity_id))


def _part(request: HttpRequest, participation_id: int) -> Participation:
    return selectors.access_participation(request.user, participation_id)


def _fresh_part(p: Participation) -> dict[str, Any]:
    return _participation(Participation.objects.select_related("activity", "volunteer__resident", "claim").get(pk=p.pk))


@router.post("/volunteers/participations/{participation_id}/withdraw", response=ParticipationOut, summary="Withdraw")
def withdraw(request: AuthedRequest, participation_id: int):
    return _fresh_part(services.withdraw(participation=_part(request, participation_id), by=request.user))


@router.post("/volunteers/participations/{participation_id}/checkout", response=ParticipationOut, summary="Check out")
def checkout(request: AuthedRequest, participation_id: int, body: CodeIn):
    p = services.check_out(participation=_part(request, participation_id), by=request.user, code=body.code)
    return _fresh_part(p)


@router.post(
    "/volunteers/participations/{participation_id}/rate",
    response=ParticipationOut,
    summary="Rate a participation (0 = no-show); records the hours and files the points",
)
def rate(request: AuthedRequest, participation_id: int, body: ParticipationRateIn):
    p = services.rate(
        participation=_part(request, participation_id), rating=body.rating, hours=body.hours, by=request.user
    )
    return _fresh_part(p)
