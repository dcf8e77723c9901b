"""One-key call pages: the resident's button, the responder's live list and call page, the command-centre
board. They change nothing themselves: every step goes through sos.services."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from statistics import median
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Count
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.http import AuthedRequest
from catalog.selectors import category_by_code
from core.clock import now
from core.forms import bind
from core.pages import attempt, gate
from org import selectors as org_selectors
from org.access import get_scope, paths_q, residents_for
from org.models import Level, Node, path_ids
from org.selectors import whole_number
from sos import selectors, services
from sos.forms import (
    STEP_FORMS,
    ChainForm,
    ContactsForm,
    RaiseForm,
    RegisterForm,
    StaffRaiseForm,
    StepForm,
    WhichForm,
    WorkorderForm,
)
from sos.models import Call, CareProfile, Responder
from sos.states import OPEN_STATES, State

STEPS: dict[str, Callable[..., Call]] = {
    "acknowledge": services.call_acknowledge,
    "depart": services.call_depart,
    "arrive": services.call_arrive,
    "resolve": services.call_resolve,
    "cancel": services.call_cancel,
    "follow-up": services.call_follow_up,
}


def _own_profile(user: Any) -> CareProfile | None:
    return CareProfile.objects.select_related("resident").filter(resident__user_id=user.pk, is_active=True).first()


def _is_responder(user: Any) -> bool:
    return bool(selectors.area_paths(user)) or user.care_chain.exists()


@login_required
def home(request: AuthedRequest) -> HttpResponse:
    profile = _own_profile(request.user)
    if profile is None:
        if _is_responder(request.user):
            return redirect("sos:calls")
        return render(request, "sos/not_registered.html")
    open_call = (
        Call.objects.filter(profile=profile, state__in=OPEN_STATES).select_related("responder").order_by("-id").first()
    )
    cancel_left = 0
    if open_call is not None and open_call.state == State.RAISED:
        left = services.setting("CANCEL_SECONDS") - (now() - open_call.raised_at).total_seconds()
        cancel_left = max(0, int(left))
    return render(request, "sos/button.html", {"profile": profile, "call": open_call, "cancel_left": cancel_left})


@login_required
def raise_page(request: AuthedRequest) -> HttpResponse:
    """The second tap: a pocket press does not call anyone until it is confirmed."""
    profile = _own_profile(request.user)
    if profile is None:
        raise Http404
    kind = request.GET.get("kind") or Call.Kind.EMERGENCY
    if request.method == "POST":
        form = bind(request, RaiseForm)
        if form is not None:
            kind = form.cleaned_data["kind"]
            attempt(
                request, services.call_raise, profile=profile, channel=Call.Channel.BUTTON, by=request.user,
                kind=kind if kind in Call.Kind.values else Call.Kind.EMERGENCY,
                idempotency_key=form.cleaned_data["key"],
            )  # fmt: skip
        return redirect("sos:home")
    if kind not in Call.Kind.values:
        kind = Call.Kind.EMERGENCY
    return render(
        request, "sos/confirm.html", {"kind": kind, "kind_label": Call.Kind(kind).label, "key": secrets.token_hex(8)}
    )


def _open_calls(user: Any) -> list[Call]:
    return list(
        selectors.calls_for(user)
        .filter(state__in=OPEN_STATES)
        .select_related("profile__resident__household", "responder")
        .order_by("raised_at", "id")[:200]
    )


@login_required
def calls_page(request: AuthedRequest) -> HttpResponse:
    if not _is_responder(request.user):
        raise Http404
    recent = list(
        selectors.calls_for(request.user)
        .exclude(state__in=OPEN_STATES)
        .select_related("profile__resident", "responder")
        .order_by("-raised_at", "-id")[:20]
    )
    template = "sos/_calls.html" if request.GET.get("part") == "list" else "sos/calls.html"
    staff = bool(selectors.area_paths(request.user))
    return render(request, template, {"open": _open_calls(request.user), "recent": recent, "staff": staff})


def _stats(user: Any, days: int = 30) -> dict[str, Any]:
    since = now() - dt.timedelta(days=days)
    qs = selectors.calls_for(user).filter(raised_at__gte=since)
    rows = list(qs.values_list("path", "raised_at", "acknowledged_at", "arrived_at", "level", "stage", "state"))
    acks = [(a - r).total_seconds() for _p, r, a, _ar, _l, _s, _st in rows if a]
    arrivals = [(ar - r).total_seconds() for _p, r, _a, ar, _l, _s, _st in rows if ar]
    escalated = sum(1 for row in rows if row[4] > 0)
    per_village: dict[int, int] = {}
    for row in rows:
        ids = path_ids(row[0])
        if len(ids) >= 2:
            per_village[ids[-2]] = per_village.get(ids[-2], 0) + 1
    names = dict(Node.objects.filter(pk__in=per_village, level=Level.VILLAGE).values_list("pk", "name"))
    return {
        "days": days,
        "total": len(rows),
        "by_kind": dict(qs.values_list("kind").annotate(n=Count("id")).values_list("kind", "n")),
        "ack_median": round(median(acks)) if acks else None,
        "arrive_median": round(median(arrivals) / 60) if arrivals else None,
        "escalation_rate": round(100 * escalated / len(rows)) if rows else None,
        "per_village": sorted(((names.get(k, k), v) for k, v in per_village.items()), key=lambda x: -x[1]),
    }


MAP_W, MAP_H = 640, 420


def _map(user: Any, calls: list[Call]) -> dict[str, Any] | None:
    """Open calls placed at their grid's centre over the grids of the user's area (an SVG drawn here: no
    map tiles, county intranets have no internet)."""
    grids = [
        (pk, lat, lng)
        for pk, lat, lng in Node.objects.filter(
            paths_q(selectors.area_paths(user), "path"), level=Level.GRID, lat__isnull=False
        ).values_list("pk", "lat", "lng")[:5000]
        if lat is not None and lng is not None
    ]
    if not grids:
        return None
    lats = [float(g[1]) for g in grids]
    lngs = [float(g[2]) for g in grids]
    lat0, lat1, lng0, lng1 = min(lats), max(lats), min(lngs), max(lngs)
    span_lat, span_lng = max(lat1 - lat0, 1e-4), max(lng1 - lng0, 1e-4)

    def xy(lat: float, lng: float) -> tuple[int, int]:
        return round(20 + (lng - lng0) / span_lng * (MAP_W - 40)), round(20 + (lat1 - lat) / span_lat * (MAP_H - 40))

    where = {g[0]: xy(float(g[1]), float(g[2])) for g in grids}
    points = []
    for c in calls:
        grid_id = c.profile.resident.household.grid_id
        if grid_id in where:
            x, y = where[grid_id]
            points.append({"x": x, "y": y, "call": c})
    return {"w": MAP_W, "h": MAP_H, "grids": list(where.values()), "points": points}


@login_required
def board_page(request: AuthedRequest) -> HttpResponse:
    _staff_or_404(request.user)
    template = "sos/_board.html" if request.GET.get("part") == "list" else "sos/board.html"
    calls = _open_calls(request.user)
    return render(request, template, {"open": calls, "stats": _stats(request.user), "map": _map(request.user, calls)})


@login_required
def call_page(request: AuthedRequest, call_id: int) -> HttpResponse:
    call = gate(selectors.access_call, request.user, call_id)
    mine = call.responder_id == request.user.pk
    is_caller = call.profile.resident.user_id == request.user.pk
    # The caller's own page needs no card of where they live.
    caller = None if is_caller else selectors.caller_contact(request.user, call, channel="page", path=request.path)
    return render(
        request,
        "sos/call.html",
        {
            "call": call,
            "events": list(selectors.timeline(call)),
            "mine": mine,
            "is_caller": is_caller,
            "actions": services.call_actions(request.user, call),
            "caller": caller,
        },
    )


@login_required
@require_POST
def call_step(request: AuthedRequest, call_id: int, step: str) -> HttpResponse:
    fn = STEPS.get(step)
    if fn is None:
        raise Http404
    call = gate(selectors.access_call, request.user, call_id)
    form = bind(request, STEP_FORMS.get(step, StepForm))
    if form is None:
        return redirect("sos:call", call_id=call_id)
    kw = {k: v for k, v in form.cleaned_data.items() if k != "next"}
    try:
        attempt(request, fn, call=call, by=request.user, **kw)
    except DjangoPermissionDenied:
        messages.error(request, _("You may not do that."))
    if form.cleaned_data["next"] == "home":
        return redirect("sos:home")
    return redirect("sos:call", call_id=call_id)


# --- the register (staff) ---------------------------------------------------------------------------------


def _staff_or_404(user: Any) -> None:
    if not selectors.area_paths(user):
        raise Http404


@login_required
def profiles_page(request: AuthedRequest) -> HttpResponse:
    """Who is registered in my area; find a resident to register."""
    _staff_or_404(request.user)
    profiles = list(selectors.profiles_for(request.user).select_related("resident").order_by("path", "id")[:500])
    q = request.GET.get("q", "").strip()[:30]
    found = []
    if q:
        registered = {p.resident_id for p in profiles}
        found = [r for r in org_selectors.resident_list(request.user, q=q)[:20] if r.pk not in registered]
    return render(
        request,
        "sos/profiles.html",
        {"profiles": profiles, "q": q, "found": found, "reasons": CareProfile.Reason.choices},
    )


@login_required
@require_POST
def profile_register(request: AuthedRequest) -> HttpResponse:
    _staff_or_404(request.user)
    form = bind(request, RegisterForm)
    if form is None:
        return redirect("sos:profiles")
    resident = residents_for(request.user).filter(pk=form.cleaned_data["resident"]).first()
    if resident is None:
        raise Http404
    p = attempt(
        request, services.care_register, resident=resident, by=request.user, reasons=form.cleaned_data["reasons"],
        needs=form.cleaned_data["needs"],
    )  # fmt: skip
    if p is None:
        return redirect("sos:profiles")
    return redirect("sos:profile", profile_id=p.pk)


@login_required
def profile_page(request: AuthedRequest, profile_id: int) -> HttpResponse:
    _staff_or_404(request.user)
    p = gate(selectors.access_profile, request.user, profile_id)
    if request.method == "POST":
        which = bind(request, WhichForm)
        if which is not None and which.cleaned_data["form"] == "contacts":
            form: ContactsForm | ChainForm | None = bind(request, ContactsForm)
            saved = _("The family contacts are saved.")
            save: Any = lambda f: services.contacts_set(profile=p, contacts=f.contacts(), by=request.user)  # noqa: E731
        elif which is not None:
            form = bind(request, ChainForm)
            saved = _("The responder chain is saved.")
            save = lambda f: services.chain_set(profile=p, rungs=f.rungs(), by=request.user)  # noqa: E731
        else:
            form = None
        if form is not None:
            try:
                if attempt(request, save, f=form) is not None:
                    messages.success(request, saved)
            except DjangoValidationError as exc:
                messages.error(request, " ".join(exc.messages))
        return redirect("sos:profile", profile_id=p.pk)
    where = {"field": "phone", "channel": "page", "path": request.path}
    chain = list(p.chain.select_related("user").order_by("position"))
    for r in chain:  # the chain's numbers stand whole in the form that edits them
        r.phone = selectors.responder_phone(request.user, r, **where)
    rows = [*chain, *([None] * (services.MAX_CHAIN - len(chain)))]
    calls = list(p.calls.select_related("responder").order_by("-raised_at")[:20])
    contacts = list(p.contacts.all())
    unmask = get_scope(request.user).unmask_phone(p.resident)
    for c in contacts:  # family numbers are the resident's personal data
        c.phone = whole_number(request.user, c.phone, allowed=unmask, resident=p.resident, **where)
    return render(
        request,
        "sos/profile.html",
        {
            "p": p,
            "rows": rows,
            "kinds": Responder.Kind.choices,
            "candidates": services.chain_candidates(profile=p),
            "calls": calls,
            "call_kinds": Call.Kind.choices,
            "contact_rows": [*contacts, *([None] * (services.MAX_CONTACTS - len(contacts)))],
            "contacts_editable": unmask,
        },
    )


@login_required
@require_POST
def profile_raise(request: AuthedRequest, profile_id: int) -> HttpResponse:
    """Staff raise a call for someone who telephoned (hotline) or whom they found in need."""
    _staff_or_404(request.user)
    p = gate(selectors.access_profile, request.user, profile_id)
    form = bind(request, StaffRaiseForm)
    if form is None:
        return redirect("sos:profile", profile_id=p.pk)
    d = form.cleaned_data
    raised = attempt(
        request, services.call_raise, profile=p, by=request.user, kind=d["kind"] or Call.Kind.EMERGENCY,
        channel=d["channel"] or Call.Channel.STAFF, note=d["note"], idempotency_key=d["key"],
    )  # fmt: skip
    if raised is None:
        return redirect("sos:profile", profile_id=p.pk)
    return redirect("sos:call", call_id=raised.call.pk)


@login_required
@require_POST
def call_workorder(request: AuthedRequest, call_id: int) -> HttpResponse:
    call = gate(selectors.access_call, request.user, call_id)
    form = bind(request, WorkorderForm)
    if form is not None:
        category = category_by_code(form.cleaned_data["category"])
        if category is None:
            messages.error(request, _("No such category."))
        else:
            attempt(request, services.call_to_workorder, call=call, by=request.user, text=form.cleaned_data["text"],
                    category=category)  # fmt: skip
    return redirect("sos:call", call_id=call_id)
