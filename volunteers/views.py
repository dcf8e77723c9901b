"""Volunteer pages: the week's activities with sign-up and the honour record of a volunteer; the
organiser's activities with their check-in code, participants, check-in/out and rating; teams.

Pages change nothing themselves: every write is a call to volunteers.services, every scoped read goes
through volunteers.selectors, every posted action is read through its form (volunteers.forms). A form's
or a service's refusal is shown as a message and changes nothing; what is missing or not the user's is
the 404 page, as is the organisers' page for anyone who organises nothing. The buttons of a sign-up and
an activity are the actions the selectors allow this user.
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

from accounts.http import AuthedRequest
from core.clock import EARLIEST, LATEST, SHANGHAI, now
from core.errors import ValidationFailed
from core.extra import attach
from core.formerrors import for_field
from core.forms import bind
from core.pages import attempt, back_to, error_text, gate
from org.access import access_node, own_resident, paths_q
from org.models import Level, Node, Resident
from points.selectors import manager_paths, manages
from volunteers import forms, selectors, services
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
    code = (value or "").strip().upper()
    return code if code.isascii() and code.isalnum() else ""


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
def home(request: AuthedRequest) -> HttpResponse:
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
            for p in volunteer.participations.filter(activity_id__in=[a.pk for a in acts])
            .exclude(state=Participation.State.WITHDRAWN)
            .select_related("activity", "volunteer__resident")
        }
        parts = list(
            volunteer.participations.select_related("activity", "claim").order_by("-activity__starts_at", "-id")[:30]
        )
        hours = selectors.hours_of(volunteer)
    led = selectors.led_team_ids(user) if mine else frozenset()
    for a in acts:
        p = mine.get(a.pk)
        if p is not None:
            attach(p, actions=selectors.participation_actions(user, p, organiser=selectors.organises(user, a, led)))
        attach(a, mine=p, left=max(0, a.capacity - a.taken))
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
def join(request: AuthedRequest) -> HttpResponse:
    me = own_resident(request.user)
    if me is None:
        raise Http404
    form = bind(request, forms.JoinForm, error_for={"skills": "skills", "availability": "availability"})
    if form is None:
        return redirect("volunteers:home")
    raw = form.cleaned_data["skills"]
    for sep in "，、;；":
        raw = raw.replace(sep, ",")
    skills = [s for s in (x.strip() for x in raw.split(",")) if s]
    done = attempt(
        request,
        services.volunteer_join,
        resident=me,
        by=request.user,
        skills=skills,
        availability=form.cleaned_data["availability"],
        error_for={"skills": "skills", "availability": "availability"},
    )
    if done is not None:
        messages.success(request, _("Welcome! You are registered as a volunteer."))
    return redirect("volunteers:home")


@login_required
@require_POST
def checkin_by_code(request: AuthedRequest) -> HttpResponse:
    """Check in with the code shown at the place: it names the activity among my sign-ups."""
    me = own_resident(request.user)
    if me is None:
        raise Http404
    volunteer = _volunteer(request.user, me)
    form = bind(request, forms.CodeCheckinForm, error_for="code")
    if form is None:
        return redirect("volunteers:home")
    code = _code(form.cleaned_data["code"])
    if volunteer is None:
        messages.error(request, _("Register as a volunteer first."))
        return redirect("volunteers:home")
    p = volunteer.participations.filter(activity__checkin_code=code).first() if code else None
    if p is None:
        messages.error(request, _("The check-in code is not right."), extra_tags=for_field("code"))
        return redirect("volunteers:home")
    activity = gate(selectors.access_activity, request.user, p.activity_id)
    if attempt(request, services.check_in, activity=activity, by=request.user, code=code, error_for="code") is not None:
        messages.success(request, _("You are checked in for “%(title)s”. Thank you!") % {"title": activity.title})
    return redirect("volunteers:home")


@login_required
def activity_page(request: AuthedRequest, activity_id: int) -> HttpResponse:
    """One activity: to a volunteer, sign-up and check-in; to its organisers, the check-in code to put
    up at the place, the participants with check-in, check-out and rating, and closing it."""
    user = request.user
    a = gate(selectors.access_activity, user, activity_id)
    organiser = selectors.organises(user, a)
    parts = list(
        a.participations.select_related("activity", "volunteer__resident", "claim").order_by("signed_at", "id")
    )
    at = now()
    for p in parts:
        p.actions = selectors.participation_actions(user, p, organiser=organiser, at=at)
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
            "actions": selectors.activity_actions(user, a, organiser=organiser),
        },
    )


@login_required
@require_POST
def signup(request: AuthedRequest, activity_id: int) -> HttpResponse:
    a = gate(selectors.access_activity, request.user, activity_id)
    default = reverse("volunteers:activity", args=[a.pk])
    form = bind(request, forms.SignupForm)
    if form is None:
        return redirect(default)
    p = attempt(request, services.signup, activity=a, by=request.user)
    if p is not None:
        if p.state == WAITING:
            messages.success(request, _("All places are taken: you are on the waiting list and will be told."))
        else:
            messages.success(request, _("You are signed up for “%(title)s”.") % {"title": a.title})
    return back_to(form.cleaned_data["next"], "/volunteers/", default)


@login_required
@require_POST
def checkin(request: AuthedRequest, activity_id: int) -> HttpResponse:
    """The organiser checks a participant in; a volunteer checks themself in with the code."""
    a = gate(selectors.access_activity, request.user, activity_id)
    default = reverse("volunteers:activity", args=[a.pk])
    form = bind(request, forms.CheckinForm)
    if form is None:
        return redirect(default)
    d = form.cleaned_data
    if d["participation"] is not None:
        p = gate(selectors.access_participation, request.user, d["participation"])
        if p.activity_id != a.pk:
            raise Http404
        done = attempt(request, services.check_in, activity=a, by=request.user, volunteer=p.volunteer)
    else:
        done = attempt(request, services.check_in, activity=a, by=request.user, code=_code(d["code"]), error_for="code")
    if done is not None:
        messages.success(request, _("Checked in."))
    return back_to(d["next"], "/volunteers/", default)


@login_required
@require_POST
def withdraw(request: AuthedRequest, participation_id: int) -> HttpResponse:
    p = gate(selectors.access_participation, request.user, participation_id)
    default = reverse("volunteers:activity", args=[p.activity_id])
    form = bind(request, forms.WithdrawForm)
    if form is None:
        return redirect(default)
    if attempt(request, services.withdraw, participation=p, by=request.user) is not None:
        messages.success(request, _("You are no longer signed up for “%(title)s”.") % {"title": p.activity.title})
    return back_to(form.cleaned_data["next"], "/volunteers/", default)


@login_required
@require_POST
def checkout(request: AuthedRequest, participation_id: int) -> HttpResponse:
    p = gate(selectors.access_participation, request.user, participation_id)
    default = reverse("volunteers:activity", args=[p.activity_id])
    form = bind(request, forms.CheckoutForm, error_for="outcode")
    if form is None:
        return redirect(default)
    code = _code(form.cleaned_data["code"])
    done = attempt(request, services.check_out, participation=p, by=request.user, code=code, error_for="outcode")
    if done is not None:
        messages.success(request, _("Checked out."))
    return back_to(form.cleaned_data["next"], "/volunteers/", default)


@login_required
@require_POST
def rate(request: AuthedRequest, participation_id: int) -> HttpResponse:
    """The organiser's rating fixes the hours of the honour record and files the points claim."""
    p = gate(selectors.access_participation, request.user, participation_id)
    form = bind(request, forms.RateForm)
    if form is None:
        return redirect("volunteers:activity", activity_id=p.activity_id)
    rating, hours = form.cleaned_data["rating"], form.cleaned_data["hours"]
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
def activity_cancel(request: AuthedRequest, activity_id: int) -> HttpResponse:
    a = gate(selectors.access_activity, request.user, activity_id)
    form = bind(request, forms.ActivityCancelForm)
    if form is None:
        return redirect("volunteers:activity", activity_id=a.pk)
    done = attempt(request, services.activity_cancel, activity=a, by=request.user, reason=form.cleaned_data["reason"])
    if done is not None:
        messages.success(request, _("The activity is cancelled; those signed up are told."))
    return redirect("volunteers:activity", activity_id=a.pk)


@login_required
@require_POST
def activity_finish(request: AuthedRequest, activity_id: int) -> HttpResponse:
    a = gate(selectors.access_activity, request.user, activity_id)
    if bind(request, forms.ActivityFinishForm) is None:
        return redirect("volunteers:activity", activity_id=a.pk)
    if attempt(request, services.activity_finish, activity=a, by=request.user) is not None:
        messages.success(request, _("The activity is closed."))
    return redirect("volunteers:activity", activity_id=a.pk)


# --- organisers: activities and teams ------------------------------------------------------------------


def _publish(request: HttpRequest, form: forms.PublishForm) -> Activity | None:
    d = form.cleaned_data
    user = request.user
    team = None
    if d["team"]:
        team = gate(selectors.access_team, user, d["team"])
    if team is None and d["node"] is None:
        messages.error(request, _("Choose the village or town, or the team."))
        return None
    node = team.node if team is not None else gate(access_node, user, d["node"])
    try:
        starts_at = _local(d["starts_at"], "starts_at")
        ends_at = _local(d["ends_at"], "ends_at")
    except ValidationFailed as exc:
        messages.error(request, error_text(exc))
        return None
    return attempt(
        request,
        services.activity_publish,
        node=node,
        team=team,
        title=d["title"],
        place=d["place"],
        description=d["description"],
        starts_at=starts_at,
        ends_at=ends_at,
        capacity=d["capacity"] or 0,
        by=user,
    )


@login_required
@require_http_methods(["GET", "POST"])
def manage_page(request: AuthedRequest) -> HttpResponse:
    """Activities I organise and the form to publish one; the teams of my area and the form to set one up."""
    user = request.user
    paths, led = _organiser_or_404(user)
    status = 200
    fields = ("node", "team", "title", "place", "description", "starts_at", "ends_at", "capacity")
    values = {**dict.fromkeys(fields, ""), "capacity": "10"}
    if request.method == "POST":
        form = bind(request, forms.PublishForm)
        if form is None:
            return redirect("volunteers:manage")
        a = _publish(request, form)
        if a is not None:
            messages.success(request, _("Published: %(title)s.") % {"title": a.title})
            return redirect("volunteers:activity", activity_id=a.pk)
        # What was typed stays in the form (as read: stripped, numbers as numbers).
        values = {k: "" if form.cleaned_data[k] is None else str(form.cleaned_data[k]) for k in fields}
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
    my_teams = []
    for t in teams:
        is_mine = t.pk in led or manages(user, t.path)
        attach(t, mine=is_mine)
        if is_mine:
            my_teams.append(t)
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
            "my_teams": my_teams,
            "volunteers": volunteers,
            "values": values,
            "staff": bool(paths),
        },
        status=status,
    )


@login_required
@require_POST
def team_create(request: AuthedRequest) -> HttpResponse:
    _organiser_or_404(request.user)
    form = bind(request, forms.TeamForm)
    if form is None:
        return redirect("volunteers:manage")
    d = form.cleaned_data
    if d["node"] is None:
        messages.error(request, _("Choose the village or town, or the team."))
        return redirect("volunteers:manage")
    node = gate(access_node, request.user, d["node"])
    leader = gate(selectors.access_volunteer, request.user, d["leader"]) if d["leader"] else None
    team = attempt(
        request,
        services.team_create,
        node=node,
        name=d["name"],
        description=d["description"],
        leader=leader,
        by=request.user,
    )
    if team is not None:
        messages.success(request, _("The team %(name)s is set up.") % {"name": team.name})
    return redirect("volunteers:manage")
