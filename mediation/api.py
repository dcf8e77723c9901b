"""Disputes and mediation over the API (/api/v1/mediation/…): report a dispute (from a patrol, as a resident, from a
work order), accept it with a mediator, sessions, extensions, the agreement with its signed copies and follow-up
visits, referral and its result, settlement, the red flag; the register of mediators; the settlement figures.
A case is answered only to those who see it (mediation.selectors), else 404; every answer lists the `actions`
the caller may take now."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count
from django.utils.translation import gettext as _
from ninja import Field, File, Query, Router
from ninja.files import UploadedFile
from ninja.responses import Status

from accounts.http import AuthedRequest
from accounts.models import User
from core.errors import NotFound
from core.schemas import DictSchema, Page, PageParams, QueryIn, StrictIn, paginate
from mediation import reports, selectors, services
from mediation.models import Case, Kind, Level, Mediator, Party, Referral, Risk, Source
from mediation.services import PartyIn
from org.access import access_node
from org.models import Node

router = Router(tags=["mediation"])
P = "/mediation"


class CaseOut(DictSchema):
    id: int
    code: str
    kind: str
    kind_label: str
    title: str
    place_id: int
    place: str
    source: str
    state: str
    state_label: str
    risk: str
    red_flag: bool
    mediator: str
    due_at: dt.datetime | None
    overdue: bool
    level: str = Field(description="Where it was settled: grid, village, town, county, outside; empty while open")
    created_at: dt.datetime
    work_order_id: int | None


class CasePartyOut(DictSchema):
    id: int
    side: str
    side_label: str
    name: str = Field(description="Masked for a party's view of the others and for the reporter")
    resident_id: int | None
    phone: str = Field(description="Only to the mediation staff; masked unless reveal=true (each read logged)")
    you: bool


class CaseSessionOut(DictSchema):
    id: int
    held_on: dt.date
    place: str
    attendees: str
    notes: str


class CaseAgreementOut(DictSchema):
    id: int
    round: int
    facts: str
    terms: str
    signed_on: dt.date
    broken: bool
    scans: int


class CaseFollowUpOut(DictSchema):
    id: int
    after_days: int
    due_at: dt.datetime
    state: str
    notes: str


class CaseReferralOut(DictSchema):
    id: int
    unit: str
    unit_label: str
    done: str
    state: str
    result: str
    at: dt.datetime


class CaseEventOut(DictSchema):
    action: str
    from_state: str
    to_state: str
    note: str
    at: dt.datetime


class CaseDetailOut(CaseOut):
    account: str
    red_reason: str
    reason: str
    round: int
    extended_days: int
    handles: bool = Field(
        description="Whether you mediate this case (the whole case); else a party's or reporter's view"
    )
    parties: list[CasePartyOut]
    sessions: list[CaseSessionOut]
    agreements: list[CaseAgreementOut]
    follow_ups: list[CaseFollowUpOut]
    referrals: list[CaseReferralOut]
    events: list[CaseEventOut]
    actions: list[str]


def _case(c: Case) -> dict[str, Any]:
    return {
        "id": c.pk,
        "code": c.code,
        "kind": c.kind,
        "kind_label": c.get_kind_display(),
        "title": c.title,
        "place_id": c.node_id,
        "place": c.node.name,
        "source": c.source,
        "state": c.state,
        "state_label": c.get_state_display(),
        "risk": c.risk,
        "red_flag": c.red_flag,
        "mediator": c.mediator.name if c.mediator is not None else "",
        "due_at": c.due_at,
        "overdue": c.overdue,
        "level": c.level,
        "created_at": c.created_at,
        "work_order_id": c.work_order_id,
    }


def case_detail(user: Any, c: Case, *, reveal: bool = False, path: str = "") -> dict[str, Any]:
    full = selectors.handles(user, c)
    out = _case(c)
    out.update(
        account=c.account,
        red_reason=c.red_reason if full else "",
        reason=c.reason,
        round=c.round,
        extended_days=c.extended_days,
        handles=full,
        parties=selectors.party_rows(user, c, reveal=reveal and full, channel="api", path=path),
        sessions=[
            {"id": s.pk, "held_on": s.held_on, "place": s.place, "attendees": s.attendees, "notes": s.notes}
            for s in c.sessions.all()
        ]
        if full
        else [],
        agreements=[
            {
                "id": a.pk,
                "round": a.round,
                "facts": a.facts,
                "terms": a.terms,
                "signed_on": a.signed_on,
                "broken": a.broken,
                "scans": a.n_scans,
            }
            for a in c.agreements.annotate(n_scans=Count("scans"))
        ],
        follow_ups=[
            {
                "id": f.pk,
                "after_days": f.after_days,
                "due_at": f.due_at,
                "state": f.state,
                "notes": f.notes if full else "",
            }
            for f in c.follow_ups.all()
        ],
        referrals=[
            {
                "id": r.pk,
                "unit": r.unit,
                "unit_label": r.get_unit_display(),
                "done": r.done if full else "",
                "state": r.state,
                "result": r.result if full else "",
                "at": r.at,
            }
            for r in c.referrals.all()
        ],
        events=[
            {
                "action": e.action,
                "from_state": e.from_state,
                "to_state": e.to_state,
                "note": e.note if full else "",
                "at": e.at,
            }
            for e in c.events.all()
        ],
        actions=selectors.actions(user, c),
    )
    return out


class CaseFilter(QueryIn):
    state: Case.State | None = None
    red_flag: bool | None = None
    q: str = Field("", max_length=40, description="A case number, or words of the title")


@router.get(f"{P}/cases", response=Page[CaseOut], summary="Dispute cases I see (mediate, am a party to, reported)")
def cases(request: AuthedRequest, f: Query[CaseFilter], page: Query[PageParams]):
    qs = selectors.cases_for(request.user).select_related("node", "mediator")
    if f.state:
        qs = qs.filter(state=f.state)
    if f.red_flag is not None:
        qs = qs.filter(red_flag=f.red_flag)
    if f.q:
        qs = qs.filter(code=f.q.upper()) if f.q.upper().startswith("TJ") else qs.filter(title__contains=f.q)
    return paginate(qs.order_by("-red_flag", "-created_at", "-id"), page, _case)


class CasePartyIn(StrictIn):
    side: Party.Side = Party.Side.APPLICANT
    resident_id: int | None = Field(None, ge=1, description="A resident on the register you see")
    name: str = Field("", max_length=40, description="An outsider's name (with no resident_id)")
    phone: str = Field("", max_length=20)


class CaseIn(StrictIn):
    node_id: int = Field(..., ge=1, description="The grid or village where the dispute is")
    kind: Kind
    title: str = Field(..., min_length=1, max_length=80)
    account: str = Field(..., min_length=1, max_length=2000)
    parties: list[CasePartyIn] = Field(..., min_length=1, max_length=services.MAX_PARTIES)
    source: Source | None = Field(None, description="Staff: how it came to light (a resident's own: resident)")
    risk: Risk = Risk.LOW
    red_reason: str = Field("", max_length=300, description="Risk of violence or 民转刑: the town is told at once")
    on_the_spot: str = Field("", max_length=300, description="Settled as it was found (当场化解): what was done")
    idempotency_key: str = Field("", max_length=64, pattern=r"^[A-Za-z0-9_.:-]*$")


def _parties(parties: list[CasePartyIn]) -> list[PartyIn]:
    return [PartyIn(side=p.side, resident_id=p.resident_id, name=p.name, phone=p.phone) for p in parties]


def _place(node_id: int) -> Node:
    node = Node.objects.filter(pk=node_id).first()
    if node is None:
        raise NotFound(_("No such place in your area."), code="node.not_found")
    return node


@router.post(f"{P}/cases", response={201: CaseDetailOut}, summary="Report a dispute")
def report(request: AuthedRequest, body: CaseIn):
    c = services.case_report(
        by=request.user,
        node=_place(body.node_id),
        kind=body.kind,
        title=body.title,
        account=body.account,
        parties=_parties(body.parties),
        source=body.source or "",
        risk=body.risk,
        red_reason=body.red_reason,
        on_the_spot=body.on_the_spot,
        key=body.idempotency_key,
    )
    return Status(201, case_detail(request.user, selectors.access_case(request.user, c.pk)))


class CaseFromOrderIn(StrictIn):
    kind: Kind
    title: str = Field("", max_length=80)
    account: str = Field("", max_length=2000)
    parties: list[CasePartyIn] = Field(default_factory=list, max_length=services.MAX_PARTIES)


@router.post(f"{P}/from-order/{{order_id}}", response={201: CaseDetailOut}, summary="Turn a work order into a case")
def from_order(request: AuthedRequest, order_id: int, body: CaseFromOrderIn):
    from workorders.access import access_order

    order = access_order(request.user, order_id)
    c = services.order_to_case(
        order=order, by=request.user, kind=body.kind, title=body.title, account=body.account,
        parties=_parties(body.parties),
    )  # fmt: skip
    return Status(201, case_detail(request.user, selectors.access_case(request.user, c.pk)))


class RevealQuery(QueryIn):
    reveal: bool = Field(False, description="The parties' phones whole (mediation staff; each read logged)")


@router.get(f"{P}/cases/{{case_id}}", response=CaseDetailOut, summary="One case")
def case(request: AuthedRequest, case_id: int, q: Query[RevealQuery]):
    c = selectors.access_case(request.user, case_id)
    return case_detail(request.user, c, reveal=q.reveal, path=request.path)


def _done(request: AuthedRequest, case_id: int) -> dict[str, Any]:
    return case_detail(request.user, selectors.access_case(request.user, case_id))


class AcceptIn(StrictIn):
    mediator_id: int = Field(..., ge=1)


def _mediator(mediator_id: int) -> Mediator | None:
    return Mediator.objects.filter(pk=mediator_id).first()


@router.post(f"{P}/cases/{{case_id}}/accept", response=CaseDetailOut, summary="Accept for mediation (受理)")
def accept(request: AuthedRequest, case_id: int, body: AcceptIn):
    c = selectors.access_case(request.user, case_id)
    services.case_accept(case=c, by=request.user, mediator=_mediator(body.mediator_id))
    return _done(request, case_id)


@router.post(f"{P}/cases/{{case_id}}/assign", response=CaseDetailOut, summary="Hand to another mediator")
def assign(request: AuthedRequest, case_id: int, body: AcceptIn):
    c = selectors.access_case(request.user, case_id)
    services.case_assign(case=c, by=request.user, mediator=_mediator(body.mediator_id))
    return _done(request, case_id)


class CaseReasonIn(StrictIn):
    reason: str = Field(..., min_length=1, max_length=300)


@router.post(f"{P}/cases/{{case_id}}/decline", response=CaseDetailOut, summary="Not accepted, with the reason")
def decline(request: AuthedRequest, case_id: int, body: CaseReasonIn):
    services.case_decline(case=selectors.access_case(request.user, case_id), by=request.user, reason=body.reason)
    return _done(request, case_id)


@router.post(f"{P}/cases/{{case_id}}/end", response=CaseDetailOut, summary="End mediation unsettled (调解终止)")
def end(request: AuthedRequest, case_id: int, body: CaseReasonIn):
    services.case_end(case=selectors.access_case(request.user, case_id), by=request.user, reason=body.reason)
    return _done(request, case_id)


@router.post(f"{P}/cases/{{case_id}}/flag", response=CaseDetailOut, summary="Raise the red flag: the town is told")
def flag(request: AuthedRequest, case_id: int, body: CaseReasonIn):
    services.case_flag(case=selectors.access_case(request.user, case_id), by=request.user, reason=body.reason)
    return _done(request, case_id)


@router.post(f"{P}/cases/{{case_id}}/unflag", response=CaseDetailOut, summary="Lower the red flag, with a reason")
def unflag(request: AuthedRequest, case_id: int, body: CaseReasonIn):
    services.case_unflag(case=selectors.access_case(request.user, case_id), by=request.user, reason=body.reason)
    return _done(request, case_id)


class SessionIn(StrictIn):
    held_on: dt.date
    place: str = Field(..., min_length=1, max_length=100)
    attendees: str = Field(..., min_length=1, max_length=300)
    notes: str = Field(..., min_length=1, max_length=3000)


@router.post(f"{P}/cases/{{case_id}}/sessions", response={201: CaseDetailOut}, summary="Record a mediation session")
def session(request: AuthedRequest, case_id: int, body: SessionIn):
    c = selectors.access_case(request.user, case_id)
    services.session_add(case=c, by=request.user, **body.dict())
    return Status(201, _done(request, case_id))


class ExtendIn(StrictIn):
    days: int = Field(..., ge=1, le=366)
    reason: str = Field(..., min_length=1, max_length=300)


@router.post(f"{P}/cases/{{case_id}}/extend", response=CaseDetailOut, summary="Extend the time limit")
def extend(request: AuthedRequest, case_id: int, body: ExtendIn):
    c = selectors.access_case(request.user, case_id)
    services.case_extend(case=c, by=request.user, days=body.days, reason=body.reason)
    return _done(request, case_id)


class AgreementIn(StrictIn):
    facts: str = Field(..., min_length=1, max_length=3000)
    terms: str = Field(..., min_length=1, max_length=3000)
    signed_on: dt.date


@router.post(f"{P}/cases/{{case_id}}/agreement", response={201: CaseDetailOut}, summary="Record the agreement")
def agreement(request: AuthedRequest, case_id: int, body: AgreementIn):
    c = selectors.access_case(request.user, case_id)
    services.agreement_make(case=c, by=request.user, **body.dict())
    return Status(201, _done(request, case_id))


@router.post(f"{P}/cases/{{case_id}}/scans", response={201: CaseDetailOut}, summary="Upload a signed copy (photo)")
def scan(request: AuthedRequest, case_id: int, photo: File[UploadedFile]):
    services.scan_add(case=selectors.access_case(request.user, case_id), by=request.user, upload=photo)
    return Status(201, _done(request, case_id))


class FollowUpIn(StrictIn):
    kept: bool
    notes: str = Field("", max_length=1000, description="Required when the agreement is broken")


@router.post(
    f"{P}/cases/{{case_id}}/follow-ups/{{follow_up_id}}", response=CaseDetailOut, summary="Record a follow-up visit"
)
def follow_up(request: AuthedRequest, case_id: int, follow_up_id: int, body: FollowUpIn):
    c = selectors.access_case(request.user, case_id)
    f = c.follow_ups.filter(pk=follow_up_id).first()
    if f is None:
        raise NotFound(_("No such follow-up visit."), code="followup.not_found")
    services.follow_up_record(case=c, follow_up=f, by=request.user, kept=body.kept, notes=body.notes)
    return _done(request, case_id)


class CaseSettleIn(StrictIn):
    note: str = Field(..., min_length=1, max_length=300)
    level: Level | None = None


@router.post(f"{P}/cases/{{case_id}}/settle", response=CaseDetailOut, summary="Settled without a written agreement")
def settle(request: AuthedRequest, case_id: int, body: CaseSettleIn):
    c = selectors.access_case(request.user, case_id)
    services.case_settle(case=c, by=request.user, note=body.note, level=body.level or "")
    return _done(request, case_id)


class ReferIn(StrictIn):
    unit: Referral.Unit
    done: str = Field(..., min_length=1, max_length=1000, description="What was done so far")


@router.post(f"{P}/cases/{{case_id}}/refer", response=CaseDetailOut, summary="Refer to another unit")
def refer(request: AuthedRequest, case_id: int, body: ReferIn):
    c = selectors.access_case(request.user, case_id)
    services.case_refer(case=c, by=request.user, unit=body.unit, done=body.done)
    return _done(request, case_id)


class ReferralResultIn(StrictIn):
    settled: bool
    result: str = Field(..., min_length=1, max_length=1000)
    level: Level | None = None


@router.post(f"{P}/cases/{{case_id}}/referral-result", response=CaseDetailOut, summary="The receiving unit's result")
def referral_result(request: AuthedRequest, case_id: int, body: ReferralResultIn):
    c = selectors.access_case(request.user, case_id)
    services.referral_result(case=c, by=request.user, settled=body.settled, result=body.result, level=body.level or "")
    return _done(request, case_id)


# --- mediators ----------------------------------------------------------------------------------------------------


class MediatorOut(DictSchema):
    id: int
    name: str
    kind: str
    kind_label: str
    place_id: int
    place: str
    active: bool


def _mediator_out(m: Mediator) -> dict[str, Any]:
    return {
        "id": m.pk, "name": m.name, "kind": m.kind, "kind_label": m.get_kind_display(), "place_id": m.node_id,
        "place": m.node.name, "active": m.active,
    }  # fmt: skip


@router.get(f"{P}/mediators", response=Page[MediatorOut], summary="Mediators registered in my area")
def mediators(request: AuthedRequest, page: Query[PageParams]):
    return paginate(selectors.mediators_managed(request.user), page, _mediator_out)


@router.get(
    f"{P}/cases/{{case_id}}/mediators", response=list[MediatorOut], summary="Who may mediate this case (to accept)"
)
def case_mediators(request: AuthedRequest, case_id: int):
    c = selectors.access_case(request.user, case_id)
    if not selectors.handles(request.user, c):
        return []
    return [_mediator_out(m) for m in selectors.mediators_for(c)]


class MediatorIn(StrictIn):
    username: str = Field(..., min_length=1, max_length=150, description="The login of the person registered")
    node_id: int = Field(..., ge=1, description="The village, town or county they mediate for")
    kind: Mediator.Kind
    name: str = Field(..., min_length=1, max_length=40)


@router.post(f"{P}/mediators", response={201: MediatorOut}, summary="Register a mediator")
def mediator_add(request: AuthedRequest, body: MediatorIn):
    node = access_node(request.user, body.node_id)
    user = User.objects.filter(username=body.username, is_active=True).first()
    if user is None:
        raise NotFound(_("No such login."), code="user.not_found")
    m = services.mediator_register(by=request.user, user=user, node=node, kind=body.kind, name=body.name)
    return Status(201, _mediator_out(Mediator.objects.select_related("node").get(pk=m.pk)))


class MediatorActiveIn(StrictIn):
    active: bool


@router.post(f"{P}/mediators/{{mediator_id}}", response=MediatorOut, summary="Stand a mediator down, or back")
def mediator_active(request: AuthedRequest, mediator_id: int, body: MediatorActiveIn):
    m = selectors.mediators_managed(request.user).filter(pk=mediator_id).first()
    if m is None:
        raise NotFound(_("No such mediator in your area."), code="mediator.not_found")
    services.mediator_active(by=request.user, mediator=m, active=body.active)
    return _mediator_out(m)


# --- figures ------------------------------------------------------------------------------------------------------


class SettlementRowOut(DictSchema):
    node_id: int | None
    name: str
    reported: int
    settled: int
    in_village: int = Field(description="Settled in the grid or the village (小事不出村)")
    in_town: int = Field(description="Settled no further than the town (大事不出镇)")
    open: int
    red_flags: int
    settle_rate: float | None
    village_rate: float | None
    town_rate: float | None


class SettlementFilter(QueryIn):
    node_id: int | None = Field(None, ge=1)
    start: dt.date | None = None
    end: dt.date | None = None


@router.get(f"{P}/figures", response=list[SettlementRowOut], summary="小事不出村: settlement by unit (command centre)")
def figures(request: AuthedRequest, f: Query[SettlementFilter]):
    start, end = reports.default_range(f.start, f.end)
    node = reports.report_node(request.user, f.node_id)
    rep = reports.settlement(node, start=start, end=end)
    return [r.as_dict() for r in [*rep.rows, rep.total]]
