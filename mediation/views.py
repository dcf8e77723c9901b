"""Mediation pages, Chinese first and for a phone: a grid worker reports a dispute from a patrol (parties, risk, a red
flag, or settled on the spot); the mediator accepts it, records sessions, extends the time limit, writes the
agreement (a printable 调解协议书), uploads the signed copy, records the follow-up visits, refers it and records
the unit's result; a resident follows their own case. Writes go through mediation.services; a refusal is a
message, bad input changes nothing, a case one does not see is the 404 page."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from accounts.http import AuthedRequest
from accounts.models import User
from core.clock import today
from core.forms import bind
from core.pages import attempt, gate, new_key, to_int
from mediation import forms, selectors, services
from mediation.models import Case, Kind, Level, Mediator, Party, Referral, Risk, Scan, Source
from mediation.services import PartyIn
from org.access import own_resident, paths_q, residents_for
from org.models import Level as NodeLevel
from org.models import Node, path_ids

LIST_MAX = 200

# The steps whose form's fields are the service's arguments: the form, the service, what the page says when done.
STEPS: dict[str, tuple[Any, Any, Any]] = {
    "decline": (forms.ReasonForm, services.case_decline, gettext_lazy("Done.")),
    "end": (forms.ReasonForm, services.case_end, gettext_lazy("Done.")),
    "flag": (forms.ReasonForm, services.case_flag, gettext_lazy("Red flag raised: the town has been told.")),
    "unflag": (forms.ReasonForm, services.case_unflag, gettext_lazy("Done.")),
    "session": (forms.SessionForm, services.session_add, gettext_lazy("Session recorded.")),
    "extend": (forms.ExtendForm, services.case_extend, gettext_lazy("Time limit extended.")),
    "agree": (
        forms.AgreementForm,
        services.agreement_make,
        gettext_lazy("Agreement recorded. Print it for the parties to sign, then upload the signed copy."),
    ),
    "settle": (forms.SettleForm, services.case_settle, gettext_lazy("The case is settled.")),
    "refer": (forms.ReferForm, services.case_refer, gettext_lazy("Referred.")),
    "result": (forms.ResultForm, services.referral_result, gettext_lazy("Result recorded.")),
}


@login_required
def home(request: AuthedRequest) -> HttpResponse:
    """My cases: red flags first, then the newest; by state."""
    state = request.GET.get("state", "")
    qs = selectors.cases_for(request.user).select_related("node", "mediator")
    if state in Case.State.values:
        qs = qs.filter(state=state)
    cases = list(qs.order_by("-red_flag", "-created_at", "-id")[:LIST_MAX])
    return render(
        request,
        "mediation/home.html",
        {
            "cases": cases,
            "state": state,
            "states": Case.State.choices,
            "may_report": selectors.report_nodes(request.user).exists() or own_resident(request.user) is not None,
            "manages_register": bool(selectors.manage_paths(request.user)),
            "watches": bool(selectors.watch_paths(request.user)),
        },
    )


def _report_places(request: AuthedRequest) -> tuple[list[Node], bool]:
    """Where the user may report, and whether as staff: the places of their area, else a resident's own grid."""
    nodes = list(selectors.report_nodes(request.user).order_by("path")[:500])
    if nodes:
        return nodes, True
    own = own_resident(request.user)
    grid = Node.objects.filter(households=own.household_id).first() if own is not None else None
    return ([grid] if grid is not None else []), False


@login_required
@require_http_methods(["GET", "POST"])
def report(request: AuthedRequest) -> HttpResponse:
    """Report a dispute: where, what, who (up to three parties here), the risk; a red flag alerts the town."""
    places, staff = _report_places(request)
    if not places:
        raise Http404
    if request.method == "POST":
        f = bind(request, forms.ReportForm)
        if f is not None:
            d = f.cleaned_data
            node = next((n for n in places if n.pk == d["node"]), None) if d["node"] else places[0]
            if node is None:
                raise Http404
            case = attempt(
                request,
                services.case_report,
                by=request.user,
                node=node,
                kind=d["kind"],
                title=d["title"],
                account=d["account"],
                parties=[PartyIn(**p) for p in f.parties()],
                source=d["source"] or "",
                risk=d["risk"] or Risk.LOW,
                red_reason=d["red_reason"] or "",
                on_the_spot=d["on_the_spot"] or "",
                key=d["key"],
            )
            if case is not None:
                messages.success(request, _("Reported as case %(code)s.") % {"code": case.code})
                return redirect("mediation:case", case.pk)
    residents = []
    if staff and len(places) <= 60:
        qs = residents_for(request.user)
        if len(places) == 1:
            qs = qs.filter(path__startswith=places[0].path)
        residents = list(qs.select_related("household").order_by("household__address", "id")[:400])
    return render(
        request,
        "mediation/report.html",
        {
            "places": places,
            "staff": staff,
            "kinds": Kind.choices,
            "sources": Source.choices,
            "risks": Risk.choices,
            "sides": Party.Side.choices,
            "slots": range(1, forms.PAGE_PARTIES + 1),
            "residents": residents,
            "key": new_key(),
        },
    )


@login_required
def case_page(request: AuthedRequest, case_id: int) -> HttpResponse:
    c = gate(selectors.access_case, request.user, case_id)
    full = selectors.handles(request.user, c)
    reveal = full and request.GET.get("reveal") == "1"
    agreements = list(c.agreements.prefetch_related("scans"))
    return render(
        request,
        "mediation/case.html",
        {
            "c": c,
            "full": full,
            "reveal": reveal,
            "actions": selectors.actions(request.user, c),
            "parties": selectors.party_rows(request.user, c, reveal=reveal, channel="page", path=request.path),
            "sessions": list(c.sessions.all()) if full else [],
            "agreements": agreements,
            "follow_ups": list(c.follow_ups.all()),
            "open_follow_up": selectors.due_follow_up(c),
            "referrals": list(c.referrals.all()),
            "events": selectors.event_rows(c) if full else [],
            "extensions": list(c.extensions.all()) if full else [],
            "mediators": list(selectors.mediators_for(c)) if full else [],
            "due_day": selectors.due_date(c),
            "today": today(),
            "units": Referral.Unit.choices,
            "levels": Level.choices,
        },
    )


@login_required
@require_POST
def case_step(request: AuthedRequest, case_id: int, step: str) -> HttpResponse:
    c = gate(selectors.access_case, request.user, case_id)
    here = redirect("mediation:case", c.pk)
    done = _("Done.")
    f: Any
    ok: Any = None
    if step in ("accept", "assign"):
        f = bind(request, forms.AcceptForm)
        if f is not None:
            m = Mediator.objects.filter(pk=f.cleaned_data["mediator"] or 0).first()
            fn: Any = services.case_accept if step == "accept" else services.case_assign
            ok = attempt(request, fn, case=c, by=request.user, mediator=m)
            done = _("The case is with %(name)s.") % {"name": m.name} if m else done
    elif step in STEPS:
        form, fn, said = STEPS[step]
        f = bind(request, form)
        if f is not None:
            ok = attempt(request, fn, case=c, by=request.user, **f.cleaned_data)
            done = str(said)
    elif step == "scan":
        upload = request.FILES.get("photo")
        if upload is None:
            messages.error(request, _("Choose a photo of the signed agreement."))
        else:
            ok = attempt(request, services.scan_add, case=c, by=request.user, upload=upload)
            done = _("Signed copy uploaded.")
    elif step == "follow_up":
        f = bind(request, forms.FollowUpForm)
        if f is not None:
            fu = c.follow_ups.filter(pk=f.cleaned_data["follow_up"] or 0).first()
            if fu is None:
                raise Http404
            kept = f.cleaned_data["kept"] == "yes"
            ok = attempt(
                request, services.follow_up_record, case=c, follow_up=fu, by=request.user, kept=kept,
                notes=f.cleaned_data["notes"] or "",
            )  # fmt: skip
            done = _("Visit recorded.") if kept else _("The agreement is broken: the case is back in mediation.")
    else:
        raise Http404
    if ok is not None:
        messages.success(request, done)
    return here


@login_required
def agreement_page(request: AuthedRequest, case_id: int) -> HttpResponse:
    """The 调解协议书 of the case's latest (or ?round=) agreement, to print: parties, facts, terms, signatures."""
    c = gate(selectors.access_case, request.user, case_id)
    a = (
        c.agreements.filter(round=to_int(request.GET.get("round")) or 0).first()
        or c.agreements.order_by("-round").first()
    )
    if a is None:
        raise Http404
    full = selectors.handles(request.user, c)
    return render(
        request,
        "mediation/agreement.html",
        {
            "c": c,
            "a": a,
            "parties": selectors.party_rows(request.user, c, reveal=False, channel="page", path=request.path),
            "full": full,
            "mediator": c.mediator,
            # The committee that mediated: the mediator's village or town (a case found in a grid is the village's).
            "committee": c.mediator.node.name if c.mediator is not None else _village_name(c),
        },
    )


def _village_name(c: Case) -> str:
    village = Node.objects.filter(pk__in=path_ids(c.path), level=NodeLevel.VILLAGE).first()
    return village.name if village is not None else c.node.name


@login_required
def scan(request: AuthedRequest, scan_id: int) -> FileResponse:
    s = Scan.objects.filter(pk=scan_id).select_related("agreement").first()
    if s is None:
        raise Http404
    c = gate(selectors.access_case, request.user, s.agreement.case_id)
    if not selectors.handles(request.user, c):
        raise Http404
    return FileResponse(s.file.open("rb"), content_type="image/jpeg")


@login_required
@require_POST
def from_order(request: AuthedRequest, order_id: int) -> HttpResponse:
    """Turn a work order into a dispute case (from the order's page)."""
    from workorders.access import access_order

    order = gate(access_order, request.user, order_id)
    f = bind(request, forms.FromOrderForm)
    if f is not None:
        case = attempt(request, services.order_to_case, order=order, by=request.user, kind=f.cleaned_data["kind"])
        if case is not None:
            messages.success(request, _("Now dispute case %(code)s.") % {"code": case.code})
            return redirect("mediation:case", case.pk)
    return redirect("workorders:detail", order.pk)


@login_required
@require_http_methods(["GET", "POST"])
def mediators(request: AuthedRequest) -> HttpResponse:
    """The register of mediators of the user's area (mediation.manage)."""
    paths = selectors.manage_paths(request.user)
    if not paths:
        raise Http404
    places = list(
        Node.objects.filter(paths_q(paths), level__in=(NodeLevel.COUNTY, NodeLevel.TOWN, NodeLevel.VILLAGE)).order_by(
            "path"
        )[:500]
    )
    if request.method == "POST":
        f = bind(request, forms.MediatorForm)
        if f is not None:
            d = f.cleaned_data
            node = next((n for n in places if n.pk == d["node"]), None)
            user = User.objects.filter(username=d["username"], is_active=True).first()
            if node is None:
                messages.error(request, _("Choose a village, town or county of your area."))
            elif user is None:
                messages.error(request, _("No such login."))
            elif attempt(
                request, services.mediator_register, by=request.user, user=user, node=node, kind=d["kind"],
                name=d["name"],
            ):  # fmt: skip
                messages.success(request, _("Registered."))
                return redirect("mediation:mediators")
    return render(
        request,
        "mediation/mediators.html",
        {
            "mediators": list(selectors.mediators_managed(request.user)[:500]),
            "places": places,
            "kinds": Mediator.Kind.choices,
        },
    )


@login_required
@require_POST
def mediator_active(request: AuthedRequest, mediator_id: int) -> HttpResponse:
    m = selectors.mediators_managed(request.user).filter(pk=mediator_id).first()
    if m is None:
        raise Http404
    f = bind(request, forms.MediatorActiveForm)
    if f is not None and attempt(
        request, services.mediator_active, by=request.user, mediator=m, active=f.cleaned_data["active"]
    ):
        messages.success(request, _("Saved."))
    return redirect("mediation:mediators")
