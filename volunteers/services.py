"""Every write of volunteer service: joining, teams, activities, sign-up with a waiting list, check-in
and check-out (by staff or with the code shown at the place), and the organiser's rating, which fixes
the hours of the honour record and files the points claim under the activity's rule."""

from __future__ import annotations

import datetime as dt
import secrets
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from core.clock import now
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from notify.services import message_queue
from org.models import Level, Node, Resident, ServicePoint
from points import services as points
from points.models import Rule
from volunteers.models import Activity, Participation, Team, TeamMember, Volunteer
from volunteers.selectors import TAKEN, organises
from volunteers.states import ACTIVITY, PARTICIPATION

if TYPE_CHECKING:
    from accounts.models import User

MAX_SKILLS = 10
MAX_CAPACITY = 500
ACTIVE = TAKEN  # the states that hold a place


def _text(value: str, name: str, *, max_len: int, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationFailed(_("This field is required."), code="volunteers.required", fields={name: _("required")})
    if len(value) > max_len:
        raise ValidationFailed(
            _("At most %(n)s characters.") % {"n": max_len}, code="volunteers.too_long", fields={name: _("too long")}
        )
    return value


def _tell(resident_user_id: int | None, text: str) -> None:
    message_queue(user_id=resident_user_id, kind="volunteers", text=text, link="/volunteers/")


# --- volunteers and teams -----------------------------------------------------------------------------------


def volunteer_join(
    *, resident: Resident, by: User, skills: list[str] | None = None, availability: str = ""
) -> Volunteer:
    """A resident registers as a volunteer (themself, or village staff for them); joining again updates."""
    own = resident.user_id is not None and resident.user_id == getattr(by, "pk", None)
    if not own and not points.manages(by, resident.path, grid_workers=True):
        raise NotFound(_("No such resident in your area."), code="resident.not_found")
    skills = [s.strip()[:20] for s in (skills or []) if s and s.strip()]
    if len(skills) > MAX_SKILLS:
        raise ValidationFailed(
            _("At most %(n)s skills.") % {"n": MAX_SKILLS},
            code="volunteers.too_many_skills",
            fields={"skills": _("too many")},
        )
    availability = _text(availability, "availability", max_len=100, required=False)
    with transaction.atomic():
        v, created = Volunteer.objects.select_for_update().get_or_create(
            resident=resident,
            defaults={"path": resident.path, "skills": skills, "availability": availability, "joined_at": now()},
        )
        if not created:
            Volunteer.objects.filter(pk=v.pk).update(skills=skills, availability=availability, is_active=True)
            v.refresh_from_db()
    return v


def team_create(*, node: Node, name: str, by: User, description: str = "", leader: Volunteer | None = None) -> Team:
    if not points.manages(by, node.path) or node.level > Level.VILLAGE:
        raise NotFound(_("No such village or town in your area."), code="node.not_found")
    name = _text(name, "name", max_len=60)
    with transaction.atomic():
        team = Team.objects.create(
            node=node, path=node.path, name=name, description=description[:300], created_at=now()
        )
        if leader is not None:
            team_add(team=team, volunteer=leader, by=by, role=TeamMember.Role.LEADER)
    return team


def _team_leader(team: Team, user: User) -> bool:
    return TeamMember.objects.filter(
        team=team,
        volunteer__resident__user_id=user.pk,
        role=TeamMember.Role.LEADER,
        left_at__isnull=True,
    ).exists()


def team_add(*, team: Team, volunteer: Volunteer, by: User, role: str = TeamMember.Role.MEMBER) -> TeamMember:
    """Join a team: the volunteer themself, the team's leader or staff over the team's node."""
    own = volunteer.resident.user_id == getattr(by, "pk", None)
    if not own and not _team_leader(team, by) and not points.manages(by, team.path):
        raise NotFound(_("No such team."), code="volunteers.team_not_found")
    if own and role == TeamMember.Role.LEADER and not points.manages(by, team.path):
        raise PermissionDenied(_("Team leaders are appointed by village staff."), code="volunteers.not_allowed")
    if not team.is_active or not volunteer.is_active:
        raise Conflict(_("This team or volunteer is not active."), code="volunteers.inactive")
    try:
        with transaction.atomic():
            return TeamMember.objects.create(team=team, volunteer=volunteer, role=role, joined_at=now())
    except IntegrityError as exc:
        raise Conflict(_("Already a member of this team."), code="volunteers.already_member") from exc


def team_leave(*, team: Team, volunteer: Volunteer, by: User) -> None:
    own = volunteer.resident.user_id == getattr(by, "pk", None)
    if not own and not _team_leader(team, by) and not points.manages(by, team.path):
        raise NotFound(_("No such team."), code="volunteers.team_not_found")
    if not TeamMember.objects.filter(team=team, volunteer=volunteer, left_at__isnull=True).update(left_at=now()):
        raise Conflict(_("Not a member of this team."), code="volunteers.not_member")


# --- activities ---------------------------------------------------------------------------------------------


def activity_publish(
    *,
    node: Node,
    title: str,
    place: str,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    capacity: int,
    by: User,
    description: str = "",
    team: Team | None = None,
    service_point: ServicePoint | None = None,
    rule: Rule | None = None,
) -> Activity:
    """Publish an activity of a village or town (its staff), or of a team (its leader, under the team's node)."""
    if team is not None:
        if not (_team_leader(team, by) or points.manages(by, team.path)):
            raise NotFound(_("No such team."), code="volunteers.team_not_found")
        node = team.node
    elif not points.manages(by, node.path):
        raise NotFound(_("No such village or town in your area."), code="node.not_found")
    title = _text(title, "title", max_len=80)
    place = _text(place, "place", max_len=120)
    description = _text(description, "description", max_len=1000, required=False)
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise ValidationFailed(
            _("Give times with their time zone."), code="volunteers.bad_time", fields={"starts_at": _("no time zone")}
        )
    if ends_at <= starts_at or ends_at - starts_at > dt.timedelta(hours=24):
        raise ValidationFailed(
            _("An activity ends after it starts, within a day."),
            code="volunteers.bad_time",
            fields={"ends_at": _("out of range")},
        )
    if starts_at < now() - dt.timedelta(days=1):
        raise ValidationFailed(
            _("An activity cannot start in the past."),
            code="volunteers.bad_time",
            fields={"starts_at": _("in the past")},
        )
    if not isinstance(capacity, int) or not 1 <= capacity <= MAX_CAPACITY:
        raise ValidationFailed(
            _("Places must be from 1 to %(n)s.") % {"n": MAX_CAPACITY},
            code="volunteers.bad_capacity",
            fields={"capacity": _("out of range")},
        )
    if service_point is not None and not service_point.path.startswith(node.path):
        raise NotFound(_("No such service point."), code="servicepoint.not_found")
    if rule is None:
        rule = Rule.objects.filter(kind=Rule.Kind.VOLUNTEER, is_active=True).order_by("code").first()
    elif rule.kind != Rule.Kind.VOLUNTEER or not rule.is_active:
        # An activity earns volunteer-service points; other rules (a good person of the month) have
        # their own way in, through staff.
        raise ValidationFailed(
            _("An activity earns points under a volunteer-service rule."),
            code="volunteers.bad_rule",
            fields={"rule": _("not a volunteer-service rule")},
        )
    return Activity.objects.create(
        node=node,
        path=node.path,
        team=team,
        service_point=service_point,
        title=title,
        description=description,
        place=place,
        starts_at=starts_at,
        ends_at=ends_at,
        capacity=capacity,
        rule=rule,
        created_by=by,
        created_at=now(),
        checkin_code=secrets.token_hex(4).upper(),
    )


def _check_organiser(activity: Activity, by: User) -> None:
    if not organises(by, activity):
        raise NotFound(_("No such activity."), code="volunteers.activity_not_found")


def activity_cancel(*, activity: Activity, by: User, reason: str) -> Activity:
    _check_organiser(activity, by)
    reason = _text(reason, "reason", max_len=200)
    with transaction.atomic():
        ACTIVITY.move(activity, "cancel")
        for p in activity.participations.filter(state__in=[*ACTIVE, Participation.State.WAITLISTED]).select_related(
            "volunteer__resident"
        ):
            _tell(
                p.volunteer.resident.user_id,
                _("The activity “%(title)s” was cancelled: %(reason)s") % {"title": activity.title, "reason": reason},
            )
    activity.refresh_from_db()
    return activity


def _volunteer_of(by: User) -> Volunteer:
    v = Volunteer.objects.filter(resident__user_id=by.pk, is_active=True).select_related("resident").first()
    if v is None:
        raise Conflict(_("Register as a volunteer first."), code="volunteers.not_volunteer")
    return v


def signup(*, activity: Activity, by: User, volunteer: Volunteer | None = None) -> Participation:
    """Sign up (the volunteer, or the organiser for them). Past capacity, onto the waiting list, in order.

    The count of places and the new row are one decision: the activity row is locked while it is made,
    so two last-minute sign-ups never both take the last place."""
    if volunteer is None:
        volunteer = _volunteer_of(by)
    elif volunteer.resident.user_id != getattr(by, "pk", None):
        _check_organiser(activity, by)
    if not volunteer.path.startswith(_town_path(activity.path)):
        raise NotFound(_("No such activity."), code="volunteers.activity_not_found")
    with transaction.atomic():
        act = Activity.objects.select_for_update().get(pk=activity.pk)
        if act.state != Activity.State.PUBLISHED or act.ends_at <= now():
            raise Conflict(_("This activity is not open for sign-up."), code="volunteers.not_open")
        taken = act.participations.filter(state__in=ACTIVE).count()
        waiting = act.participations.filter(state=Participation.State.WAITLISTED).exists()
        # A place that came free goes to the waiting list first, not to whoever signs up next.
        free = taken < act.capacity and not waiting
        state = Participation.State.SIGNED_UP if free else Participation.State.WAITLISTED
        existing = Participation.objects.filter(activity=act, volunteer=volunteer).first()
        if existing is not None:
            PARTICIPATION.move(existing, "signup_again", state, fields={"signed_at": now()})
            existing.refresh_from_db()
            return existing
        return Participation.objects.create(
            activity=act, volunteer=volunteer, path=volunteer.path, state=state, signed_at=now()
        )


def _town_path(path: str) -> str:
    """Volunteers of the whole town may join a village's activity: the path of the town above it."""
    parts = path.strip("/").split("/")
    return "/" + "/".join(parts[: max(1, len(parts) - 1)]) + "/"


def withdraw(*, participation: Participation, by: User) -> Participation:
    """Withdraw before check-in; the first on the waiting list moves up and is told."""
    if participation.volunteer.resident.user_id != getattr(by, "pk", None):
        _check_organiser(participation.activity, by)
    with transaction.atomic():
        act = Activity.objects.select_for_update().get(pk=participation.activity_id)
        if act.starts_at <= now() and participation.volunteer.resident.user_id == getattr(by, "pk", None):
            raise Conflict(_("The activity has started: tell the organiser instead."), code="volunteers.started")
        PARTICIPATION.move(participation, "withdraw")
        _promote(act)
    participation.refresh_from_db()
    return participation


def _promote(act: Activity) -> None:
    """Fill free places from the waiting list, in order, telling each one (the activity row is locked)."""
    free = act.capacity - act.participations.filter(state__in=ACTIVE).count()
    if free <= 0:
        return
    for nxt in (
        act.participations.filter(state=Participation.State.WAITLISTED)
        .select_related("volunteer__resident")
        .order_by("signed_at", "id")[:free]
    ):
        PARTICIPATION.move(nxt, "move_up")
        _tell(
            nxt.volunteer.resident.user_id,
            _("A place came free: you are signed up for “%(title)s”.") % {"title": act.title},
        )


def _code_ok(code: str, activity: Activity) -> bool:
    """The code shown at the place, compared in constant time (as bytes: a typed "签到" is just wrong)."""
    code = (code or "").strip().upper()
    return bool(code) and secrets.compare_digest(code.encode(), activity.checkin_code.encode())


def check_in(*, activity: Activity, by: User, volunteer: Volunteer | None = None, code: str = "") -> Participation:
    """Check in: the organiser for a volunteer, or the volunteer themself with the code shown at the
    place (its QR code), from a little before the start until the end. Twice is refused (409)."""
    at = now()
    if volunteer is None:
        volunteer = _volunteer_of(by)
        if not _code_ok(code, activity):
            raise PermissionDenied(_("The check-in code is not right."), code="volunteers.bad_code")
        early = dt.timedelta(minutes=int(settings.GONGZHI["VOLUNTEERS"]["CHECKIN_EARLY_MINUTES"]))
        if not activity.starts_at - early <= at <= activity.ends_at:
            raise Conflict(
                _("Check-in is open from shortly before the start until the end."), code="volunteers.checkin_closed"
            )
    else:
        _check_organiser(activity, by)
        early = dt.timedelta(minutes=int(settings.GONGZHI["VOLUNTEERS"]["CHECKIN_EARLY_MINUTES"]))
        if not activity.starts_at - early <= at <= activity.ends_at + dt.timedelta(days=1):
            raise Conflict(
                _("Check-in is open from shortly before the start until a day after the end."),
                code="volunteers.checkin_closed",
            )
    if activity.state != Activity.State.PUBLISHED:
        raise Conflict(_("This activity is not open."), code="volunteers.not_open")
    p = Participation.objects.filter(activity=activity, volunteer=volunteer).first()
    with transaction.atomic():
        if p is None:  # walked in without signing up: the organiser may still take them
            if code:
                raise Conflict(_("Sign up for this activity first."), code="volunteers.not_signed_up")
            p = signup(activity=activity, by=by, volunteer=volunteer)
        if p.state == Participation.State.CHECKED_IN or p.checkin_at is not None:
            raise Conflict(_("Already checked in."), code="volunteers.already_checked_in")
        if code and p.state == Participation.State.WAITLISTED:  # the organiser decides whether a place is free
            raise Conflict(
                _("You are on the waiting list: ask the organiser at the place."), code="volunteers.waitlisted"
            )
        PARTICIPATION.move(p, "check_in", fields={"checkin_at": at}, where={"checkin_at__isnull": True})
    p.refresh_from_db()
    return p


def check_out(*, participation: Participation, by: User, code: str = "") -> Participation:
    own = participation.volunteer.resident.user_id == getattr(by, "pk", None)
    activity = participation.activity
    if own and not organises(by, activity):
        if not _code_ok(code, activity):
            raise PermissionDenied(_("The check-in code is not right."), code="volunteers.bad_code")
    elif not own:
        _check_organiser(activity, by)
    with transaction.atomic():
        PARTICIPATION.move(participation, "check_out", fields={"checkout_at": now()})
    participation.refresh_from_db()
    return participation


def _hours(p: Participation) -> Decimal:
    """Hours between check-in and check-out (or the activity's end), to the half hour."""
    a = p.activity
    # Within the activity's own time: an early check-in or a late check-out does not add hours.
    start = max(p.checkin_at or a.starts_at, a.starts_at)
    end = min(p.checkout_at or a.ends_at, a.ends_at)
    hours = Decimal(max(0, (end - start).total_seconds())) / Decimal(3600)
    return (hours * 2).quantize(Decimal(1), rounding=ROUND_HALF_UP) / 2


def rate(*, participation: Participation, rating: int, by: User, hours: Any = None) -> Participation:
    """The organiser rates a participation 0–5. Zero is a no-show: no hours, no points. Otherwise the hours
    (counted, or as the organiser corrects them) go on the honour record for good, and the points claim
    under the activity's rule is filed (decided at once where the rule needs no approval)."""
    activity = participation.activity
    _check_organiser(activity, by)
    if participation.volunteer.resident.user_id == getattr(by, "pk", None):
        raise PermissionDenied(_("Your own service is rated by another organiser."), code="volunteers.own_rating")
    if activity.state == Activity.State.CANCELLED or activity.starts_at > now():
        raise Conflict(_("Only an activity that took place can be rated."), code="volunteers.not_rateable")
    if not isinstance(rating, int) or not 0 <= rating <= 5:
        raise ValidationFailed(
            _("The rating is from 0 (did not come) to 5."),
            code="volunteers.bad_rating",
            fields={"rating": _("out of range")},
        )
    participation.refresh_from_db()  # decide from the row as it is now, not from a copy read earlier
    if participation.state in (Participation.State.DONE, Participation.State.NO_SHOW):
        raise Conflict(_("This participation has already been rated."), code="volunteers.already_rated")
    if participation.state in (Participation.State.WITHDRAWN, Participation.State.WAITLISTED):
        raise Conflict(_("Only a volunteer who took part can be rated."), code="volunteers.not_rateable")
    if rating > 0 and participation.checkin_at is None:
        raise Conflict(_("Only a volunteer who checked in can be rated."), code="volunteers.not_rateable")
    if rating == 0:
        h = Decimal(0)
    elif hours is None:
        h = _hours(participation)
    else:
        try:
            h = (Decimal(str(hours)) * 2).quantize(Decimal(1), rounding=ROUND_HALF_UP) / 2
        except Exception as exc:
            raise ValidationFailed(
                _("Enter the hours as a number."), code="volunteers.bad_hours", fields={"hours": _("not a number")}
            ) from exc
        longest = Decimal((activity.ends_at - activity.starts_at).total_seconds()) / Decimal(3600)
        if not h.is_finite() or h < 0 or h > min(Decimal(24), longest):
            raise ValidationFailed(
                _("Hours are from 0 to 24."), code="volunteers.bad_hours", fields={"hours": _("out of range")}
            )
    state = Participation.State.NO_SHOW if rating == 0 else Participation.State.DONE
    with transaction.atomic():
        PARTICIPATION.move(
            participation,
            "rate",
            state,
            fields={"rating": rating, "hours": h, "rated_by": by, "rated_at": now()},
            where={"checkin_at__isnull": False} if rating > 0 else None,
        )
        claim = None
        if rating > 0 and h > 0 and activity.rule is not None and activity.rule.is_active:
            quantity = h if activity.rule.unit == Rule.Unit.HOUR else Decimal(1)
            claim, _created = points.claim_submit(
                resident=participation.volunteer.resident,
                rule=activity.rule,
                quantity=quantity,
                by=by,
                description=_("%(title)s, %(hours)s h") % {"title": activity.title, "hours": h},
                source=f"participation:{participation.pk}",
            )
            Participation.objects.filter(pk=participation.pk).update(claim=claim)
    participation.refresh_from_db()
    return participation


def activity_finish(*, activity: Activity, by: User) -> Activity:
    _check_organiser(activity, by)
    with transaction.atomic():
        ACTIVITY.move(activity, "finish")
    activity.refresh_from_db()
    return activity
