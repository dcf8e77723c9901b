"""Volunteer pages: the week's activities with sign-up and the honour record of a volunteer; the
organiser's activities with their check-in code, participants, check-in/out and rating; teams.

Pages change nothing themselves: every write is a call to volunteers.services, every scoped read goes
through volunteers.selectors. A service's refusal is shown as a message and changes nothing; what is
missing or not the user's is the 404 page, as is the organisers' page for anyone who organises nothing.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from core.clock import EARLIEST, LATEST, SHANGHAI, now
from core.errors import ValidationFailed
from core.pages import attempt, back, error_text, gate, to_int
from org.access import access_node, own_resident, paths_q
from org.models import Level, Node, Resident
from points.selectors import manager_paths, manages
from volunteers import selectors, services
from volunteers.models import Activity, Participation, Volunteer

RATINGS = range(0, 6)
WAITING = Participation.State.WAITLISTED


# --- who is asking ------------------------------------------------------------------------------------


def _volunteer(user: Any, me: Resident | None) -> Volunteer | None:
    if me is None:
        return None
    return selectors.volunteers_for(user).filter(resident_id=me.pk, is_active=True).first()


def _organiser_or_404(user: Any) -> tuple[tuple[str, ...], frozenset[int]]:
    """The organisers' page is for village and town staff and team leaders."""
    paths, led = manager_paths(user), selectors.led_team_ids(user)
    if not paths and not led:
        raise Http404
    return paths, led


def _code(value: str | None) -> str:
    """The check-in code as typed: letters and digits only, else nothing (which the service refuses)."""
    code = (value or "").strip().upper()[:12]
    return code if code.isascii() and code.isalnum() else ""


def _back(request: HttpRequest, default: str) -> HttpResponse:
    return back(request, "/volunteers/", default)


def _local(value: str, field: str) -> dt.datetime:
    """A datetime-local value ("2025-06-01T09:00") as Asia/Shanghai wall-clock time."""
    try:
        t = dt.datetime.fromisoformat((value or "").strip())
    except ValueError as exc:
        raise ValidationFailed(
            _("Enter the date and time."), code="volunteers.bad_time", fields={field: _("not a date and time")}
        ) from exc
    return t.replace(tzinfo=SHANGHAI) if t.tzinfo is None else t


# --- a volunteer's pages ------------------------------------------------------------------------------


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """一周活动预告 with sign-up, my hours of service, my sign-ups; joining; check-in with the code."""
    user = request.user
    me = own_resident(user)
    if me is None:
        paths, led = manager_paths(user), selectors.led_team_ids(user)
        if paths or led:
            return redirect("volunteers:manage")
        return render(request, "volunteers/not_linked.html")
    volunteer = _volunteer(user, me)
    today = now().astimezone(SHANGHAI).date()
    try:
        day = dt.date.fromisoformat(request.GET.get("start", ""))
    except ValueError:
        day = today
    if not EARLIEST <= day <= LATEST:
        day = today
    start = dt.datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)
    acts = list(selectors.week_preview(user, start).select_related("team").order_by("starts_at", "id")[:200])
    mine: dict[int, Participation] = {}
    parts: list[Participation] = []
    hours = Decimal(0)
    if volunteer is not None:
        mine = {
            p.activity_id: p
            for p in volunteer.participations.filter(activity_id__in=[a.pk for a in acts]).exclude(
                state=Participation.State.WITHDRAWN
            )
        }
        parts = list(
            volunteer.participations.select_related("activity", "claim").order_by("-activity__starts_at", "-id")[:30]
        )
        hours = selectors.hours_of(volunteer)
    for a in acts:
        a.mine = mine.get(a.pk)
        a.left = max(0, a.capacity - a.taken)
    return render(
        request,
        "volunteers/home.html",
        {
            "me": me,
            "volunteer": volunteer,
            "activities": acts,
            "start": day,
            "prev_week": day - dt.timedelta(days=7),
            "next_week": day + dt.timedelta(days=7),
            "this_week": day == today,
            "hours": hours,
            "participations": parts,
            "organiser": bool(manager_paths(user) or selectors.led_team_ids(user)),
        },
    )


@login_required
@require_POST
def join(request: HttpRequest) -> HttpResponse:
    me = own_resident(request.user)
    if me is None:
        raise Http404
    raw = request.POST.get("skills", "")
    for sep in "，、;；":
        raw = raw.replace(sep, ",")
    skills = [s for s in (x.strip() for x in raw.split(",")) if s]
    done = attempt(
        request,
        services.volunteer_join,
        resident=me,
        by=request.user,
        skills=skills,
        availability=request.POST.get("availability", "")[:100],
    )
    if done is not None:
        messages.success(request, _("Welcome! You are registered as a volunteer."))
    return redirect("volunteers:home")


@login_required
@require_POST
def checkin_by_code(request: HttpRequest) -> HttpResponse:
    """Check in with the code shown at the place: it names the activity among my sign-ups."""
    me = own_resident(request.user)
    if me is None:
        raise Http404
    volunteer = _volunteer(request.user, me)
    code = _code(request.POST.get("code"))
    if volunteer is None:
        messages.error(request, _("Register as a volunteer first."))
        return redirect("volunteers:home")
    p = volunteer.participations.filter(activity__checkin_code=code).first() if code else None
    if p is None:
        messages.error(request, _("The check-in code is not right."))
        return redirect("volunteers:home")
    activity = gate(selectors.access_activity, request.user, p.activity_id)
    if attempt(request, services.check_in, activity=activity, by=request.user, code=code) is not None:
        messages.success(request, _("You are checked in for “%(title)s”. Thank you!") % {"title": activity.title})
    return redirect("volunteers:home")


@login_required
def activity_page(request: HttpRequest, activity_id: int) -> HttpResponse:
    """One activity: to a volunteer, sign-up and check-in; to its organisers, the check-in code to put
    up at the place, the participants with check-in, check-out and rating, and closing it."""
    user = request.user
    a = gate(selectors.access_activity, user, activity_id)
    organiser = selectors.organises(user, a)
    parts = list(a.participations.select_related("volunteer__resident", "claim").order_by("signed_at", "id"))
    mine = next((p for p in parts if p.volunteer.resident.user_id == user.pk), None)
    position = None
    if mine is not None and mine.state == WAITING:
        position = 1 + sum(1 for p in parts if p.state == WAITING and (p.signed_at, p.pk) < (mine.signed_at, mine.pk))
    volunteer = _volunteer(user, own_resident(user))
    return render(
        request,
        "volunteers/activity.html",
        {
            "a": a,
            "organiser": organiser,
            "participants": parts if organiser else [],
            "mine": mine,
            "position": position,
            "volunteer": volunteer,
            "taken": sum(1 for p in parts if p.state in services.ACTIVE),
            "waiting": sum(1 for p in parts if p.state == WAITING),
            "ratings": RATINGS,
            "open": a.state == Activity.State.PUBLISHED,
        },
    )


@login_required
@require_POST
def signup(request: HttpRequest, activity_id: int) -> HttpResponse:
    a = gate(selectors.access_activity, request.user, activity_id)
    p = attempt(request, services.signup, activity=a, by=request.user)
    if p is not None:
        if p.state == WAITING:
            messages.success(request, _("All places are taken: you are on the waiting list and will be told."))
        else:
            messages.success(request, _("You are signed up for “%(title)s”.") % {"title": a.title})
    return _back(request, reverse("volunteers:activity", args=[a.pk]))


@login_required
@require_POST
def checkin(request: HttpRequest, activity_id: int) -> HttpResponse:
    """The organiser checks a participant in; a volunteer checks themself in with the code."""
    a = gate(selectors.access_activity, request.user, activity_id)
    pid = to_int(request.POST.get("participation"))
    if pid is not None:
        p = gate(selectors.access_participation, request.user, pid)
        if p.activity_id != a.pk:
            raise Http404
        done = attempt(request, services.check_in, activity=a, by=request.user, volunteer=p.volunteer)
    else:
        done = attempt(request, services.check_in, activity=a, by=request.user, code=_code(request.POST.get("code")))
    if done is not None:
        messages.success(request, _("Checked in."))
    return _back(request, reverse("volunteers:activity", args=[a.pk]))


@login_required
@require_POST
def withdraw(request: HttpRequest, participation_id: int) -> HttpResponse:
    p = gate(selectors.access_participation, request.user, participation_id)
    if attempt(request, services.withdraw, participation=p, by=request.user) is not None:
        messages.success(request, _("You are no longer signed up for “%(title)s”.") % {"title": p.activity.title})
    return _back(request, reverse("volunteers:activity", args=[p.activity_id]))


@login_required
@require_POST
def checkout(request: HttpRequest, participation_id: int) -> HttpResponse:
    p = gate(selectors.access_participation, request.user, participation_id)
    done = attempt(request, services.check_out, participation=p, by=request.user, code=_code(request.POST.get("code")))
    if done is not None:
        messages.success(request, _("Checked out."))
    return _back(request, reverse("volunteers:activity", args=[p.activity_id]))


@login_required
@require_POST
def rate(request: HttpRequest, participation_id: int) -> HttpResponse:
    """The organiser's rating fixes the hours of the honour record and files the points claim."""
    p = gate(selectors.access_participation, request.user, participation_id)
    rating = to_int(request.POST.get("rating"))
    hours = request.POST.get("hours", "").strip()[:6]
    done = attempt(
        request,
        services.rate,
        participation=p,
        rating=rating if rating is not None else -1,
        hours=hours or None,
        by=request.user,
    )
    if done is not None:
        messages.success(
            request,
            _("Rated %(name)s: %(hours)s hours of service.") % {"name": p.volunteer.resident.name, "hours": done.hours},
        )
    return redirect("volunteers:activity", activity_id=p.activity_id)


@login_required
@require_POST
def activity_cancel(request: HttpRequest, activity_id: int) -> HttpResponse:
    a = gate(selectors.access_activity, request.user, activity_id)
    done = attempt(
        request, services.activity_cancel, activity=a, by=request.user, reason=request.POST.get("reason", "")
    )
    if done is not None:
        messages.success(request, _("The activity is cancelled; those signed up are told."))
    return redirect("volunteers:activity", activity_id=a.pk)


@login_required
@require_POST
def activity_finish(request: HttpRequest, activity_id: int) -> HttpResponse:
    a = gate(selectors.access_activity, request.user, activity_id)
    if attempt(request, services.activity_finish, activity=a, by=request.user) is not None:
        messages.success(request, _("The activity is closed."))
    return redirect("volunteers:activity", activity_id=a.pk)


# --- organisers: activities and teams ------------------------------------------------------------------


def _publish(request: HttpRequest) -> Activity | None:
    p = request.POST
    user = request.user
    team = None
    team_id = to_int(p.get("team"))
    if team_id:
        team = gate(selectors.access_team, user, team_id)
    node_id = to_int(p.get("node"))
    if team is None and node_id is None:
        messages.error(request, _("Choose the village or town, or the team."))
        return None
    node = team.node if team is not None else gate(access_node, user, node_id)
    try:
        starts_at = _local(p.get("starts_at", ""), "starts_at")
        ends_at = _local(p.get("ends_at", ""), "ends_at")
    except ValidationFailed as exc:
        messages.error(request, error_text(exc))
        return None
    return attempt(
        request,
        services.activity_publish,
        node=node,
        team=team,
        title=p.get("title", "")[:80],
        place=p.get("place", "")[:120],
        description=p.get("description", "")[:1000],
        starts_at=starts_at,
        ends_at=ends_at,
        capacity=to_int(p.get("capacity")) or 0,
        by=user,
    )


@login_required
@require_http_methods(["GET", "POST"])
def manage_page(request: HttpRequest) -> HttpResponse:
    """Activities I organise and the form to publish one; the teams of my area and the form to set one up."""
    user = request.user
    paths, led = _organiser_or_404(user)
    status = 200
    fields = ("node", "team", "title", "place", "description", "starts_at", "ends_at", "capacity")
    values = {**dict.fromkeys(fields, ""), "capacity": "10"}
    if request.method == "POST":
        a = _publish(request)
        if a is not None:
            messages.success(request, _("Published: %(title)s.") % {"title": a.title})
            return redirect("volunteers:activity", activity_id=a.pk)
        values = {k: request.POST.get(k, "") for k in fields}
        status = 422
    since = now() - dt.timedelta(days=30)
    acts = [
        a
        for a in selectors.with_counts(selectors.activities_for(user).filter(starts_at__gte=since))
        .select_related("team", "node")
        .order_by("starts_at", "id")[:300]
        if selectors.organises(user, a, led)
    ]
    nodes = list(
        Node.objects.filter(paths_q(paths, "path"), level__in=[Level.TOWN, Level.VILLAGE]).order_by("path")[:300]
    )
    teams = list(
        selectors.with_members(selectors.teams_for(user).filter(is_active=True))
        .select_related("node")
        .order_by("path", "id")[:300]
    )
    for t in teams:
        t.mine = t.pk in led or manages(user, t.path)
    volunteers = (
        list(selectors.volunteers_for(user).filter(is_active=True).select_related("resident").order_by("path")[:300])
        if paths
        else []
    )
    return render(
        request,
        "volunteers/manage.html",
        {
            "activities": acts,
            "nodes": nodes,
            "teams": teams,
            "my_teams": [t for t in teams if t.mine],
            "volunteers": volunteers,
            "values": values,
            "staff": bool(paths),
        },
        status=status,
    )


@login_required
@require_POST
def team_create(request: HttpRequest) -> HttpResponse:
    _organiser_or_404(request.user)
    node_id = to_int(request.POST.get("node"))
    if node_id is None:
        messages.error(request, _("Choose the village or town, or the team."))
        return redirect("volunteers:manage")
    node = gate(access_node, request.user, node_id)
    leader_id = to_int(request.POST.get("leader"))
    leader = gate(selectors.access_volunteer, request.user, leader_id) if leader_id else None
    team = attempt(
        request,
        services.team_create,
        node=node,
        name=request.POST.get("name", "")[:60],
        description=request.POST.get("description", "")[:300],
        leader=leader,
        by=request.user,
    )
    if team is not None:
        messages.success(request, _("The team %(name)s is set up.") % {"name": team.name})
    return redirect("volunteers:manage")
