"""Household-work pages: a member's (or grid worker's) households with where each stands against the visit
plan, the visit form for a phone (needs settled on the spot or turned into work orders in one tap), a
visit and a need with their actions, a resident's request to their member, and for village and town staff
the links of a grid (link, move, unlink, bulk assignment) and the villages' visit plans.

Pages change nothing themselves: every write is a call to partylink.services, every scoped read goes
through partylink.selectors, every posted action is read through its form (partylink.forms). A refusal is
a message and changes nothing; what is missing or not the user's is the 404 page."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Avg, Count
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.http import AuthedRequest
from core.clock import SHANGHAI, now
from core.forms import bind
from core.pages import attempt, back, gate, local_datetime, new_key, to_int
from org.access import access_node, get_scope
from org.models import Household, HouseholdLink, Level, Node
from partylink import forms, selectors, services
from partylink.models import Need, VisitPlan
from partylink.states import NEED

HOME = "/party/"


def _household_rows(request: AuthedRequest, households: list[Household]) -> list[selectors.HouseholdRow]:
    order = {selectors.OVERDUE: 0, selectors.DUE: 1, selectors.DONE: 2}
    latest = dt.datetime.max.replace(tzinfo=SHANGHAI)
    rows = selectors.household_rows(request.user, households, channel="page", path=request.path)
    return sorted(rows, key=lambda r: (order[r.s.state], r.s.next_due or latest))


def _need_rows(user: Any, needs: Any) -> list[dict[str, Any]]:
    rows = []
    for n in needs:
        may = services._may_work(user, n.household)
        rows.append({"n": n, "actions": NEED.allowed(n, lambda _action: True) if may else []})
    return rows


@login_required
def home(request: AuthedRequest) -> HttpResponse:
    """我联系的户: the households linked to me (or, for a grid worker, a grid's), overdue first; open needs."""
    user = request.user
    grid = None
    grids = list(selectors.work_grids(user))
    if request.GET.get("grid"):
        grid = gate(access_node, user, to_int(request.GET.get("grid")) or 0)
        if grid.level != Level.GRID or not services._may_work_in(user, grid):
            raise Http404
        households = list(
            selectors.visitable(user).filter(grid=grid).select_related("grid").order_by("path", "id")[:500]
        )
    else:
        households = selectors.my_households(user)
        if not households and grids:
            grid = grids[0]
            households = list(
                selectors.visitable(user).filter(grid=grid).select_related("grid").order_by("path", "id")[:500]
            )
    if not households and not grids and not selectors.manage_paths(user):
        return render(request, "partylink/not_linked.html", status=404)
    needs = selectors.needs_for(user, state=Need.State.OPEN)[:50]
    return render(
        request, "partylink/home.html",
        {
            "rows": _household_rows(request, households), "grid": grid, "grids": grids,
            "needs": _need_rows(user, needs), "manages": bool(selectors.manage_paths(user)),
        },
    )  # fmt: skip


def _decimal(value: str) -> Decimal | None:
    """A coordinate as the page's location button wrote it; None when it is not one (the service checks
    the ranges)."""
    try:
        d = Decimal((value or "").strip())
    except InvalidOperation:
        return None
    return d if d.is_finite() else None


def _categories() -> Any:
    from catalog.models import Category

    return Category.objects.filter(is_active=True, level=1).order_by("code")


@login_required
@require_http_methods(["GET", "POST"])
def visit_new(request: AuthedRequest, household_id: int) -> HttpResponse:
    """走访登记 on a phone: when, who was met, what was found, up to three needs, an optional photo."""
    household = gate(selectors.access_household, request.user, household_id)
    cats = list(_categories())
    if request.method == "POST":
        form = forms.VisitForm(request.POST, categories=cats)
        if not form.is_valid():
            messages.error(request, form.error_text())
        else:
            d = form.cleaned_data
            when = local_datetime(d["visited_at"])
            if d["visited_at"] and when is None:
                messages.error(request, _("Enter the date and time."))
            else:
                needs = [
                    services.NeedIn(
                        text=d[f"need_{i}_text"],
                        kind=d[f"need_{i}_kind"] or Need.Kind.NEED,
                        then=d[f"need_{i}_then"] or "open",
                        outcome=d[f"need_{i}_outcome"] or "",
                        category_id=to_int(d[f"need_{i}_category"]),
                    )
                    for i in range(forms.NEED_ROWS)
                    if d[f"need_{i}_text"]
                ]
                visit = attempt(
                    request, services.visit_log, by=request.user, household_id=household.pk, visited_at=when,
                    met=d["met"] or "", notes=d["notes"] or "", needs=needs, lat=_decimal(d["lat"]),
                    lng=_decimal(d["lng"]), photo=request.FILES.get("photo"), idempotency_key=d["key"],
                )  # fmt: skip
                if visit is not None:
                    relayed = visit.needs.filter(state=Need.State.RELAYED).count()
                    messages.success(
                        request,
                        _("Visit logged.")
                        + (" " + _("Work orders opened: %(n)s.") % {"n": relayed} if relayed else ""),
                    )
                    return redirect("partylink:visit", visit.pk)
    else:
        form = forms.VisitForm(categories=cats)
    heads = selectors.heads([household])
    return render(
        request, "partylink/visit_form.html",
        {
            "household": household, "form": form, "head": heads.get(household.pk), "key": new_key(),
            "now": now().astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M"),
            "history": selectors.visits_for(request.user, household=household)[:5],
        },
    )  # fmt: skip


@login_required
def visit_page(request: AuthedRequest, visit_id: int) -> HttpResponse:
    visit = gate(selectors.access_visit, request.user, visit_id)
    needs = visit.needs.select_related("household", "resident", "order").order_by("id")
    return render(
        request, "partylink/visit.html",
        {"visit": visit, "needs": _need_rows(request.user, needs), "categories": _categories()},
    )  # fmt: skip


@login_required
def need_page(request: AuthedRequest, need_id: int) -> HttpResponse:
    need = gate(selectors.access_need, request.user, need_id)
    return render(
        request, "partylink/need.html",
        {"row": _need_rows(request.user, [need])[0], "categories": _categories()},
    )  # fmt: skip


@login_required
@require_POST
def need_settle(request: AuthedRequest, need_id: int) -> HttpResponse:
    need = gate(selectors.access_need, request.user, need_id)
    form = bind(request, forms.SettleForm)
    if form is not None and attempt(
        request, services.need_settle, need=need, by=request.user, outcome=form.cleaned_data["outcome"]
    ):
        messages.success(request, _("Marked as settled."))
    return back(request, "/party/", reverse("partylink:need", args=[need.pk]))


@login_required
@require_POST
def need_relay(request: AuthedRequest, need_id: int) -> HttpResponse:
    need = gate(selectors.access_need, request.user, need_id)
    form = bind(request, forms.RelayForm)
    if form is not None:
        order = attempt(
            request, services.need_relay, need=need, by=request.user, category_id=form.cleaned_data["category"]
        )
        if order is not None:
            messages.success(request, _("Work order %(code)s opened.") % {"code": order.tracking_code})
    return back(request, "/party/", reverse("partylink:need", args=[need.pk]))


@login_required
@require_POST
def ask(request: AuthedRequest) -> HttpResponse:
    """双联双找: from the resident's home, a request to their member."""
    form = bind(request, forms.AskForm)
    if form is not None and attempt(request, services.need_ask, by=request.user, text=form.cleaned_data["text"]):
        messages.success(request, _("Your party member has been told and will get back to you."))
    return redirect("home")


# --- staff: links and plans -----------------------------------------------------------------------------------


def _manager_or_404(request: AuthedRequest) -> tuple[str, ...]:
    paths = selectors.manage_paths(request.user)
    if not paths:
        raise Http404
    return paths


@login_required
def links_page(request: AuthedRequest) -> HttpResponse:
    """联户管理: a grid's households with their member; link, move, unlink, bulk assignment; the history."""
    _manager_or_404(request)
    grids = list(selectors.managed_grids(request.user))
    grid = None
    if request.GET.get("grid"):
        grid = next((g for g in grids if g.pk == to_int(request.GET.get("grid"))), None)
        if grid is None:
            raise Http404
    elif grids:
        grid = grids[0]
    rows: list[dict[str, Any]] = []
    members: list[Any] = []
    if grid is not None:
        village = grid.parent or grid
        members = list(selectors.members_in(request.user, village))
        households = list(Household.objects.filter(grid=grid).order_by("path", "id")[:500])
        links = {
            x.household_id: x
            for x in HouseholdLink.objects.filter(household__in=households).select_related("member__resident")
        }
        heads = selectors.heads(households)
        counts = selectors.member_loads(members)
        rows = [{"h": h, "link": links.get(h.pk), "head": heads.get(h.pk)} for h in households]
        for m in members:
            m.load = counts.get(m.pk, 0)
    return render(
        request, "partylink/links.html",
        {
            "grids": grids, "grid": grid, "rows": rows, "members": members,
            "limit": int(selectors.setting("MAX_HOUSEHOLDS")),
            "history": selectors.grid_history(grid)[:20] if grid else [],
        },
    )  # fmt: skip


def _household_managed(request: AuthedRequest, household_id: int | None) -> Household:
    h = Household.objects.filter(pk=household_id).first() if household_id else None
    if h is None or not services._manages(request.user, h.path):
        raise Http404
    return h


@login_required
@require_POST
def link(request: AuthedRequest) -> HttpResponse:
    _manager_or_404(request)
    form = bind(request, forms.LinkForm)
    if form is not None:
        h = _household_managed(request, form.cleaned_data["household"])
        member = gate(selectors.access_member, request.user, form.cleaned_data["member"] or 0)
        if attempt(request, services.link_set, household=h, member=member, by=request.user,
                   reason=form.cleaned_data["reason"] or ""):  # fmt: skip
            messages.success(request, _("%(address)s is now linked to %(name)s.") % {
                "address": h.address, "name": member.resident.name})  # fmt: skip
    return back(request, "/party/links/", reverse("partylink:links"))


@login_required
@require_POST
def unlink(request: AuthedRequest) -> HttpResponse:
    _manager_or_404(request)
    form = bind(request, forms.UnlinkForm)
    if form is not None:
        h = _household_managed(request, form.cleaned_data["household"])
        if attempt(request, services.link_remove, household=h, by=request.user, reason=form.cleaned_data["reason"]):
            messages.success(request, _("%(address)s is no longer linked.") % {"address": h.address})
    return back(request, "/party/links/", reverse("partylink:links"))


@login_required
@require_POST
def assign(request: AuthedRequest) -> HttpResponse:
    _manager_or_404(request)
    which = bind(request, forms.GridForm)
    if which is None:
        return redirect("partylink:links")
    grid = gate(access_node, request.user, which.cleaned_data["grid"] or 0)
    if grid.level != Level.GRID:
        raise Http404
    members = list(selectors.members_in(request.user, Node.objects.get(pk=grid.parent_id)))
    form = bind(request, forms.AssignForm, members=members)
    if form is not None:
        chosen = [m for m in members if str(m.pk) in form.cleaned_data["members"]]
        done = attempt(request, services.links_assign_grid, grid=grid, members=chosen, by=request.user,
                       reason=form.cleaned_data["reason"] or "")  # fmt: skip
        if done is not None:
            messages.success(request, _("%(linked)s households linked; %(left)s still without a member.") % {
                "linked": done.linked, "left": done.left})  # fmt: skip
    return redirect(f"{reverse('partylink:links')}?grid={grid.pk}")


@login_required
@require_http_methods(["GET", "POST"])
def plans_page(request: AuthedRequest) -> HttpResponse:
    """走访计划: each village's visits per household and period."""
    _manager_or_404(request)
    villages = list(selectors.village_nodes(request.user))
    if request.method == "POST":
        form = bind(request, forms.PlanForm)
        if form is not None:
            village = next((v for v in villages if v.pk == form.cleaned_data["village"]), None)
            if village is None:
                raise Http404
            visits = form.cleaned_data["visits"]
            if visits is None:
                messages.error(request, _("Enter a whole number."))
            elif attempt(request, services.plan_set, village=village, visits=visits,
                         period=form.cleaned_data["period"], by=request.user):  # fmt: skip
                messages.success(request, _("The visit plan of %(village)s is saved.") % {"village": village.name})
        return redirect("partylink:plans")
    plans = selectors.plans_for(v.pk for v in villages)
    own = set(VisitPlan.objects.filter(village__in=villages).values_list("village_id", flat=True))
    rows = [{"v": v, "plan": plans[v.pk], "own": v.pk in own} for v in villages]
    return render(request, "partylink/plans.html", {"rows": rows, "periods": VisitPlan.Period.choices})


# --- practical projects (领办实事) -----------------------------------------------------------------------------


def _milestones(text: str) -> list[services.MilestoneIn] | None:
    """Milestones typed one a line as "YYYY-MM-DD title"; None when a line is not one."""
    out = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line:
            continue
        day, _sep, title = line.partition(" ")
        try:
            due = dt.date.fromisoformat(day)
        except ValueError:
            return None
        out.append(services.MilestoneIn(title=title.strip(), due_on=due))
    return out


@login_required
@require_http_methods(["GET", "POST"])
def projects_page(request: AuthedRequest) -> HttpResponse:
    """领办实事: the projects I may see; a member (or village staff) proposes one."""
    villages = selectors.project_villages(request.user)
    if request.method == "POST":
        form = bind(request, forms.ProjectForm)
        if form is not None:
            d = form.cleaned_data
            village = next((v for v in villages if v.pk == d["village"]), None)
            if village is None:
                raise Http404
            milestones = _milestones(d["milestones"] or "")
            budget = _budget(d["budget"] or "0")
            if milestones is None:
                messages.error(request, _("Write each milestone on a line as 2026-12-31 and its title."))
            elif budget is None:
                messages.error(request, _("A budget in yuan, not negative, at most two decimals."))
            else:
                lead = gate(selectors.access_member, request.user, d["lead"]) if d["lead"] else None
                p = attempt(
                    request, services.project_propose, by=request.user, village=village, title=d["title"],
                    goals=d["goals"], lead=lead, budget=budget, milestones=milestones,
                )  # fmt: skip
                if p is not None:
                    messages.success(request, _("Project proposed; the village will decide."))
                    return redirect("partylink:project", p.pk)
    members = []
    if selectors.manage_paths(request.user):
        members = [m for v in villages for m in selectors.members_in(request.user, v)]
    return render(
        request, "partylink/projects.html",
        {"projects": selectors.projects_for(request.user)[:100], "villages": villages, "members": members},
    )  # fmt: skip


def _budget(value: str) -> Decimal | None:
    try:
        d = Decimal(value.strip() or "0")
        return d if d.is_finite() and 0 <= d <= services.MAX_BUDGET and d == d.quantize(Decimal("0.01")) else None
    except InvalidOperation:  # not a number, or "9e99", which no quantize can hold
        return None


@login_required
def project_page(request: AuthedRequest, project_id: int) -> HttpResponse:
    p = gate(selectors.access_project, request.user, project_id)
    leads, manages = services._leads_or_manages(request.user, p), services._manages(request.user, p.path)
    scope = get_scope(request.user)
    return render(
        request, "partylink/project.html",
        {
            "p": p, "leads": leads, "manages": manages, "milestones": p.milestones.all(),
            "updates": p.updates.select_related("by")[:30], "beneficiaries": p.beneficiaries.all()[:50],
            "may_rate": p.state == "done" and scope.own is not None and scope.own.path.startswith(p.path),
            "my_rating": p.ratings.filter(user_id=request.user.pk).first(),
            "rating": p.ratings.aggregate(avg=Avg("stars"), n=Count("id")),
        },
    )  # fmt: skip


def _project_back(p_id: int) -> HttpResponse:
    return redirect("partylink:project", p_id)


@login_required
@require_POST
def project_decide(request: AuthedRequest, project_id: int) -> HttpResponse:
    p = gate(selectors.access_project, request.user, project_id)
    form = bind(request, forms.DecideForm)
    if form is not None:
        d = form.cleaned_data
        if attempt(request, services.project_decide, project=p, by=request.user, approve=d["approve"],
                   note=d["note"] or ""):  # fmt: skip
            messages.success(request, _("Decision saved."))
    return _project_back(p.pk)


@login_required
@require_POST
def project_progress(request: AuthedRequest, project_id: int) -> HttpResponse:
    p = gate(selectors.access_project, request.user, project_id)
    form = bind(request, forms.ProgressForm)
    if form is not None:
        if form.cleaned_data["progress"] is None:
            messages.error(request, _("Enter a whole number."))
        elif attempt(request, services.project_update, project=p, by=request.user, text=form.cleaned_data["text"],
                     progress=form.cleaned_data["progress"], photo=request.FILES.get("photo")):  # fmt: skip
            messages.success(request, _("Progress saved."))
    return _project_back(p.pk)


@login_required
@require_POST
def project_milestone(request: AuthedRequest, project_id: int, milestone_id: int) -> HttpResponse:
    p = gate(selectors.access_project, request.user, project_id)
    if attempt(request, services.milestone_done, project=p, milestone_id=milestone_id, by=request.user):
        messages.success(request, _("Milestone reached."))
    return _project_back(p.pk)


@login_required
@require_POST
def project_complete(request: AuthedRequest, project_id: int) -> HttpResponse:
    p = gate(selectors.access_project, request.user, project_id)
    if attempt(request, services.project_complete, project=p, by=request.user):
        messages.success(request, _("The project is done; the village's residents may now rate it."))
    return _project_back(p.pk)


@login_required
@require_POST
def project_cancel(request: AuthedRequest, project_id: int) -> HttpResponse:
    p = gate(selectors.access_project, request.user, project_id)
    form = bind(request, forms.ReasonForm)
    if form is not None and attempt(request, services.project_cancel, project=p, by=request.user,
                                    reason=form.cleaned_data["reason"]):  # fmt: skip
        messages.success(request, _("Project cancelled."))
    return _project_back(p.pk)


@login_required
@require_POST
def project_rate(request: AuthedRequest, project_id: int) -> HttpResponse:
    p = gate(selectors.access_project, request.user, project_id)
    form = bind(request, forms.RateForm)
    if form is not None:
        if form.cleaned_data["stars"] is None:
            messages.error(request, _("From 1 to 5 stars."))
        elif attempt(request, services.project_rate, project=p, by=request.user, stars=form.cleaned_data["stars"],
                     comment=form.cleaned_data["comment"] or ""):  # fmt: skip
            messages.success(request, _("Thank you for your rating."))
    return _project_back(p.pk)
