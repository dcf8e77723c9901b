"""The county model over the API: tree, households, residents, departments, service points."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from accounts.http import AuthedRequest
from core.errors import NotFound
from core.extra import attach
from core.schemas import Page, PageParams, QueryIn, paginate
from org import access, selectors
from org.models import Household, Level, Node, Relation, Resident, ServicePoint

router = Router(tags=["county"])

SearchText = Field("", max_length=50, description="Text to search for")


class NodeOut(Schema):
    id: int
    parent_id: int | None
    level: int
    level_label: str
    kind: str
    name: str
    code: str
    path: str
    lat: Decimal | None
    lng: Decimal | None

    @staticmethod
    def resolve_level_label(obj: Node) -> str:
        return str(obj.get_level_display())


class StatsOut(Schema):
    towns: int
    villages: int
    grids: int
    households: int
    residents: int


class NodeDetailOut(NodeOut):
    breadcrumb: list[NodeOut]
    stats: StatsOut | None = Field(None, description="Counts below the node; only where you see its people")


class NodeFilter(QueryIn):
    parent: int | None = Field(None, ge=1, description="Children of this node; omit for your scope's top nodes")


class NodeSearch(QueryIn):
    q: str = Field(..., min_length=1, max_length=50)
    within: int | None = Field(None, ge=1)
    level: Level | None = None


def _node_or_404(request: HttpRequest, node_id: int | None) -> Node | None:
    return access.access_node(request.user, node_id) if node_id is not None else None


@router.get("/nodes", response=list[NodeOut], summary="Children of a node (or your top nodes)")
def node_children(request: AuthedRequest, filters: Query[NodeFilter]):
    parent = _node_or_404(request, filters.parent)
    return list(selectors.node_children(request.user, parent)[:1000])


@router.get("/nodes/search", response=Page[NodeOut], summary="Search the tree by name or code")
def node_search(request: AuthedRequest, filters: Query[NodeSearch], page: Query[PageParams]):
    within = _node_or_404(request, filters.within)
    return paginate(selectors.node_search(request.user, filters.q, within, filters.level), page)


@router.get("/nodes/{node_id}", response=NodeDetailOut, summary="A node with its breadcrumb and counts")
def node_detail(request: AuthedRequest, node_id: int):
    node = access.access_node(request.user, node_id)
    scope = access.get_scope(request.user)
    return attach(
        node,
        stats=selectors.node_stats(node).__dict__ if scope.sees_people_under(node) else None,
        breadcrumb=selectors.breadcrumb(node)[:-1],
    )


# --- households and residents ------------------------------------------------------------------


class GridRef(Schema):
    id: int
    name: str


class ResidentOut(Schema):
    id: int
    name: str
    gender: str
    gender_label: str
    relation: str
    relation_label: str
    age: int | None
    birth_date: dt.date | None
    phone: str
    phone_masked: bool
    id_number: str
    id_number_masked: bool
    household_id: int


class HouseholdOut(Schema):
    id: int
    address: str
    number: str
    grid: GridRef
    tags: list[str]
    head_name: str | None = None
    member_count: int | None = None


class HouseholdDetailOut(HouseholdOut):
    breadcrumb: list[GridRef]
    members: list[ResidentOut] = Field(..., alias="members_view")
    party_member: str | None


class PeopleFilter(QueryIn):
    node: int | None = Field(None, ge=1, description="Only within this node's subtree")
    q: str = Field("", max_length=50, description="Name, address, the last 4 digits of a phone, or 138****1234")


class HouseholdFilter(PeopleFilter):
    tag: Household.Tag | None = None


def _masked(request: HttpRequest, r: Resident) -> dict:
    return selectors.resident_view(request.user, r, reveal=False, channel="api")


@router.get("/households", response=Page[HouseholdOut], summary="Households in your scope")
def household_list(request: AuthedRequest, filters: Query[HouseholdFilter], page: Query[PageParams]):
    node = _node_or_404(request, filters.node)
    qs = selectors.household_list(request.user, node=node, q=filters.q, tag=filters.tag or "")
    result = paginate(qs, page)
    heads = selectors.household_heads(result["items"])
    for h in result["items"]:
        attach(h, head_name=heads.get(h.pk))
    return result


@router.get("/households/{household_id}", response=HouseholdDetailOut, summary="A household and its members")
def household_detail(request: AuthedRequest, household_id: int):
    h = access.access_household(request.user, household_id)
    members = list(h.members.all())
    link = getattr(h, "party_link", None)
    return attach(
        h,
        head_name=next((m.name for m in members if m.relation == Relation.HEAD), None),
        member_count=len(members),
        breadcrumb=selectors.breadcrumb(h.grid)[:-1],
        members_view=[_masked(request, m) for m in members],
        party_member=link.member.resident.name if link else None,
    )


@router.get("/residents", response=Page[ResidentOut], summary="Residents in your scope (numbers masked)")
def resident_list(request: AuthedRequest, filters: Query[PeopleFilter], page: Query[PageParams]):
    node = _node_or_404(request, filters.node)
    return paginate(selectors.resident_list(request.user, node=node, q=filters.q), page, lambda r: _masked(request, r))


@router.get(
    "/residents/{resident_id}",
    response=ResidentOut,
    summary="One resident; numbers unmasked where your role needs them (each unmasked read is logged)",
)
def resident_detail(request: AuthedRequest, resident_id: int):
    r = access.access_resident(request.user, resident_id)
    return selectors.resident_view(request.user, r, reveal=True, channel="api", path=request.path)


# --- departments and service points ------------------------------------------------------------


class DepartmentOut(Schema):
    id: int
    name: str
    code: str
    level: str
    jurisdiction: GridRef
    phone: str


class DepartmentFilter(QueryIn):
    level: str | None = Field(None, pattern="^(county|town)$")
    q: str = SearchText


@router.get("/departments", response=Page[DepartmentOut], summary="Departments")
def department_list(request: AuthedRequest, filters: Query[DepartmentFilter], page: Query[PageParams]):
    qs = access.departments_for(request.user).select_related("jurisdiction")
    if filters.level:
        qs = qs.filter(level=filters.level)
    if filters.q:
        qs = qs.filter(name__icontains=filters.q)
    return paginate(qs.order_by("level", "code"), page)


@router.get("/departments/{department_id}", response=DepartmentOut, summary="A department")
def department_detail(request: AuthedRequest, department_id: int):
    d = access.departments_for(request.user).select_related("jurisdiction").filter(pk=department_id).first()
    if d is None:
        raise NotFound()
    return d


class ServicePointOut(Schema):
    id: int
    name: str
    kind: str
    kind_label: str
    node: GridRef
    address: str
    phone: str
    opening_hours: str
    services: list[str]
    lat: Decimal | None
    lng: Decimal | None

    @staticmethod
    def resolve_kind_label(obj: ServicePoint) -> str:
        return str(obj.get_kind_display())


class ServicePointFilter(QueryIn):
    node: int | None = Field(None, ge=1)
    kind: ServicePoint.Kind | None = None


@router.get("/service-points", response=Page[ServicePointOut], summary="Service points")
def service_point_list(request: AuthedRequest, filters: Query[ServicePointFilter], page: Query[PageParams]):
    node = _node_or_404(request, filters.node)
    return paginate(selectors.service_points(request.user, node=node, kind=filters.kind or ""), page)


@router.get("/service-points/{point_id}", response=ServicePointOut, summary="A service point")
def service_point_detail(request: AuthedRequest, point_id: int):
    p = selectors.service_points(request.user).filter(pk=point_id).first()
    if p is None:
        raise NotFound()
    return p
