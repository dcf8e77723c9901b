"""Points over the API: my points, awards and deductions, claims by rule, the shop, recognition, reports.

Every write that creates something takes an `idempotency_key`: the same key again returns the first
result (status 200 instead of 201) and changes nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router
from ninja.responses import Status

from accounts.http import AuthedRequest
from core.errors import NotFound, ValidationFailed
from core.schemas import DictSchema, Page, PageParams, QueryIn, StrictIn, paginate
from org.access import access_node, access_own_resident, residents_for
from org.models import Resident
from points import selectors, services
from points.models import Account, Claim, Entry, Goods, Nomination, Redemption, Rule, Shop

router = Router(tags=["points"])

KEY = Field("", max_length=64, description="The same key again returns the first result and changes nothing")


# --- output ---------------------------------------------------------------------------------------------


class EntryOut(DictSchema):
    id: int
    kind: str
    kind_label: str
    amount: int
    signed: int  # + for the resident, - against them
    resident_id: int | None
    resident_name: str | None
    at: dt.datetime
    actor: str
    reason: str
    rule: str | None
    reverses_id: int | None


class WriteOut(DictSchema):
    entry: EntryOut
    balance: int
    created: bool


class LotOut(DictSchema):
    remaining: int
    received_at: dt.datetime
    expires_at: dt.datetime | None


class AccountOut(DictSchema):
    resident_id: int
    resident_name: str
    balance: int
    earned: int
    spent: int
    lots: list[LotOut]


class RuleOut(DictSchema):
    code: str
    name: str
    kind: str
    unit: str
    points_per_unit: int
    cap_per_activity: int | None
    cap_per_month: int | None
    needs_approval: bool
    description: str


class ClaimOut(DictSchema):
    id: int
    resident_id: int
    resident_name: str
    rule: str
    rule_name: str
    quantity: float
    description: str
    state: str
    state_label: str
    points: int
    submitted_at: dt.datetime
    decided_at: dt.datetime | None
    decision_note: str
    created: bool = False


class GoodsOut(DictSchema):
    id: int
    shop_id: int
    name: str
    description: str
    price: int
    stock: int
    limit_per_person: int | None
    limit_period: str
    is_active: bool


class ShopOut(DictSchema):
    id: int
    node_id: int
    name: str
    address: str
    opening_hours: str
    is_active: bool


class ShopDetailOut(ShopOut):
    goods: list[GoodsOut]


class RedemptionOut(DictSchema):
    id: int
    shop_id: int
    shop_name: str
    goods_id: int
    goods_name: str
    resident_id: int
    resident_name: str
    quantity: int
    points: int
    channel: str
    state: str
    state_label: str
    created_at: dt.datetime
    pickup_by: dt.datetime | None
    collected_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    cancel_reason: str
    balance: int | None = None
    created: bool = False


class RankOut(DictSchema):
    rank: int
    resident_id: int
    name: str
    points: int
    awards: int


class NominationOut(DictSchema):
    id: int
    resident_id: int
    resident_name: str
    month: dt.date
    reason: str
    state: str
    state_label: str


class SummaryOut(DictSchema):
    award: int
    redeem: int
    refund: int
    deduct: int
    expire: int
    reverse: int
    outstanding: int  # what residents under the node hold now


def _entry(e: Entry) -> dict[str, Any]:
    """One entry (read with its resident, rule and sink)."""
    return {
        "id": e.pk,
        "kind": e.kind,
        "kind_label": str(Entry.Kind(e.kind).label),
        "amount": e.amount,
        "signed": e.signed,
        "resident_id": e.resident_id,
        "resident_name": e.resident.name if e.resident is not None else None,
        "at": e.at,
        "actor": e.actor_label,
        "reason": e.reason,
        "rule": e.rule.code if e.rule is not None else None,
        "reverses_id": e.reverses_id,
    }


def _balance(resident_id: int) -> int:
    return Account.objects.filter(resident_id=resident_id).values_list("balance", flat=True).first() or 0


def _write(e: Entry, created: bool) -> dict[str, Any]:
    e = Entry.objects.select_related("resident", "rule", "sink").get(pk=e.pk)
    assert e.resident_id is not None  # awards and deductions by hand are a resident's
    acc = Account.objects.get(resident_id=e.resident_id)
    return {"entry": _entry(e), "balance": acc.balance, "created": created}


def _account(resident: Resident) -> dict[str, Any]:
    summary = selectors.account_summary(resident.pk)
    keys = ("balance", "earned", "spent", "lots")
    return {"resident_id": resident.pk, "resident_name": resident.name, **{k: summary[k] for k in keys}}


def _claim(c: Claim, created: bool = False) -> dict[str, Any]:
    return {
        "id": c.pk,
        "resident_id": c.resident_id,
        "resident_name": c.resident.name,
        "rule": c.rule.code,
        "rule_name": c.rule.name,
        "quantity": float(c.quantity),
        "description": c.description,
        "state": c.state,
        "state_label": str(Claim.State(c.state).label),
        "points": c.points,
        "submitted_at": c.submitted_at,
        "decided_at": c.decided_at,
        "decision_note": c.decision_note,
        "created": created,
    }


def _goods(g: Goods) -> dict[str, Any]:
    return {
        "id": g.pk,
        "shop_id": g.shop_id,
        "name": g.name,
        "description": g.description,
        "price": g.price,
        "stock": g.stock,
        "limit_per_person": g.limit_per_person,
        "limit_period": g.limit_period,
        "is_active": g.is_active,
    }


def _shop(s: Shop) -> dict[str, Any]:
    return {
        "id": s.pk,
        "node_id": s.node_id,
        "name": s.name,
        "address": s.address,
        "opening_hours": s.opening_hours,
        "is_active": s.is_active,
    }


def _redemption(r: Redemption, created: bool = False, balance: int | None = None) -> dict[str, Any]:
    return {
        "id": r.pk,
        "shop_id": r.shop_id,
        "shop_name": r.shop.name,
        "goods_id": r.goods_id,
        "goods_name": r.goods.name,
        "resident_id": r.resident_id,
        "resident_name": r.resident.name,
        "quantity": r.quantity,
        "points": r.points,
        "channel": r.channel,
        "state": r.state,
        "state_label": str(Redemption.State(r.state).label),
        "created_at": r.created_at,
        "pickup_by": r.pickup_by,
        "collected_at": r.collected_at,
        "cancelled_at": r.cancelled_at,
        "cancel_reason": r.cancel_reason,
        "balance": balance,
        "created": created,
    }


def _nomination(n: Nomination) -> dict[str, Any]:
    return {
        "id": n.pk,
        "resident_id": n.resident_id,
        "resident_name": n.resident.name,
        "month": n.month,
        "reason": n.reason,
        "state": n.state,
        "state_label": str(Nomination.State(n.state).label),
    }


def _resident(request: HttpRequest, resident_id: int) -> Resident:
    r = residents_for(request.user).filter(pk=resident_id).first()
    if r is None:
        raise NotFound(_("No such resident in your area."), code="resident.not_found")
    return r


def _me(request: HttpRequest) -> Resident:
    return access_own_resident(request.user)


# --- input --------------------------------------------------------------------------------------------


class AwardIn(StrictIn):
    resident_id: int = Field(..., ge=1)
    amount: int = Field(..., ge=1, le=services.MAX_POINTS)
    reason: str = Field(..., min_length=1, max_length=200)
    idempotency_key: str = KEY


class EntryReasonIn(StrictIn):
    reason: str = Field(..., min_length=1, max_length=200)


class ClaimIn(StrictIn):
    rule: str = Field(..., max_length=20, description="The rule's code")
    quantity: float = Field(1, gt=0, le=services.MAX_QUANTITY)
    description: str = Field(..., min_length=1, max_length=300)
    resident_id: int | None = Field(None, ge=1, description="For whom (staff); omit for yourself")
    idempotency_key: str = KEY


class PointsDecideIn(StrictIn):
    note: str = Field("", max_length=200)


class ShopIn(StrictIn):
    node_id: int = Field(..., ge=1)
    name: str = Field(..., min_length=1, max_length=60)
    address: str = Field("", max_length=200)
    opening_hours: str = Field("", max_length=200)


class GoodsIn(StrictIn):
    name: str = Field(..., min_length=1, max_length=60)
    description: str = Field("", max_length=200)
    price: int = Field(..., ge=1, le=services.MAX_POINTS)
    limit_per_person: int | None = Field(None, ge=1, le=1000)
    limit_period: Goods.Period = Goods.Period.MONTH
    is_active: bool = True
    stock: int = Field(0, ge=0, le=100_000, description="Initial stock")


class GoodsPatch(StrictIn):
    name: str | None = Field(None, min_length=1, max_length=60)
    description: str | None = Field(None, max_length=200)
    price: int | None = Field(None, ge=1, le=services.MAX_POINTS)
    limit_per_person: int | None = Field(None, ge=1, le=1000)
    limit_period: Goods.Period | None = None
    is_active: bool | None = None


class StockIn(StrictIn):
    delta: int = Field(..., ge=-100_000, le=100_000)
    note: str = Field("", max_length=200)
    count: bool = Field(False, description="A correction after a stock count (delta may be negative)")


class RedeemIn(StrictIn):
    goods_id: int = Field(..., ge=1)
    quantity: int = Field(1, ge=1, le=services.MAX_QUANTITY)
    resident_id: int | None = Field(None, ge=1, description="At the counter: for whom; omit to reserve for yourself")
    idempotency_key: str = KEY


class NominateIn(StrictIn):
    resident_id: int = Field(..., ge=1)
    month: str = Field(..., pattern=r"^2[01]\d{2}-(0[1-9]|1[0-2])$")
    reason: str = Field(..., min_length=1, max_length=500)


class PeriodIn(QueryIn):
    node_id: int | None = Field(None, ge=1)
    period: str = Field("month", pattern="^(month|year|all)$")
    month: str | None = Field(
        None, pattern=r"^2[01]\d{2}-(0[1-9]|1[0-2])$", description="Which month or year (YYYY-MM)"
    )


class StateIn(QueryIn):
    state: str | None = Field(None, max_length=12)
    resident_id: int | None = Field(None, ge=1)


# --- my points ------------------------------------------------------------------------------------------


@router.get("/points/me", response=AccountOut, summary="My points: balance, earned, spent, what expires when")
def me(request: AuthedRequest):
    return _account(_me(request))


@router.get("/points/me/entries", response=Page[EntryOut], summary="My points history, newest first")
def my_entries(request: AuthedRequest, page: Query[PageParams]):
    resident = _me(request)
    qs = Entry.objects.filter(resident_id=resident.pk).select_related("resident", "rule", "sink").order_by("-id")
    return paginate(qs, page, convert=_entry)


@router.get("/points/rules", response=list[RuleOut], summary="The points rules in force")
def rules(request: AuthedRequest):
    return [
        {k: getattr(r, k) for k in RuleOut.model_fields} for r in Rule.objects.filter(is_active=True).order_by("code")
    ]


# --- staff: a resident's account, awards, deductions, reversals ---------------------------------------------


@router.get("/points/residents/{resident_id}", response=AccountOut, summary="A resident's points (staff)")
def account(request: AuthedRequest, resident_id: int):
    resident = _resident(request, resident_id)
    if not selectors.manages(request.user, resident.path, grid_workers=True):
        raise NotFound(_("No such resident in your area."), code="resident.not_found")
    return _account(resident)


@router.get("/points/entries", response=Page[EntryOut], summary="Ledger entries in your area (staff), newest first")
def entries(request: AuthedRequest, f: Query[StateIn], page: Query[PageParams]):
    qs = selectors.entries_for(request.user).select_related("resident", "rule", "sink")
    if f.resident_id:
        qs = qs.filter(resident_id=f.resident_id)
    if f.state:
        qs = qs.filter(kind=f.state)
    return paginate(qs.order_by("-id"), page, convert=_entry, count_cap=10_000)


@router.post("/points/awards", response={201: WriteOut, 200: WriteOut}, summary="Award points by hand, with a reason")
def award(request: AuthedRequest, body: AwardIn):
    resident = _resident(request, body.resident_id)
    e, created = services.award_manual(
        resident=resident, amount=body.amount, reason=body.reason, by=request.user, key=body.idempotency_key
    )
    return Status(201 if created else 200, _write(e, created))


@router.post("/points/deductions", response={201: WriteOut, 200: WriteOut}, summary="Deduct points, with a reason")
def deduct(request: AuthedRequest, body: AwardIn):
    resident = _resident(request, body.resident_id)
    e, created = services.deduct_manual(
        resident=resident, amount=body.amount, reason=body.reason, by=request.user, key=body.idempotency_key
    )
    return Status(201 if created else 200, _write(e, created))


@router.post(
    "/points/entries/{entry_id}/reverse", response={201: WriteOut}, summary="Reverse a wrong award or deduction"
)
def reverse(request: AuthedRequest, entry_id: int, body: EntryReasonIn):
    e = selectors.entries_for(request.user).filter(pk=entry_id).select_related("resident").first()
    if e is None:
        raise NotFound(_("No such entry."), code="points.entry_not_found")
    return Status(201, _write(services.entry_reverse(entry=e, reason=body.reason, by=request.user), True))


# --- claims -----------------------------------------------------------------------------------------------


@router.post("/points/claims", response={201: ClaimOut, 200: ClaimOut}, summary="Claim points under a rule")
def claim_submit(request: AuthedRequest, body: ClaimIn):
    rule = Rule.objects.filter(code=body.rule, is_active=True).first()
    if rule is None:
        raise ValidationFailed(fields={"rule": [_("No such points rule.")]}, code="points.rule_not_found")
    resident = _resident(request, body.resident_id) if body.resident_id else _me(request)
    c, created = services.claim_submit(
        resident=resident,
        rule=rule,
        quantity=body.quantity,
        description=body.description,
        by=request.user,
        key=body.idempotency_key,
    )
    c = Claim.objects.select_related("resident", "rule").get(pk=c.pk)
    return Status(201 if created else 200, _claim(c, created))


@router.get("/points/claims", response=Page[ClaimOut], summary="Claims: yours, or those in your area (staff)")
def claims(request: AuthedRequest, f: Query[StateIn], page: Query[PageParams]):
    qs = selectors.claims_for(request.user).select_related("resident", "rule")
    if f.state:
        qs = qs.filter(state=f.state)
    return paginate(qs.order_by("-id"), page, convert=_claim)


@router.post("/points/claims/{claim_id}/approve", response=ClaimOut, summary="Approve a claim: the points are awarded")
def claim_approve(request: AuthedRequest, claim_id: int, body: PointsDecideIn):
    c = services.claim_decide(
        claim=selectors.access_claim(request.user, claim_id), approve=True, by=request.user, note=body.note
    )
    return _claim(Claim.objects.select_related("resident", "rule").get(pk=c.pk))


@router.post("/points/claims/{claim_id}/reject", response=ClaimOut, summary="Reject a claim, with the reason")
def claim_reject(request: AuthedRequest, claim_id: int, body: PointsDecideIn):
    c = services.claim_decide(
        claim=selectors.access_claim(request.user, claim_id), approve=False, by=request.user, note=body.note
    )
    return _claim(Claim.objects.select_related("resident", "rule").get(pk=c.pk))


# --- the shop ---------------------------------------------------------------------------------------------


@router.get("/points/shops", response=list[ShopOut], summary="Points shops serving you, or in your area (staff)")
def shops(request: AuthedRequest):
    return [_shop(s) for s in selectors.shops_for(request.user).order_by("path", "id")[:200]]


@router.post("/points/shops", response={201: ShopOut}, summary="Open a points shop for a village or town")
def shop_create(request: AuthedRequest, body: ShopIn):
    node = access_node(request.user, body.node_id)
    s = services.shop_create(
        node=node, name=body.name, by=request.user, address=body.address, opening_hours=body.opening_hours
    )
    return Status(201, _shop(s))


@router.get("/points/shops/{shop_id}", response=ShopDetailOut, summary="A shop and its goods")
def shop(request: AuthedRequest, shop_id: int):
    s = selectors.access_shop(request.user, shop_id)
    goods = s.goods.all()
    if not selectors.manages(request.user, s.path):
        goods = goods.filter(is_active=True)
    return {**_shop(s), "goods": [_goods(g) for g in goods.order_by("sort", "id")]}


@router.post("/points/shops/{shop_id}/goods", response={201: GoodsOut}, summary="Add goods to a shop")
def goods_create(request: AuthedRequest, shop_id: int, body: GoodsIn):
    s = selectors.access_shop(request.user, shop_id)
    data = body.model_dump()
    stock = data.pop("stock")
    g = services.goods_save(shop=s, by=request.user, **data)
    if stock:
        g = services.goods_restock(goods=g, delta=stock, by=request.user, note=_("Initial stock"))
    return Status(201, _goods(g))


@router.patch("/points/goods/{goods_id}", response=GoodsOut, summary="Change goods: name, price, limits, on sale")
def goods_update(request: AuthedRequest, goods_id: int, body: GoodsPatch):
    g = selectors.access_goods(request.user, goods_id)
    changes = body.model_dump(exclude_unset=True)
    if any(v is None for k, v in changes.items() if k != "limit_per_person"):
        raise ValidationFailed(fields={k: _("required") for k, v in changes.items() if v is None})
    return _goods(services.goods_save(shop=g.shop, goods=g, by=request.user, **changes))


@router.post("/points/goods/{goods_id}/stock", response=GoodsOut, summary="Restock, or correct after a stock count")
def goods_stock(request: AuthedRequest, goods_id: int, body: StockIn):
    g = selectors.access_goods(request.user, goods_id)
    return _goods(services.goods_restock(goods=g, delta=body.delta, by=request.user, note=body.note, count=body.count))


@router.post(
    "/points/redemptions", response={201: RedemptionOut, 200: RedemptionOut}, summary="Redeem points for goods"
)
def redeem(request: AuthedRequest, body: RedeemIn):
    """At the counter, staff name the resident and the goods are handed over; a resident reserves for
    themself and picks up within the pickup days. Sold out, not enough points or a limit reached: 409."""
    goods = selectors.access_goods(request.user, body.goods_id)
    resident = _resident(request, body.resident_id) if body.resident_id else _me(request)
    r, created = services.redeem(
        goods=goods, resident=resident, quantity=body.quantity, by=request.user, key=body.idempotency_key
    )
    r = Redemption.objects.select_related("shop", "goods", "resident").get(pk=r.pk)
    return Status(201 if created else 200, _redemption(r, created, _balance(r.resident_id)))


@router.get("/points/redemptions", response=Page[RedemptionOut], summary="Redemptions: yours, or your shops' (staff)")
def redemptions(request: AuthedRequest, f: Query[StateIn], page: Query[PageParams]):
    qs = selectors.redemptions_for(request.user).select_related("shop", "goods", "resident")
    if f.state:
        qs = qs.filter(state=f.state)
    if f.resident_id:
        qs = qs.filter(resident_id=f.resident_id)
    return paginate(qs.order_by("-id"), page, convert=_redemption)


@router.post("/points/redemptions/{redemption_id}/collect", response=RedemptionOut, summary="Hand over a reservation")
def collect(request: AuthedRequest, redemption_id: int):
    r = services.redemption_collect(
        redemption=selectors.access_redemption(request.user, redemption_id), by=request.user
    )
    return _redemption(Redemption.objects.select_related("shop", "goods", "resident").get(pk=r.pk))


@router.post(
    "/points/redemptions/{redemption_id}/cancel", response=RedemptionOut, summary="Cancel: points and stock back"
)
def cancel(request: AuthedRequest, redemption_id: int, body: PointsDecideIn):
    r = services.redemption_cancel(
        redemption=selectors.access_redemption(request.user, redemption_id), by=request.user, reason=body.note
    )
    r = Redemption.objects.select_related("shop", "goods", "resident").get(pk=r.pk)
    return _redemption(r, balance=_balance(r.resident_id))


# --- recognition and reports ----------------------------------------------------------------------------


def _period(f: PeriodIn) -> tuple[dt.datetime | None, dt.datetime | None]:
    since, until, _y, _m = selectors.period_bounds(f.period, f.month)
    return since, until


@router.get(
    "/points/leaderboard", response=list[RankOut], summary="Who earned most, by grid, village or town and period"
)
def leaderboard(request: AuthedRequest, f: Query[PeriodIn]):
    since, until = _period(f)
    return selectors.leaderboard(selectors.board_place(request.user, f.node_id).path, since, until)


@router.get("/points/reports/summary", response=SummaryOut, summary="Points issued, spent, expired under a node")
def summary(request: AuthedRequest, f: Query[PeriodIn]):
    path = selectors.board_place(request.user, f.node_id).path
    if not selectors.reads_summary(request.user, path):
        raise NotFound()
    since, until = _period(f)
    return {**selectors.summary(path, since, until), "outstanding": selectors.outstanding(path)}


@router.post("/points/nominations", response={201: NominationOut}, summary="Nominate a good person (好人) of a month")
def nominate(request: AuthedRequest, body: NominateIn):
    # Within what the user may see of people (staff: their area; a resident: their own household), as
    # the page offers: ids must not be a way to learn the names of a village.
    resident = _resident(request, body.resident_id)
    y, m = (int(x) for x in body.month.split("-"))
    n = services.nominate(resident=resident, month=dt.date(y, m, 1), reason=body.reason, by=request.user)
    return Status(201, _nomination(Nomination.objects.select_related("resident").get(pk=n.pk)))


@router.get("/points/nominations", response=Page[NominationOut], summary="Good-person nominations in your area")
def nominations(request: AuthedRequest, f: Query[StateIn], page: Query[PageParams]):
    qs = selectors.nominations_for(request.user).select_related("resident")
    if f.state:
        qs = qs.filter(state=f.state)
    return paginate(qs.order_by("-month", "id"), page, convert=_nomination)


def _decide_nomination(request: AuthedRequest, nomination_id: int, select: bool) -> dict[str, Any]:
    n = selectors.nominations_for(request.user).filter(pk=nomination_id).select_related("resident").first()
    if n is None:
        raise NotFound(_("No such nomination."), code="points.nomination_not_found")
    services.nomination_decide(nomination=n, select=select, by=request.user)
    return _nomination(Nomination.objects.select_related("resident").get(pk=n.pk))


@router.post("/points/nominations/{nomination_id}/select", response=NominationOut, summary="Select as good person")
def nomination_select(request: AuthedRequest, nomination_id: int):
    return _decide_nomination(request, nomination_id, True)


@router.post("/points/nominations/{nomination_id}/pass", response=NominationOut, summary="Not selected this month")
def nomination_pass(request: AuthedRequest, nomination_id: int):
    return _decide_nomination(request, nomination_id, False)
