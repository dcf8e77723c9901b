"""The command centre over the API: indicators for any node or department and range, rankings, the
board, volumes, appeals (甄别申诉) and the monthly assessment. Scoped like the pages: a town's leader
cannot ask for another town, a department for another department (404, as for a missing one)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router
from ninja.responses import Status

from accounts.http import AuthedRequest
from core.clock import today as clock_today
from core.errors import NotFound, ValidationFailed
from core.schemas import DictSchema, QueryIn, StrictIn
from dashboards import board, indicators, selectors, services
from dashboards.models import Exemption, Group, Result
from workorders.access import access_order

router = Router(tags=["dashboard"])


class RangeIn(QueryIn):
    start: dt.date | None = Field(None, description="First day (Asia/Shanghai); the 1st of this month by default")
    end: dt.date | None = Field(None, description="Last day, inclusive; today by default")


class DefinitionOut(DictSchema):
    key: str
    label: str
    definition: str
    kind: str


class NumbersOut(DictSchema):
    id: int
    name: str
    level: int | None
    start: dt.date
    end: dt.date
    rates: dict[str, float | int | None]
    counters: dict[str, int]


class UnitOut(DictSchema):
    id: int
    name: str
    rates: dict[str, float | int | None]
    counters: dict[str, int]


class DashboardNodeOut(NumbersOut):
    children: list[UnitOut]


class RankRow(DictSchema):
    rank: int
    id: int
    name: str
    score: Decimal
    orders: int
    rates: dict[str, float | int | None]


class RankingOut(DictSchema):
    group: str
    start: dt.date
    end: dt.date
    scheme: str
    weights: dict[str, int]
    rows: list[RankRow]


def _numbers(n: indicators.Numbers) -> dict[str, Any]:
    return {"rates": n.rates, "counters": n.counters}


@router.get("/dashboard/definitions", response=list[DefinitionOut], summary="What every indicator means")
def definitions(request: AuthedRequest):
    return [
        {"key": i.key, "label": str(i.label), "definition": str(i.definition), "kind": i.kind}
        for i in indicators.INDICATORS
    ]


@router.get("/dashboard/nodes/{node_id}", response=DashboardNodeOut, summary="Indicators of a node and its children")
def node_numbers(request: AuthedRequest, node_id: int, r: Query[RangeIn]):
    node = selectors.access_node(request.user, node_id)
    start, end = selectors.period(r.start, r.end)
    weight = services.scheme_for(start.replace(day=1)).basic_weight
    n = indicators.for_unit(node_id=node.pk, start=start, end=end, basic_weight=weight)
    kids = selectors.children(node)
    below = (
        indicators.for_units(level=kids[0].level, start=start, end=end, paths=(node.path,), basic_weight=weight)
        if kids
        else {}
    )
    empty = indicators.Numbers(
        {c: 0 for c in indicators.COUNTERS}, indicators.rates({c: 0 for c in indicators.COUNTERS})
    )
    return {
        "id": node.pk, "name": node.name, "level": node.level, "start": start, "end": end, **_numbers(n),
        "children": [{"id": k.pk, "name": k.name, **_numbers(below.get(k.pk, empty))} for k in kids],
    }  # fmt: skip


@router.get("/dashboard/departments/{department_id}", response=NumbersOut, summary="Indicators of a department")
def department_numbers(request: AuthedRequest, department_id: int, r: Query[RangeIn]):
    d = selectors.access_department(request.user, department_id)
    start, end = selectors.period(r.start, r.end)
    weight = services.scheme_for(start.replace(day=1)).basic_weight
    n = indicators.for_unit(department_id=d.pk, start=start, end=end, basic_weight=weight)
    return {"id": d.pk, "name": d.name, "level": None, "start": start, "end": end, **_numbers(n)}


class RankingIn(RangeIn):
    group: Literal["department", "town", "village", "grid"] = "village"
    node: int | None = Field(None, ge=1, description="Rank the units under this node (the user's area by default)")


@router.get("/dashboard/ranking", response=RankingOut, summary="Rank departments, towns, villages or grids")
def ranking(request: AuthedRequest, r: Query[RankingIn]):
    start, end = selectors.period(r.start, r.end)
    if not selectors.dash_scope(request.user).any:
        raise NotFound()
    return selectors.ranking_rows(request.user, r.group, start, end, r.node)


class BoardIn(QueryIn):
    node: int | None = Field(None, ge=1)


@router.get("/dashboard/board", summary="The command-centre board: live counts, map, hot topics, most overdue")
def board_view(request: AuthedRequest, b: Query[BoardIn]) -> dict[str, Any]:
    node = selectors.access_node(request.user, b.node) if b.node else selectors.home_node(request.user)
    if node is None:
        raise NotFound()
    from core.clock import today

    t = today()
    return {
        "node": {"id": node.pk, "name": node.name, "level": node.level},
        "live": board.live(node),
        "map": board.grid_map(node, t - dt.timedelta(days=29), t),
        "hot": board.hot_categories(node),
        "most_overdue": board.most_overdue(node),
    }


class VolumeIn(RangeIn):
    node: int | None = Field(None, ge=1)
    department: int | None = Field(None, ge=1)


@router.get("/dashboard/volume", summary="Orders by channel (c), type (k) and top category (g)")
def volume(request: AuthedRequest, v: Query[VolumeIn]) -> dict[str, Any]:
    start, end = selectors.period(v.start, v.end)
    if (v.node is None) == (v.department is None):
        raise ValidationFailed(fields={"node": ["node or department"]}, code="dashboard.one_unit")
    if v.node:
        return board.volume(node=selectors.access_node(request.user, v.node), start=start, end=end)
    d = selectors.access_department(request.user, v.department)  # type: ignore[arg-type]  # None only with node=0: no such department, 404
    return board.volume(department_id=d.pk, start=start, end=end)


# --- 甄别申诉 -----------------------------------------------------------------------------------


class ExemptionIn(StrictIn):
    order_id: int = Field(..., ge=1)
    reason: str = Field(..., min_length=1, max_length=1000)


class ExemptionDecideIn(StrictIn):
    approve: bool
    note: str = Field("", max_length=500)


class ExemptionOut(DictSchema):
    id: int
    order_id: int
    tracking_code: str
    reason: str
    status: str
    requested_at: dt.datetime
    decided_at: dt.datetime | None
    decision_note: str


def _exemption(e: Exemption) -> dict[str, Any]:
    return {
        "id": e.pk, "order_id": e.order_id, "tracking_code": e.order.tracking_code, "reason": e.reason,
        "status": e.status, "requested_at": e.requested_at, "decided_at": e.decided_at,
        "decision_note": e.decision_note,
    }  # fmt: skip


@router.post("/dashboard/exemptions", response={201: ExemptionOut}, summary="Appeal an order out of the rates")
def exemption_create(request: AuthedRequest, body: ExemptionIn):
    order = access_order(request.user, body.order_id)
    return Status(201, _exemption(services.exemption_request(order=order, by=request.user, reason=body.reason)))


@router.get("/dashboard/exemptions", response=list[ExemptionOut], summary="Appeals the user filed or decides")
def exemption_list(request: AuthedRequest, status: Literal["", "pending", "approved", "refused"] = ""):
    from org.access import paths_q

    ds = selectors.dash_scope(request.user)
    qs = Exemption.objects.select_related("order")
    q = paths_q(ds.assess_paths, "order__path") if ds.assess_paths else None
    from django.db.models import Q

    mine = Q(requested_by=request.user)
    qs = qs.filter(q | mine if q is not None else mine)
    if status:
        qs = qs.filter(status=status)
    return [_exemption(e) for e in qs.order_by("-id")[:200]]


@router.post("/dashboard/exemptions/{exemption_id}/decide", response=ExemptionOut, summary="Approve or refuse")
def exemption_decide(request: AuthedRequest, exemption_id: int, body: ExemptionDecideIn):
    e = Exemption.objects.select_related("order").filter(pk=exemption_id).first()
    if e is None or not selectors.dash_scope(request.user).assesses(e.order.path):
        raise NotFound()
    e = services.exemption_decide(exemption=e, by=request.user, approve=body.approve, note=body.note)
    return _exemption(e)


# --- the monthly assessment ----------------------------------------------------------------------


class ResultRowOut(DictSchema):
    rank: int
    name: str
    node_id: int | None
    department_id: int | None
    orders: int
    rates: dict[str, float | None]
    base: Decimal
    special: Decimal
    score: Decimal
    previous_rank: int | None
    change: Decimal | None
    listed: Literal["", "red", "black"]


class ResultOut(DictSchema):
    month: str
    group: str
    scheme: str
    weights: dict[str, int]
    computed_at: dt.datetime
    published_at: dt.datetime | None
    rows: list[ResultRowOut]


class ComputeIn(StrictIn):
    reason: str = Field("", max_length=300, description="Required to recompute a published month")


class SpecialIn(StrictIn):
    node_id: int | None = Field(None, ge=1)
    department_id: int | None = Field(None, ge=1)
    points: Decimal = Field(..., ge=-100, le=100, max_digits=6, decimal_places=2)
    reason: str = Field(..., min_length=1, max_length=300)


def _month(value: str) -> dt.date:
    if not re.fullmatch(r"\d{4}-\d{2}", value or ""):
        raise ValidationFailed(fields={"month": ["YYYY-MM"]}, code="dashboard.bad_month")
    try:
        m = dt.datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        raise ValidationFailed(fields={"month": ["YYYY-MM"]}, code="dashboard.bad_month") from None
    from core.clock import EARLIEST, LATEST

    if not EARLIEST <= m <= LATEST:
        raise ValidationFailed(fields={"month": ["YYYY-MM"]}, code="dashboard.bad_month")
    return m


def result_dict(result: Result) -> dict[str, Any]:
    from dashboards.report import result_rows

    return {
        "month": f"{result.month:%Y-%m}", "group": result.group, "scheme": str(result.scheme),
        "weights": result.scheme.weights, "computed_at": result.computed_at, "published_at": result.published_at,
        "rows": result_rows(result),
    }  # fmt: skip


def _assessor(request: HttpRequest) -> None:
    if not selectors.dash_scope(request.user).assess_paths:
        raise NotFound()


def _group(group: str) -> str:
    if group not in Group.values:
        raise NotFound()
    return group


@router.get("/dashboard/assessment/{month}/{group}", response=ResultOut, summary="A month's scores")
def result_get(request: AuthedRequest, month: str, group: str):
    _assessor(request)
    root = services.assessment_root(request.user)
    r = Result.objects.select_related("scheme").filter(node=root, month=_month(month), group=_group(group)).first()
    if r is None:
        raise NotFound()
    return result_dict(r)


@router.post("/dashboard/assessment/{month}/{group}/compute", response=ResultOut, summary="Compute or recompute")
def result_compute(request: AuthedRequest, month: str, group: str, body: ComputeIn):
    _assessor(request)
    r = services.result_compute(by=request.user, month=_month(month), group=_group(group), reason=body.reason)
    return result_dict(r)


class PublishIn(QueryIn):
    confirm_zero: bool = Field(
        False, description="Publish although a unit's special items add up to 0 (else 409 dashboard.special_zero)"
    )


@router.post("/dashboard/assessment/{month}/{group}/publish", response=ResultOut, summary="Publish (freeze)")
def result_publish(request: AuthedRequest, month: str, group: str, p: Query[PublishIn]):
    """409 `dashboard.stale` while special items changed after the scores were computed (compute again),
    409 `dashboard.special_zero` while a unit's items add up to 0, unless `confirm_zero`."""
    _assessor(request)
    root = services.assessment_root(request.user)
    r = Result.objects.filter(node=root, month=_month(month), group=_group(group)).first()
    if r is None:
        raise NotFound()
    return result_dict(services.result_publish(by=request.user, result=r, confirm_zero=p.confirm_zero))


@router.post("/dashboard/assessment/{month}/{group}/specials", response={201: dict[str, Any]}, summary="专项")
def special_add(request: AuthedRequest, month: str, group: str, body: SpecialIn):
    _assessor(request)
    from org.models import Department, Node

    node = dept = None
    if body.node_id:
        node = Node.objects.filter(pk=body.node_id).first()
        if node is None:
            raise NotFound()
    if body.department_id:
        dept = Department.objects.select_related("jurisdiction").filter(pk=body.department_id).first()
        if dept is None:
            raise NotFound()
    s = services.special_add(
        by=request.user, month=_month(month), group=_group(group), node=node, department=dept,
        points=body.points, reason=body.reason,
    )  # fmt: skip
    return Status(201, {"id": s.pk, "points": str(s.points), "reason": s.reason})


# --- schemes ---------------------------------------------------------------------------------------


class SchemeIn(StrictIn):
    name: str = Field(..., min_length=1, max_length=80)
    weights: dict[str, int] = Field(..., description="indicator → weight; the weights add up to 100")
    basic_weight: Decimal = Field(Decimal("0.6"), ge=0, le=1, max_digits=3, decimal_places=2)
    valid_from: str = Field(..., description="YYYY-MM: the first month it applies to")
    note: str = Field("", max_length=300)


class SchemeOut(DictSchema):
    version: int
    name: str
    valid_from: dt.date
    weights: dict[str, int]
    basic_weight: Decimal
    note: str


def _scheme(s: Any) -> dict[str, Any]:
    return {
        "version": s.version, "name": s.name, "valid_from": s.valid_from, "weights": s.weights,
        "basic_weight": s.basic_weight, "note": s.note,
    }  # fmt: skip


@router.get("/dashboard/schemes", response=list[SchemeOut], summary="Assessment schemes, newest version first")
def scheme_list(request: AuthedRequest):
    _assessor(request)
    from dashboards.models import Scheme

    services.scheme_for(clock_today())  # version 1 exists from the first look
    return [_scheme(s) for s in Scheme.objects.order_by("-version")]


@router.post("/dashboard/schemes", response={201: SchemeOut}, summary="A new version of the scheme")
def scheme_create(request: AuthedRequest, body: SchemeIn):
    _assessor(request)
    s = services.scheme_create(
        by=request.user, name=body.name, weights=body.weights, basic_weight=body.basic_weight,
        valid_from=_month(body.valid_from), note=body.note,
    )  # fmt: skip
    return Status(201, _scheme(s))
