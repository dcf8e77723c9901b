"""Work orders over the API: intake, the queues, every lifecycle step, and public tracking."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.db import transaction
from django.http import FileResponse, HttpRequest
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import Field, File, Form, Query, Router
from ninja.files import UploadedFile
from ninja.responses import Status

from accounts.http import AuthedRequest
from accounts.services import token_authenticate
from catalog import selectors as catalog_selectors
from catalog.models import Category, ServiceItem, Urgency
from core.errors import NotFound, PermissionDenied, ValidationFailed
from core.schemas import DictSchema, Page, PageParams, QueryIn, StrictIn, paginate
from org.models import Department, Node, Resident
from workorders import photos, selectors, services
from workorders.access import access_order, access_orders, orders_for, work_scope
from workorders.models import TEXT_MAX, Channel, Extension, Kind, Photo, Voice, WorkOrder
from workorders.services import Unit, routing
from workorders.states import State
from workorders.voice import voice_add, voice_prepare, voice_response

# An idempotency key, in the body or the Idempotency-Key header.
KEY_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{0,64}$")

router = Router(tags=["work orders"])

# Notes that are written for the resident: replies, an approved extension, a public note. Notes on other
# steps (a dispatcher's word to the unit, a callback's record, a return's reason) are for staff only,
# even where the step itself shows on the public timeline.
PUBLIC_NOTE_ACTIONS = frozenset({"resolve", "answer", "extension_approved", "note"})
# The resident also sees, on their own order, what it is waiting for and their own words.
OWNER_NOTE_ACTIONS = PUBLIC_NOTE_ACTIONS | {"suspend", "resume", "rate", "cancel"}

# Lists stop counting here (the page says "10,000+"): a county's history runs to millions of orders.
COUNT_CAP = 10_000

Text2000 = Field(..., min_length=1, max_length=2000)
Note = Field("", max_length=2000)


# --- output ---------------------------------------------------------------------------------------


class OrderRowOut(DictSchema):
    id: int
    tracking_code: str
    kind: str
    channel: str
    urgency: str
    state: str
    state_label: str
    title: str
    category_id: int
    category_name: str
    grid_id: int
    grid_name: str
    unit: str | None
    created_at: dt.datetime
    respond_by: dt.datetime | None
    due_at: dt.datetime | None
    overdue: bool
    respond_overdue: bool
    time_colour: str
    round: int


def _row(o: WorkOrder) -> dict[str, Any]:
    return {
        "id": o.pk,
        "tracking_code": o.tracking_code,
        "kind": o.kind,
        "channel": o.channel,
        "urgency": o.urgency,
        "state": o.state,
        "state_label": str(State(o.state).label),
        "title": o.title,
        "category_id": o.category_id,
        "category_name": o.category.name,
        "grid_id": o.grid_id,
        "grid_name": o.grid.name,
        "unit": o.department.name
        if o.department is not None
        else (o.unit_node.name if o.unit_node is not None else None),
        "created_at": o.created_at,
        "respond_by": o.respond_by,
        "due_at": o.due_at,
        "overdue": o.overdue,
        "respond_overdue": o.respond_overdue,
        "time_colour": selectors.time_colour(o),
        "round": o.round,
    }


class EventOut(DictSchema):
    id: int
    action: str
    from_state: str
    to_state: str
    actor: str
    at: dt.datetime
    note: str
    public: bool
    data: dict


class PhotoOut(DictSchema):
    id: int
    stage: str
    url: str
    width: int
    height: int


class VoiceOut(DictSchema):
    id: int
    url: str
    content_type: str
    size: int
    duration_s: float | None = Field(description="From the file where cheap (WAV, Ogg, MP4), else as the recorder said")


class GuessOut(DictSchema):
    category_code: str | None
    category_name: str | None
    category_confidence: float | None
    unit_confidence: float | None
    unit_from_model: bool
    model_version: int


def _guess(o: WorkOrder) -> dict[str, Any] | None:
    if o.model_version is None:
        return None
    c = o.suggested_category
    return {
        "category_code": c.code if c else None,
        "category_name": c.name if c else None,
        "category_confidence": o.category_confidence,
        "unit_confidence": o.unit_confidence,
        "unit_from_model": (o.unit_confidence or 0) >= routing.setting("SUGGEST_UNIT_AT"),
        "model_version": o.model_version,
    }


class OrderOut(OrderRowOut):
    text: str
    item_code: str | None
    form_data: dict
    address: str
    lat: Decimal | None
    lng: Decimal | None
    contact_name: str
    contact_phone: str
    anonymous: bool
    reply: str
    close_reason: str
    primary_code: str | None
    suggested_unit: str | None
    # The text model's guess (staff only; none before a model is trained).
    suggestion: GuessOut | None
    callback_required: bool
    resolved_at: dt.datetime | None
    closed_at: dt.datetime | None
    rate_by: dt.datetime | None
    actions: list[str]
    events: list[EventOut]
    photos: list[PhotoOut]
    voices: list[VoiceOut]


def _detail(request: HttpRequest, o: WorkOrder, *, fresh: bool = False) -> dict[str, Any]:
    """The order as `request.user` may see it. `fresh`: just created, so it has no photos yet."""
    ws = work_scope(request.user)
    staff = ws.is_staff
    phone = selectors.reporter_phone(o, viewer=request.user, channel="api", path=request.path)
    fresh_events = getattr(o, "fresh_events", None)
    events = (
        [e for e in fresh_events if staff or e.public]
        if fresh_events is not None
        else selectors.timeline(o, public=not staff)
    )
    out = _row(o)
    out.update(
        text=o.text,
        item_code=o.item.code if o.item is not None else None,
        form_data=o.form_data,
        address=o.address,
        lat=o.lat,
        lng=o.lng,
        contact_name=selectors.reporter_name(o, viewer=request.user),
        contact_phone=phone,
        anonymous=o.anonymous,
        reply=o.reply,
        close_reason=o.close_reason,
        primary_code=o.primary.tracking_code if o.primary is not None else None,
        suggested_unit=(
            o.suggested_department.name
            if o.suggested_department is not None
            else o.suggested_node.name
            if o.suggested_node is not None
            else None
        )
        if staff
        else None,
        suggestion=_guess(o) if staff else None,
        callback_required=o.callback_required,
        resolved_at=o.resolved_at,
        closed_at=o.closed_at,
        rate_by=o.rate_by,
        actions=selectors.available_actions(request.user, o),
        events=[
            {
                "id": e.pk,
                "action": e.action,
                "from_state": e.from_state,
                "to_state": e.to_state,
                "actor": e.actor_label if staff else selectors.public_actor(e, o),
                "at": e.at,
                "note": e.note if staff or e.action in OWNER_NOTE_ACTIONS else "",
                "public": e.public,
                "data": e.data if staff else {},
            }
            for e in events
        ],
        photos=[
            {"id": p.pk, "stage": p.stage, "url": _photo_url(p), "width": p.width, "height": p.height}
            for p in ([] if fresh else o.photos.all())
        ],
        voices=[_voice_out(v) for v in ([] if fresh else o.voices.all())],
    )
    return out


def _voice_out(v: Voice) -> dict[str, Any]:
    return {
        "id": v.pk,
        "url": reverse("api:workorder_voice", args=[v.order_id, v.pk]),
        "content_type": v.content_type,
        "size": v.size,
        "duration_s": v.duration_s,
    }


def _photo_url(p: Photo) -> str:
    """Photos are served by an API operation that checks who asks (a Bearer token or a session, the
    order's scope), never straight from the media folder. The pages use their own address for them."""
    return reverse("api:workorder_photo", args=[p.order_id, p.pk])


# --- input ----------------------------------------------------------------------------------------


class SubmitIn(StrictIn):
    kind: Kind
    category: str | None = Field(None, max_length=20, description="Category code")
    item: str | None = Field(None, max_length=20, description="Service item code (service orders)")
    title: str = Field("", max_length=80)
    text: str = Field(..., min_length=1, max_length=TEXT_MAX)
    channel: Channel = Channel.API
    urgency: Urgency = Urgency.NORMAL
    owner_id: int | None = Field(None, ge=1, description="The resident this is for (代办); omit for yourself")
    grid_id: int | None = Field(None, ge=1)
    lat: Decimal | None = Field(None, ge=-90, le=90, max_digits=9, decimal_places=6)
    lng: Decimal | None = Field(None, ge=-180, le=180, max_digits=9, decimal_places=6)
    address: str = Field("", max_length=200)
    contact_name: str = Field("", max_length=40)
    contact_phone: str = Field("", max_length=20, pattern=r"^(\d[\d-]{4,18}\d)?$")
    anonymous: bool = False
    form_data: dict[str, Any] = Field(default_factory=dict)
    idempotency_key: str = Field("", max_length=64, pattern=KEY_PATTERN.pattern)


class SimilarOut(DictSchema):
    id: int | None
    tracking_code: str | None
    title: str
    state: str
    distance_m: float | None
    created_at: dt.datetime


class SubmitOut(DictSchema):
    order: OrderOut
    created: bool
    similar: list[SimilarOut]


def _category(code: str | None) -> Category | None:
    if not code:
        return None
    c = catalog_selectors.category_by_code(code)
    if c is None:
        raise ValidationFailed(fields={"category": [_("No such category.")]}, code="catalog.unknown_category")
    return c


def _item(code: str | None) -> ServiceItem | None:
    if not code:
        return None
    i = catalog_selectors.published_item_by_code(code)
    if i is None:
        raise ValidationFailed(fields={"item": [_("No such service item.")]}, code="catalog.unknown_item")
    return i


def _similar(o: WorkOrder, user: Any) -> list[dict[str, Any]]:
    """Which orders they are (id, code, title) only for those who may see them: a resident, or staff
    near the edge of their area, only learn that the problem is already being handled."""
    return [
        {
            "id": s.pk if visible else None,
            "tracking_code": s.tracking_code if visible else None,
            "title": s.title if visible else s.category.name,
            "state": s.state,
            "distance_m": d,
            "created_at": s.created_at,
        }
        for s, d, visible in selectors.similar_for(user=user, order=o)
    ]


@router.post("/workorders", response={201: SubmitOut, 200: SubmitOut}, summary="Submit an appeal or service order")
def submit(request: AuthedRequest, body: SubmitIn):
    """A retried request with the same `idempotency_key` (or `Idempotency-Key` header) returns the
    first order with status 200 instead of making another."""
    key = body.idempotency_key or request.headers.get("Idempotency-Key", "")
    if not KEY_PATTERN.match(key):
        # The header obeys the body field's rule: a key cut or bent to fit would be another request's key.
        raise ValidationFailed(fields={"Idempotency-Key": [_("At most 64 letters, digits and _ . : -")]})
    owner = None
    if body.owner_id:
        owner = Resident.objects.select_related("household__grid").filter(pk=body.owner_id).first()
        if owner is None:
            # Word for word what the service answers for a resident outside the submitter's scope:
            # a different message would tell which ids exist.
            raise NotFound(_("No such resident in your area."), code="resident.not_found")
    grid = None
    if body.grid_id:
        grid = Node.objects.filter(pk=body.grid_id).first()
        if grid is None:
            # Word for word what the service answers for a grid outside the filer's area.
            raise NotFound(_("No such grid in your area."), code="node.not_found")
    result = services.workorder_submit(
        by=request.user,
        kind=body.kind,
        category=_category(body.category),
        item=_item(body.item),
        title=body.title,
        text=body.text,
        channel=body.channel,
        urgency=body.urgency,
        owner=owner,
        grid=grid,
        lat=body.lat,
        lng=body.lng,
        address=body.address,
        contact_name=body.contact_name,
        contact_phone=body.contact_phone,
        anonymous=body.anonymous,
        form_data=body.form_data,
        idempotency_key=key,
    )
    # The submitter may see what they just submitted: no second trip through the scope.
    o = result.order
    return Status(
        201 if result.created else 200,
        {
            "order": _detail(request, o, fresh=result.created),
            "created": result.created,
            "similar": _similar(o, request.user),
        },
    )


class OrderFilter(QueryIn):
    queue: Literal["", "dispatch", "handle", "callback", "extension"] = ""
    state: State | None = None
    category: str | None = Field(None, max_length=20)
    department: int | None = Field(None, ge=1)
    unit_node: int | None = Field(None, ge=1)
    node: int | None = Field(None, ge=1, description="Orders located under this node")
    overdue: bool | None = None
    channel: Channel | None = None
    kind: Kind | None = None
    mine: bool = False
    q: str = Field("", max_length=30)


@router.get("/workorders", response=Page[OrderRowOut], summary="Work orders in your scope, newest first")
def order_list(request: AuthedRequest, filters: Query[OrderFilter], page: Query[PageParams]):
    node_path = None
    if filters.node:
        node = Node.objects.filter(pk=filters.node).only("path").first()
        if node is None:
            raise ValidationFailed(fields={"node": [_("No such place in the tree.")]})
        node_path = node.path
    f = selectors.QueueFilter(
        queue=filters.queue,
        state=filters.state,
        category=_category(filters.category),
        department_id=filters.department,
        unit_node_id=filters.unit_node,
        overdue=filters.overdue,
        channel=filters.channel,
        kind=filters.kind,
        node_path=node_path,
        q=filters.q,
        mine=filters.mine,
    )
    return paginate(selectors.order_list(user=request.user, f=f), page, convert=_row, count_cap=COUNT_CAP)


# --- steps ----------------------------------------------------------------------------------------


class UnitIn(StrictIn):
    department_id: int | None = Field(None, ge=1)
    node_id: int | None = Field(None, ge=1)


def _unit(u: UnitIn | None) -> Unit:
    if u is None:
        raise ValidationFailed(fields={"to": [_("Choose a handling unit.")]})
    dept = Department.objects.filter(pk=u.department_id, is_active=True).first() if u.department_id else None
    node = Node.objects.filter(pk=u.node_id).first() if u.node_id else None
    if (u.department_id and dept is None) or (u.node_id and node is None):
        raise ValidationFailed(fields={"to": [_("No such handling unit.")]}, code="workorder.unknown_unit")
    return Unit(department=dept, node=node)


class DispatchIn(StrictIn):
    to: UnitIn
    assist: list[UnitIn] = Field(default_factory=list, max_length=5)
    note: str = Note
    category: str | None = Field(
        None, max_length=20, description="Category code: classify on the way (needed for an order to be classified)"
    )


class ReclassifyIn(StrictIn):
    category: str = Field(..., min_length=1, max_length=20, description="Category code")
    note: str = Note


class StepIn(StrictIn):
    note: str = Note


class ReasonIn(StrictIn):
    reason: str = Text2000


class ReturnIn(StrictIn):
    reason: str = Text2000
    suggest: UnitIn | None = None


class TransferIn(StrictIn):
    to: UnitIn
    note: str = Text2000


class ReplyIn(StrictIn):
    reply: str = Text2000


class RateIn(StrictIn):
    solved: bool
    satisfaction: int = Field(..., ge=1, le=5, description="5 非常满意 … 1 非常不满意")
    comment: str = Field("", max_length=500)


class CallbackIn(StrictIn):
    kind: Literal["callback", "spot_check"] = "callback"
    reached: bool
    solved: bool | None = None
    satisfaction: int | None = Field(None, ge=1, le=5)
    note: str = Field("", max_length=500)


class DuplicateIn(StrictIn):
    primary_id: int = Field(..., ge=1)


class ExtensionIn(StrictIn):
    days: int = Field(..., ge=1, le=30)
    reason: str = Field(..., min_length=1, max_length=500)


class DecideIn(StrictIn):
    approve: bool
    note: str = Field("", max_length=500)


class SuperviseIn(StrictIn):
    level: Literal["urge", "supervise"]
    note: str = Note


class NoteIn(StrictIn):
    note: str = Text2000
    public: bool = False


class BulkIn(StrictIn):
    ids: list[Annotated[int, Field(ge=1)]] = Field(..., min_length=1, max_length=100)
    to: UnitIn | None = Field(None, description="Omit to send each order to its suggested unit")


class ExtensionOut(DictSchema):
    id: int
    days: int
    reason: str
    status: str


def _step(request: HttpRequest, order_id: int, need: str, fn: Any, **kw: Any) -> dict[str, Any]:
    with transaction.atomic():
        order = access_order(request.user, order_id, need=need)
        fn(order=order, by=request.user, **kw)
    return _detail(request, access_order(request.user, order_id))


# Fixed paths under /workorders/ come before "/workorders/{order_id}": ninja matches routes in the order
# they are declared, and {order_id} matches any segment ("dispatch-bulk" included), which answered 405.
@router.post("/workorders/dispatch-bulk", response=list[OrderRowOut], summary="Dispatch several orders at once")
def dispatch_bulk(request: AuthedRequest, body: BulkIn):
    """All or nothing: an id you cannot see (or that does not exist) is a 404 naming it, and nothing is
    dispatched."""
    with transaction.atomic():
        try:
            orders = access_orders(request.user, body.ids, need="dispatch")
        except NotFound:
            # Which of the ids given are missing or not yours (one answer for both): the caller's own
            # numbers, so naming them tells nothing new.
            seen = set(orders_for(request.user).filter(pk__in=body.ids).values_list("pk", flat=True))
            missing = ", ".join(str(i) for i in dict.fromkeys(body.ids) if i not in seen)
            message = _("No order with these numbers in your area: %(ids)s.") % {"ids": missing}
            raise NotFound(message, fields={"ids": [message]}) from None
        done = services.workorder_dispatch_bulk(orders=orders, by=request.user, to=_unit(body.to) if body.to else None)
    return [_row(o) for o in done]


@router.get("/workorders/{order_id}", response=OrderOut, summary="One order with its timeline")
def order_detail(request: AuthedRequest, order_id: int):
    return _detail(request, access_order(request.user, order_id))


@router.post("/workorders/{order_id}/dispatch", response=OrderOut, summary="Dispatch (派单) to a unit")
def dispatch(request: AuthedRequest, order_id: int, body: DispatchIn):
    return _step(
        request,
        order_id,
        "dispatch",
        services.workorder_dispatch,
        to=_unit(body.to),
        assist=[_unit(a) for a in body.assist],
        note=body.note,
        category=_category(body.category),
    )


@router.post("/workorders/{order_id}/reclassify", response=OrderOut, summary="Put the order in another category")
def reclassify(request: AuthedRequest, order_id: int, body: ReclassifyIn):
    """A dispatcher's correction of the category (the next `dispatch_train` learns from it)."""
    category = _category(body.category)
    assert category is not None
    return _step(request, order_id, "dispatch", services.workorder_reclassify, category=category, note=body.note)


@router.post("/workorders/{order_id}/reassign", response=OrderOut, summary="Reassign to another unit")
def reassign(request: AuthedRequest, order_id: int, body: TransferIn):
    return _step(request, order_id, "dispatch", services.workorder_reassign, to=_unit(body.to), note=body.note)


@router.post("/workorders/{order_id}/transfer", response=OrderOut, summary="Transfer to the right unit (handler)")
def transfer(request: AuthedRequest, order_id: int, body: TransferIn):
    return _step(request, order_id, "handle", services.workorder_transfer, to=_unit(body.to), note=body.note)


@router.post("/workorders/{order_id}/accept", response=OrderOut, summary="Sign for (签收)")
def accept(request: AuthedRequest, order_id: int):
    return _step(request, order_id, "handle", services.workorder_accept)


@router.post("/workorders/{order_id}/return", response=OrderOut, summary="Return (退单) to the dispatcher")
def return_(request: AuthedRequest, order_id: int, body: ReturnIn):
    suggest = _unit(body.suggest) if body.suggest else None
    return _step(request, order_id, "handle", services.workorder_return, reason=body.reason, suggest=suggest)


@router.post("/workorders/{order_id}/start", response=OrderOut, summary="Start work")
def start(request: AuthedRequest, order_id: int, body: StepIn):
    return _step(request, order_id, "handle", services.workorder_start, note=body.note)


@router.post("/workorders/{order_id}/suspend", response=OrderOut, summary="Suspend while waiting for the resident")
def suspend(request: AuthedRequest, order_id: int, body: ReasonIn):
    return _step(request, order_id, "handle", services.workorder_suspend, reason=body.reason)


@router.post("/workorders/{order_id}/resume", response=OrderOut, summary="Resume work")
def resume(request: AuthedRequest, order_id: int, body: StepIn):
    return _step(request, order_id, "handle", services.workorder_resume, note=body.note)


@router.post("/workorders/{order_id}/resolve", response=OrderOut, summary="Resolve (办结) with a reply")
def resolve(request: AuthedRequest, order_id: int, body: ReplyIn):
    return _step(request, order_id, "handle", services.workorder_resolve, reply=body.reply)


@router.post("/workorders/{order_id}/answer", response=OrderOut, summary="Answer directly (dispatcher)")
def answer(request: AuthedRequest, order_id: int, body: ReplyIn):
    return _step(request, order_id, "dispatch", services.workorder_answer, reply=body.reply)


@router.post("/workorders/{order_id}/rate", response=OrderOut, summary="Rate (好差评), once per round")
def rate(request: AuthedRequest, order_id: int, body: RateIn):
    return _step(
        request,
        order_id,
        "rate",
        services.workorder_rate,
        solved=body.solved,
        satisfaction=body.satisfaction,
        comment=body.comment,
    )


@router.post("/workorders/{order_id}/callback", response=OrderOut, summary="Record a callback or spot check")
def callback(request: AuthedRequest, order_id: int, body: CallbackIn):
    return _step(
        request,
        order_id,
        "supervise",
        services.workorder_callback,
        kind=body.kind,
        reached=body.reached,
        solved=body.solved,
        satisfaction=body.satisfaction,
        note=body.note,
    )


@router.post("/workorders/{order_id}/reopen", response=OrderOut, summary="Reopen (重办)")
def reopen(request: AuthedRequest, order_id: int, body: ReasonIn):
    return _step(request, order_id, "dispatch", services.workorder_reopen, reason=body.reason)


@router.post("/workorders/{order_id}/rule-unreasonable", response=OrderOut, summary="Rule unreasonable (甄别)")
def rule_unreasonable(request: AuthedRequest, order_id: int, body: ReasonIn):
    return _step(request, order_id, "dispatch", services.workorder_rule_unreasonable, reason=body.reason)


@router.post("/workorders/{order_id}/close", response=OrderOut, summary="Close")
def close(request: AuthedRequest, order_id: int, body: StepIn):
    return _step(request, order_id, "dispatch", services.workorder_close, note=body.note)


@router.post("/workorders/{order_id}/duplicate", response=OrderOut, summary="Link as a duplicate of another order")
def duplicate(request: AuthedRequest, order_id: int, body: DuplicateIn):
    with transaction.atomic():
        order = access_order(request.user, order_id, need="dispatch")
        primary = access_order(request.user, body.primary_id)
        services.workorder_mark_duplicate(order=order, primary=primary, by=request.user)
    return _detail(request, access_order(request.user, order_id))


@router.post("/workorders/{order_id}/cancel", response=OrderOut, summary="Withdraw (before dispatch)")
def cancel(request: AuthedRequest, order_id: int, body: StepIn):
    return _step(request, order_id, "withdraw", services.workorder_cancel, reason=body.note)


@router.post("/workorders/{order_id}/extensions", response={201: ExtensionOut}, summary="Ask for more time (延期)")
def extension_request(request: AuthedRequest, order_id: int, body: ExtensionIn):
    with transaction.atomic():
        order = access_order(request.user, order_id, need="handle")
        ext = services.extension_request(order=order, by=request.user, days=body.days, reason=body.reason)
    return Status(201, ext)


@router.post("/workorders/{order_id}/extensions/{extension_id}/decide", response=OrderOut, summary="Approve or refuse")
def extension_decide(request: AuthedRequest, order_id: int, extension_id: int, body: DecideIn):
    with transaction.atomic():
        order = access_order(request.user, order_id, need="dispatch")
        ext = Extension.objects.filter(pk=extension_id, order=order).first()
        if ext is None:
            raise NotFound()
        services.extension_decide(extension=ext, by=request.user, approve=body.approve, note=body.note)
    return _detail(request, access_order(request.user, order_id))


@router.post("/workorders/{order_id}/supervise", response=OrderOut, summary="Urge (催办) or supervise (督办)")
def supervise(request: AuthedRequest, order_id: int, body: SuperviseIn):
    return _step(request, order_id, "supervise", services.workorder_supervise, level=body.level, note=body.note)


@router.post("/workorders/{order_id}/notes", response=OrderOut, summary="Add a note to the timeline")
def note(request: AuthedRequest, order_id: int, body: NoteIn):
    return _step(request, order_id, "note", services.workorder_note, note=body.note, public=body.public)


@router.post("/workorders/{order_id}/photos", response={201: PhotoOut}, summary="Add a photo (JPEG/PNG/WebP/GIF)")
def photo_upload(request: AuthedRequest, order_id: int, photo: File[UploadedFile], stage: Form[str] = "report"):
    order = access_order(request.user, order_id)
    ws = work_scope(request.user)
    if stage not in Photo.Stage.values:
        raise ValidationFailed(fields={"stage": [_("A photo is of the problem (report) or of the result (result).")]})
    if stage == Photo.Stage.REPORT:
        if not (ws.is_owner(order) or order.submitted_by_id == request.user.pk) or order.state in (
            State.CLOSED,
            State.CANCELLED,
        ):
            raise PermissionDenied()
    else:
        access_order(request.user, order_id, need="handle")
    p = photos.photo_add(order=order, by=request.user, upload=photo, stage=stage)
    return Status(201, {"id": p.pk, "stage": p.stage, "url": _photo_url(p), "width": p.width, "height": p.height})


@router.get(
    "/workorders/{order_id}/photos/{photo_id}",
    response={200: None},
    url_name="workorder_photo",
    summary="One photo of an order (JPEG)",
    openapi_extra={
        "responses": {
            200: {  # ninja keys responses by int: a "200" string would be a second, duplicate key
                "description": "The photo, re-encoded as JPEG without EXIF",
                "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
def photo_get(request: AuthedRequest, order_id: int, photo_id: int) -> FileResponse:
    """The `url` of a photo in the API's answers: the same token or session as any other call, and
    the order's scope (an order you cannot see, or a photo it does not have, is 404)."""
    return photos.photo_response(access_order(request.user, order_id), photo_id)


@router.post(
    "/workorders/{order_id}/voices",
    response={201: VoiceOut},
    summary="Add a voice message (WebM, Ogg, MP4/M4A, MP3 or WAV; at most 60 s)",
)
def voice_upload(request: AuthedRequest, order_id: int, voice: File[UploadedFile], duration_s: Form[str] = ""):
    """The resident's voice message (语音留言) on their own appeal, as the photo of the problem is: the owner
    or whoever filed it, while it is not closed. At most one per appeal (409 after). `duration_s`: the length
    the recorder measured, taken where the file does not tell it (WebM, MP3)."""
    order = access_order(request.user, order_id)
    ws = work_scope(request.user)
    if not (ws.is_owner(order) or order.submitted_by_id == request.user.pk) or order.state in (
        State.CLOSED,
        State.CANCELLED,
    ):
        raise PermissionDenied()
    prepared = voice_prepare(voice, declared=duration_s)
    return Status(201, _voice_out(voice_add(order=order, by=request.user, voice=prepared)))


@router.get(
    "/workorders/{order_id}/voices/{voice_id}",
    response={200: None},
    url_name="workorder_voice",
    summary="One voice message of an order",
    openapi_extra={
        "responses": {
            200: {
                "description": "The voice message as it was sent (its content type from its bytes)",
                "content": {"audio/*": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
def voice_get(request: AuthedRequest, order_id: int, voice_id: int) -> HttpResponseBase:
    """The `url` of a voice message in the API's answers: the order's scope, like photos (a single byte
    range is served, 206)."""
    return voice_response(request, access_order(request.user, order_id), voice_id)


@router.get("/workorders/{order_id}/similar", response=list[SimilarOut], summary="Open orders that look the same")
def similar(request: AuthedRequest, order_id: int):
    o = access_order(request.user, order_id, need="note")
    return _similar(o, request.user)


# --- public tracking ------------------------------------------------------------------------------
#
# What anyone holding a tracking code learns, without logging in (the page /track/<code>/ shows the same):
# the order's type, category and state, when it was submitted and is due, the handling unit's name, the
# order it was linked to as a duplicate, and the timeline of its public steps (what happened, when, and
# which unit or desk did it — never a clerk's name). Never free text: the reply and notes are written by
# staff for the resident and may name people, numbers and addresses, and a code travels (read out over
# the phone, written on paper, forwarded). The appeal's owner — or whoever filed it for them (代办) —
# recognised by their session or Bearer token, also reads the reply and the notes staff marked public.


class TrackEventOut(DictSchema):
    action: str
    state: str
    actor: str
    at: dt.datetime
    note: str = Field(description="Empty unless the caller owns the appeal (a note staff marked public)")


class TrackOut(DictSchema):
    tracking_code: str
    state: str
    state_label: str
    category_name: str
    created_at: dt.datetime
    due_at: dt.datetime | None
    unit: str | None = Field(description="The handling unit's name, once dispatched")
    reply: str = Field(description="Empty unless the caller owns the appeal (their session or token)")
    primary_code: str | None
    events: list[TrackEventOut]


def track_caller(request: HttpRequest) -> Any:
    """Who asks an operation open to everyone: a valid Bearer token's user, else the session's, else None."""
    scheme, _sep, raw = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and raw.strip():
        return token_authenticate(raw.strip())
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def reads_reply(user: Any, order: WorkOrder) -> bool:
    """May `user` read the free text of `order`'s tracking page: its owner, or whoever filed it for them."""
    if user is None:
        return False
    return work_scope(user).is_owner(order) or order.submitted_by_id == user.pk


def unit_name(order: WorkOrder) -> str | None:
    if order.department is not None:
        return order.department.name
    if order.unit_node is not None:
        return order.unit_node.name
    return None


@router.get("/track/{code}", response=TrackOut, auth=None, summary="Public progress of an order by tracking code")
def track(request: HttpRequest, code: str):
    """The state and the public timeline for anyone; the reply and the public notes only for the appeal's
    owner (or whoever filed it for them), recognised by session or Bearer token."""
    code = code.strip().upper()[:16]
    o = WorkOrder.objects.select_related("category", "primary").filter(tracking_code=code).first()
    if o is None:
        raise NotFound()
    shown = o.primary or o  # a duplicate's reporter follows the primary
    owner = reads_reply(track_caller(request), o)
    # A duplicate's reporter is told the primary's reply (as the service copies it to them at closing);
    # the notes on the primary were written for its own resident.
    notes = owner and shown.pk == o.pk
    events = selectors.timeline(shown, public=True)
    return {
        "tracking_code": o.tracking_code,
        "state": o.state,
        "state_label": str(State(o.state).label),
        "category_name": o.category.name,
        "created_at": o.created_at,
        "due_at": shown.due_at,
        "unit": unit_name(shown),
        "reply": shown.reply if owner else "",
        "primary_code": o.primary.tracking_code if o.primary is not None else None,
        "events": [
            {
                "action": e.action,
                "state": e.to_state,
                "actor": selectors.public_actor(e, shown),
                "at": e.at,
                "note": e.note if notes and e.action in PUBLIC_NOTE_ACTIONS else "",
            }
            for e in events
        ],
    }
