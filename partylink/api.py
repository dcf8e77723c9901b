"""Household work over the API: my households and where they stand against the visit plan, visits with
the needs found, needs settled or relayed as work orders, a resident's request to their member, links and
their history, visit plans."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from ninja import Field, Query, Router
from ninja.responses import Status

from accounts.http import AuthedRequest
from core.clock import EARLIEST, LATEST
from core.errors import NotFound
from core.schemas import DictSchema, Page, PageParams, QueryIn, StrictIn, paginate
from org.access import access_node
from org.models import Household, Level, PartyMember
from partylink import reports, selectors, services
from partylink.models import Need, Project, Visit, VisitPlan
from partylink.reports import report_period
from partylink.states import NEED, PROJECT

router = Router(tags=["party"])


class NeedOut(DictSchema):
    id: int
    visit_id: int | None
    household_id: int
    resident_id: int | None
    resident_name: str | None
    kind: str
    kind_label: str
    text: str
    state: str
    state_label: str
    asked: bool = Field(description="Brought to the member by the resident (双联双找), not found on a visit")
    created_at: dt.datetime
    outcome: str
    order_id: int | None
    order_code: str | None
    order_state: str | None
    actions: list[str]


class VisitOut(DictSchema):
    id: int
    household_id: int
    address: str
    visitor: str
    as_member: bool = Field(description="Visited as the household's linked party member")
    visited_at: dt.datetime
    met: str
    notes: str
    lat: Decimal | None
    lng: Decimal | None
    has_photo: bool
    needs: list[NeedOut]


class StandingOut(DictSchema):
    state: str = Field(description="due · overdue · done, against the village's visit plan")
    state_label: str
    visits_this_period: int
    plan_visits: int
    plan_period: str
    next_due: dt.datetime | None
    last_visit: dt.datetime | None


class VisitHouseholdOut(DictSchema):
    id: int
    address: str
    grid: str
    tags: list[str]
    head: str | None
    head_phone: str = Field(description="Whole for the household's member (each read logged), masked otherwise")
    standing: StandingOut
    open_needs: int


class LinkChangeOut(DictSchema):
    action: str
    action_label: str
    member: str | None
    previous: str | None
    by: str | None
    at: dt.datetime
    reason: str


class MemberOut(DictSchema):
    name: str
    center_household: bool
    phone: str


def _need(n: Need, user: Any) -> dict[str, Any]:
    order = n.order
    may = services._may_work(user, n.household)
    return {
        "id": n.pk, "visit_id": n.visit_id, "household_id": n.household_id, "resident_id": n.resident_id,
        "resident_name": n.resident.name if n.resident is not None else None, "kind": n.kind,
        "kind_label": str(n.get_kind_display()), "text": n.text, "state": n.state,
        "state_label": str(n.get_state_display()), "asked": n.asked, "created_at": n.created_at,
        "outcome": n.outcome, "order_id": order.pk if order else None,
        "order_code": order.tracking_code if order else None, "order_state": order.state if order else None,
        "actions": NEED.allowed(n, lambda _a: True) if may else [],
    }  # fmt: skip


def _visit(v: Visit, user: Any) -> dict[str, Any]:
    needs = v.needs.all()  # prefetched in id order by selectors.visits_for
    return {
        "id": v.pk, "household_id": v.household_id, "address": v.household.address,
        "visitor": v.visitor.display_name or v.visitor.username, "as_member": v.member_id is not None,
        "visited_at": v.visited_at, "met": v.met, "notes": v.notes, "lat": v.lat, "lng": v.lng,
        "has_photo": bool(v.photo), "needs": [_need(n, user) for n in needs],
    }  # fmt: skip


def _households(request: AuthedRequest, households: list[Household]) -> list[dict[str, Any]]:
    out = []
    for row in selectors.household_rows(request.user, households, channel="api", path=request.path):
        h, s, head, phone = row.h, row.s, row.head, row.phone
        out.append({
            "id": h.pk, "address": h.address, "grid": h.grid.name, "tags": list(h.tags or []),
            "head": head.name if head else None, "head_phone": phone,
            "standing": {
                "state": s.state, "state_label": s.state_label, "visits_this_period": s.done,
                "plan_visits": s.plan.visits, "plan_period": s.plan.period, "next_due": s.next_due,
                "last_visit": s.last_visit,
            },
            "open_needs": row.open,
        })  # fmt: skip
    return out


# --- my households, visits ---------------------------------------------------------------------------------


class VisitHouseholdFilter(QueryIn):
    grid: int | None = Field(None, ge=1, description="Staff: the households of this grid; omit for those linked to you")


@router.get("/party/households", response=list[VisitHouseholdOut], summary="My households and their visit standing")
def households(request: AuthedRequest, f: Query[VisitHouseholdFilter]):
    if f.grid is None:
        return _households(request, selectors.my_households(request.user))
    grid = access_node(request.user, f.grid)
    if grid.level != Level.GRID:
        raise NotFound()
    rows = list(selectors.readable(request.user).filter(grid=grid).select_related("grid").order_by("path", "id")[:500])
    return _households(request, rows)


class NeedIn(StrictIn):
    text: str = Field(..., min_length=1, max_length=500)
    kind: Need.Kind = Need.Kind.NEED
    resident_id: int | None = Field(None, ge=1, description="Whose need; omit for the head of the household")
    then: str = Field("open", pattern="^(open|settle|order)$", description="open · settle (say how in outcome) · order")
    outcome: str = Field("", max_length=300)
    category_id: int | None = Field(None, ge=1, description="For order: the category (default: 其他)")


class VisitIn(StrictIn):
    household_id: int = Field(..., ge=1)
    visited_at: dt.datetime | None = Field(None, description="Default: now")
    met: str = Field("", max_length=100)
    notes: str = Field("", max_length=1000)
    needs: list[NeedIn] = Field(default_factory=list, max_length=services.MAX_NEEDS)
    lat: Decimal | None = Field(None, ge=-90, le=90)
    lng: Decimal | None = Field(None, ge=-180, le=180)
    idempotency_key: str = Field("", max_length=64, pattern=r"^[A-Za-z0-9_.:-]*$")


@router.post("/party/visits", response={201: VisitOut}, summary="Log a visit to a household (联户走访)")
def visit_log(request: AuthedRequest, body: VisitIn):
    v = services.visit_log(
        by=request.user, household_id=body.household_id, visited_at=body.visited_at, met=body.met, notes=body.notes,
        needs=[services.NeedIn(**n.model_dump()) for n in body.needs], lat=body.lat, lng=body.lng,
        idempotency_key=body.idempotency_key,
    )  # fmt: skip
    return Status(201, _visit(selectors.access_visit(request.user, v.pk), request.user))


class VisitFilter(QueryIn):
    household: int | None = Field(None, ge=1)


@router.get("/party/visits", response=Page[VisitOut], summary="Visits I may see, newest first")
def visits(request: AuthedRequest, f: Query[VisitFilter], page: Query[PageParams]):
    household = selectors.access_readable_household(request.user, f.household) if f.household else None
    return paginate(selectors.visits_for(request.user, household=household), page, lambda v: _visit(v, request.user))


@router.get("/party/visits/{visit_id}", response=VisitOut, summary="One visit with its needs")
def visit(request: AuthedRequest, visit_id: int):
    return _visit(selectors.access_visit(request.user, visit_id), request.user)


# --- needs ---------------------------------------------------------------------------------------------------


class NeedFilter(QueryIn):
    state: Need.State | None = None


@router.get("/party/needs", response=Page[NeedOut], summary="Needs of my households, newest first")
def needs(request: AuthedRequest, f: Query[NeedFilter], page: Query[PageParams]):
    return paginate(selectors.needs_for(request.user, state=f.state or ""), page, lambda n: _need(n, request.user))


class SettleIn(StrictIn):
    outcome: str = Field(..., min_length=1, max_length=300)


@router.post("/party/needs/{need_id}/settle", response=NeedOut, summary="Settled on the spot: say how")
def need_settle(request: AuthedRequest, need_id: int, body: SettleIn):
    n = selectors.access_need(request.user, need_id)
    services.need_settle(need=n, by=request.user, outcome=body.outcome)
    return _need(selectors.access_need(request.user, need_id), request.user)


class RelayIn(StrictIn):
    category_id: int | None = Field(None, ge=1, description="Default: 其他 (the dispatcher refines it)")


@router.post("/party/needs/{need_id}/order", response=NeedOut, summary="Turn a need into a work order")
def need_relay(request: AuthedRequest, need_id: int, body: RelayIn):
    n = selectors.access_need(request.user, need_id)
    services.need_relay(need=n, by=request.user, category_id=body.category_id)
    return _need(selectors.access_need(request.user, need_id), request.user)


class AskIn(StrictIn):
    text: str = Field(..., min_length=1, max_length=500)
    kind: Need.Kind = Need.Kind.NEED


@router.post("/party/ask", response={201: NeedOut}, summary="Ask my household's party member for help (双联双找)")
def ask(request: AuthedRequest, body: AskIn):
    n = services.need_ask(by=request.user, text=body.text, kind=body.kind)
    return Status(201, _need(selectors.access_need(request.user, n.pk), request.user))


@router.get("/party/my-member", response=MemberOut, summary="My household's party member (双联双找)")
def my_member(request: AuthedRequest):
    found = selectors.my_member(request.user)
    if found is None:
        raise NotFound(_("Your household has no linked party member yet."), code="member.not_found")
    member, phone = found
    return {"name": member.resident.name, "center_household": member.is_center_household, "phone": phone}


# --- links and plans ------------------------------------------------------------------------------------------


class LinkIn(StrictIn):
    household_id: int = Field(..., ge=1)
    member_id: int = Field(..., ge=1)
    reason: str = Field("", max_length=200)


class UnlinkIn(StrictIn):
    reason: str = Field(..., min_length=1, max_length=200)


class AssignIn(StrictIn):
    grid_id: int = Field(..., ge=1)
    member_ids: list[int] = Field(..., min_length=1, max_length=50)
    reason: str = Field("", max_length=200)


class AssignedOut(DictSchema):
    linked: int
    left: int


def _managed_household(request: AuthedRequest, household_id: int) -> Household:
    h = Household.objects.filter(pk=household_id).select_related("grid").first()
    if h is None or not services._manages(request.user, h.path):
        raise NotFound(_("No such household among yours."), code="household.not_found")
    return h


def _history(rows: Any) -> list[dict[str, Any]]:
    out = []
    for c in rows:
        by = (c.by.display_name or c.by.username) if c.by else None
        out.append({
            "action": c.action, "action_label": str(c.get_action_display()),
            "member": c.member.resident.name if c.member else None,
            "previous": c.previous.resident.name if c.previous else None, "by": by, "at": c.at, "reason": c.reason,
        })  # fmt: skip
    return out


@router.post("/party/links", response={201: list[LinkChangeOut]}, summary="Link a household to a party member")
def link(request: AuthedRequest, body: LinkIn):
    h = _managed_household(request, body.household_id)
    member = selectors.access_member(request.user, body.member_id)
    services.link_set(household=h, member=member, by=request.user, reason=body.reason)
    return Status(201, _history(selectors.link_history(request.user, h)))


@router.post("/party/links/{household_id}/unlink", response=list[LinkChangeOut], summary="Unlink a household")
def unlink(request: AuthedRequest, household_id: int, body: UnlinkIn):
    h = _managed_household(request, household_id)
    services.link_remove(household=h, by=request.user, reason=body.reason)
    return _history(selectors.link_history(request.user, h))


@router.get("/party/links/{household_id}/history", response=list[LinkChangeOut], summary="A household's link history")
def link_history(request: AuthedRequest, household_id: int):
    h = _managed_household(request, household_id)
    return _history(selectors.link_history(request.user, h))


@router.post(
    "/party/links/assign", response=AssignedOut, summary="Link a grid's unlinked households to members in turn"
)
def assign(request: AuthedRequest, body: AssignIn):
    grid = access_node(request.user, body.grid_id)
    members = [selectors.access_member(request.user, m) for m in dict.fromkeys(body.member_ids)]
    done = services.links_assign_grid(grid=grid, members=members, by=request.user, reason=body.reason)
    return {"linked": done.linked, "left": done.left}


class PlanIn(StrictIn):
    visits: int = Field(..., ge=1, le=31)
    period: VisitPlan.Period


class PlanOut(DictSchema):
    village_id: int
    visits: int
    period: str
    default: bool


@router.get("/party/plans/{village_id}", response=PlanOut, summary="A village's visit plan")
def plan(request: AuthedRequest, village_id: int):
    village = access_node(request.user, village_id)
    if village.level != Level.VILLAGE:
        raise NotFound()
    row = VisitPlan.objects.filter(village=village).first()
    p = selectors.plans_for([village.pk])[village.pk]
    return {"village_id": village.pk, "visits": p.visits, "period": p.period, "default": row is None}


@router.put("/party/plans/{village_id}", response=PlanOut, summary="Set a village's visit plan")
def plan_set(request: AuthedRequest, village_id: int, body: PlanIn):
    village = access_node(request.user, village_id)
    p = services.plan_set(village=village, visits=body.visits, period=body.period, by=request.user)
    return {"village_id": village.pk, "visits": p.visits, "period": p.period, "default": False}


# --- coverage report -------------------------------------------------------------------------------------------


class ReportFilter(QueryIn):
    node: int | None = Field(None, ge=1, description="Whose children to report on; default: the top of your area")
    start: dt.date | None = Field(None, ge=EARLIEST, le=LATEST, description="First day (default: this month)")
    end: dt.date | None = Field(None, ge=EARLIEST, le=LATEST, description="Last day, included (default: today)")


class ReportRowOut(DictSchema):
    node_id: int
    name: str
    level: int
    households: int
    unlinked: int = Field(description="Households without a party member")
    linked: int
    members: int = Field(description="Party members whose branch lies here")
    over_limit: int = Field(description="Members linked to more households than allowed")
    unvisited: int = Field(description="Linked households without a visit in the period")
    visits: int
    needs: int = Field(description="Needs found or asked in the period")
    settled: int
    relayed: int = Field(description="Needs relayed as work orders")
    resolved: int = Field(description="Relayed needs whose order is resolved, rated or closed")
    open: int
    projects: int = Field(description="Practical projects under way now")
    projects_done: int = Field(description="Practical projects finished in the period")


class ReportOut(DictSchema):
    node_id: int
    name: str
    start: dt.date
    end: dt.date
    rows: list[ReportRowOut]
    total: ReportRowOut


@router.get("/party/report", response=ReportOut, summary="Coverage and activity of household work, by unit")
def report(request: AuthedRequest, f: Query[ReportFilter]):
    node = selectors.report_node(request.user, f.node)
    start, end = report_period(f.start, f.end)
    r = reports.coverage(node, start=selectors.day_bounds(start, end)[0], end=selectors.day_bounds(start, end)[1])
    assert r.total is not None
    return {
        "node_id": node.pk, "name": node.name, "start": start, "end": end,
        "rows": [x.as_dict() for x in r.rows], "total": r.total.as_dict(),
    }  # fmt: skip


# --- practical projects (领办实事) -----------------------------------------------------------------------------


class MilestoneOut(DictSchema):
    id: int
    title: str
    due_on: dt.date
    done_at: dt.datetime | None


class ProjectUpdateOut(DictSchema):
    by: str
    at: dt.datetime
    text: str
    progress: int
    has_photo: bool


class ProjectOut(DictSchema):
    id: int
    village_id: int
    village: str
    title: str
    goals: str
    lead: str
    beneficiaries: int
    budget: Decimal
    state: str
    state_label: str
    progress: int
    decision_note: str
    milestones: list[MilestoneOut]
    updates: list[ProjectUpdateOut]
    rating: float | None = Field(description="The residents' average rating, once done")
    ratings: int
    my_rating: int | None
    actions: list[str]


def _project(p: Project, user: Any) -> dict[str, Any]:

    extra: Any = p  # the figures selectors.projects_for annotates and prefetches
    mine = next((r.stars for r in extra.my_ratings), None)
    leads = services._leads_or_manages(user, p)
    manages = services._manages(user, p.path)

    def may(action: str) -> bool:
        return manages if action in ("approve", "reject", "cancel") else leads

    return {
        "id": p.pk, "village_id": p.village_id, "village": p.village.name, "title": p.title, "goals": p.goals,
        "lead": p.lead.resident.name, "beneficiaries": extra.beneficiary_count, "budget": p.budget,
        "state": p.state, "state_label": str(p.get_state_display()), "progress": p.progress,
        "decision_note": p.decision_note,
        "milestones": [
            {"id": m.pk, "title": m.title, "due_on": m.due_on, "done_at": m.done_at} for m in p.milestones.all()
        ],
        "updates": [
            {"by": u.by.display_name or u.by.username, "at": u.at, "text": u.text, "progress": u.progress,
             "has_photo": bool(u.photo)}
            for u in p.updates.all()[:20]
        ],
        "rating": round(extra.rating_avg, 2) if extra.rating_avg is not None else None,
        "ratings": extra.rating_count, "my_rating": mine,
        "actions": PROJECT.allowed(p, may),
    }  # fmt: skip


@router.get("/party/projects", response=Page[ProjectOut], summary="Practical projects I may see (领办实事)")
def projects(request: AuthedRequest, page: Query[PageParams]):
    return paginate(selectors.projects_for(request.user), page, lambda p: _project(p, request.user))


@router.get("/party/projects/{project_id}", response=ProjectOut, summary="One project")
def project(request: AuthedRequest, project_id: int):
    return _project(selectors.access_project(request.user, project_id), request.user)


class MilestoneIn(StrictIn):
    title: str = Field(..., min_length=1, max_length=80)
    due_on: dt.date = Field(..., ge=EARLIEST, le=LATEST)


class ProjectIn(StrictIn):
    village_id: int = Field(..., ge=1)
    title: str = Field(..., min_length=1, max_length=80)
    goals: str = Field(..., min_length=1, max_length=2000)
    lead_id: int | None = Field(
        None, ge=1, description="Village staff: the member who leads it; members lead their own"
    )
    beneficiary_ids: list[int] = Field(default_factory=list, max_length=500)
    budget: Decimal = Field(Decimal(0), ge=0, le=services.MAX_BUDGET, decimal_places=2)
    milestones: list[MilestoneIn] = Field(default_factory=list, max_length=services.MAX_MILESTONES)


@router.post("/party/projects", response={201: ProjectOut}, summary="Propose a project")
def project_propose(request: AuthedRequest, body: ProjectIn):
    village = access_node(request.user, body.village_id)
    own = selectors.member_of(request.user)
    lead: PartyMember | None
    if body.lead_id and own is not None and body.lead_id == own.pk:
        lead = own  # a member naming themselves
    else:
        lead = selectors.access_member(request.user, body.lead_id) if body.lead_id else None
    p = services.project_propose(
        by=request.user, village=village, title=body.title, goals=body.goals, lead=lead,
        beneficiary_ids=body.beneficiary_ids, budget=body.budget,
        milestones=[services.MilestoneIn(title=m.title, due_on=m.due_on) for m in body.milestones],
    )  # fmt: skip
    return Status(201, _project(selectors.access_project(request.user, p.pk), request.user))


class ProjectDecideIn(StrictIn):
    note: str = Field("", max_length=200)


@router.post("/party/projects/{project_id}/approve", response=ProjectOut, summary="Approve a proposal")
def project_approve(request: AuthedRequest, project_id: int, body: ProjectDecideIn):
    p = selectors.access_project(request.user, project_id)
    services.project_decide(project=p, by=request.user, approve=True, note=body.note)
    return _project(selectors.access_project(request.user, project_id), request.user)  # the figures after the step


@router.post("/party/projects/{project_id}/reject", response=ProjectOut, summary="Turn down a proposal (say why)")
def project_reject(request: AuthedRequest, project_id: int, body: ProjectDecideIn):
    p = selectors.access_project(request.user, project_id)
    services.project_decide(project=p, by=request.user, approve=False, note=body.note)
    return _project(selectors.access_project(request.user, project_id), request.user)  # the figures after the step


class ProgressIn(StrictIn):
    text: str = Field(..., min_length=1, max_length=500)
    progress: int = Field(..., ge=0, le=100)


@router.post("/party/projects/{project_id}/updates", response=ProjectOut, summary="Report progress")
def project_progress(request: AuthedRequest, project_id: int, body: ProgressIn):
    p = selectors.access_project(request.user, project_id)
    services.project_update(project=p, by=request.user, text=body.text, progress=body.progress)
    return _project(selectors.access_project(request.user, project_id), request.user)


@router.post(
    "/party/projects/{project_id}/milestones/{milestone_id}/done", response=ProjectOut, summary="A milestone reached"
)
def project_milestone(request: AuthedRequest, project_id: int, milestone_id: int):
    p = selectors.access_project(request.user, project_id)
    services.milestone_done(project=p, milestone_id=milestone_id, by=request.user)
    return _project(selectors.access_project(request.user, project_id), request.user)  # the figures after the step


@router.post("/party/projects/{project_id}/complete", response=ProjectOut, summary="Mark the project done")
def project_complete(request: AuthedRequest, project_id: int):
    p = selectors.access_project(request.user, project_id)
    services.project_complete(project=p, by=request.user)
    return _project(selectors.access_project(request.user, project_id), request.user)  # the figures after the step


class ProjectReasonIn(StrictIn):
    reason: str = Field(..., min_length=1, max_length=200)


@router.post("/party/projects/{project_id}/cancel", response=ProjectOut, summary="Cancel a project")
def project_cancel(request: AuthedRequest, project_id: int, body: ProjectReasonIn):
    p = selectors.access_project(request.user, project_id)
    services.project_cancel(project=p, by=request.user, reason=body.reason)
    return _project(selectors.access_project(request.user, project_id), request.user)  # the figures after the step


class RateProjectIn(StrictIn):
    stars: int = Field(..., ge=1, le=5)
    comment: str = Field("", max_length=300)


@router.post("/party/projects/{project_id}/rate", response=ProjectOut, summary="Rate a finished project (residents)")
def project_rate(request: AuthedRequest, project_id: int, body: RateProjectIn):
    p = selectors.access_project(request.user, project_id)
    services.project_rate(project=p, by=request.user, stars=body.stars, comment=body.comment)
    return _project(selectors.access_project(request.user, project_id), request.user)  # the figures after the step
