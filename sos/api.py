"""One-key call over the API: the register, raising a call (residents, call devices, hotline operators,
staff), the responder's steps, and the feed of what happened (by id, for screens that poll)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router
from ninja.responses import Status

from accounts.http import AuthedRequest
from catalog import selectors as catalog_selectors
from core.errors import NotFound, ValidationFailed
from core.schemas import DictSchema, Page, PageParams, QueryIn, StrictIn, paginate
from org.access import get_scope, residents_for
from org.selectors import whole_number
from sos import selectors, services
from sos.models import Call, CallEvent, CareProfile
from sos.selectors import responder_phone
from sos.states import OPEN_STATES, State

router = Router(tags=["one-key call"])

FEED_MAX = 200


# --- output ---------------------------------------------------------------------------------------------


class ResponderOut(DictSchema):
    position: int
    kind: str
    kind_label: str
    user_id: int | None
    name: str
    phone: str


class ContactOut(DictSchema):
    name: str
    phone: str
    relation: str


class ProfileOut(DictSchema):
    id: int
    resident_id: int
    resident_name: str
    path: str
    reasons: list[str]
    needs: str
    device_id: str
    is_active: bool
    chain: list[ResponderOut]
    contacts: list[ContactOut]


class ProfileRowOut(DictSchema):
    id: int
    resident_id: int
    resident_name: str
    reasons: list[str]
    is_active: bool


class CallEventOut(DictSchema):
    id: int
    call_id: int
    action: str
    from_state: str
    to_state: str
    level: int
    actor: str
    at: dt.datetime
    note: str
    to_users: list[int]


class CallOut(DictSchema):
    id: int
    resident_id: int
    resident_name: str
    path: str
    kind: str
    kind_label: str
    channel: str
    state: str
    state_label: str
    stage: str
    level: int
    note: str
    raised_at: dt.datetime
    escalate_at: dt.datetime | None
    responder_id: int | None
    responder_name: str | None
    acknowledged_at: dt.datetime | None
    arrived_at: dt.datetime | None
    resolved_at: dt.datetime | None
    outcome: str
    minutes_spent: int | None
    workorder_code: str | None
    followup_at: dt.datetime | None
    followed_up_at: dt.datetime | None


class CallDetailOut(CallOut):
    caller_phone: str = Field(description="Whole for the call's responders (each read logged), else masked")
    caller_phone_masked: bool
    caller_address: str = Field(description="Empty for those who do not see the caller's household")
    events: list[CallEventOut]
    actions: list[str]  # what the caller of this endpoint may do with the call now


class RaiseOut(DictSchema):
    call: CallDetailOut
    created: bool


def _call(c: Call) -> dict[str, Any]:
    return {
        "id": c.pk,
        "resident_id": c.resident_id,
        "resident_name": c.profile.resident.name,
        "path": c.path,
        "kind": c.kind,
        "kind_label": str(Call.Kind(c.kind).label),
        "channel": c.channel,
        "state": c.state,
        "state_label": str(State(c.state).label),
        "stage": c.stage,
        "level": c.level,
        "note": c.note,
        "raised_at": c.raised_at,
        "escalate_at": c.escalate_at,
        "responder_id": c.responder_id,
        "responder_name": str(c.responder) if c.responder_id else None,
        "acknowledged_at": c.acknowledged_at,
        "arrived_at": c.arrived_at,
        "resolved_at": c.resolved_at,
        "outcome": c.outcome,
        "minutes_spent": c.minutes_spent,
        "workorder_code": c.workorder.tracking_code if c.workorder is not None else None,
        "followup_at": c.followup_at,
        "followed_up_at": c.followed_up_at,
    }


def _event(e: CallEvent) -> dict[str, Any]:
    return {
        "id": e.pk, "call_id": e.call_id, "action": e.action, "from_state": e.from_state, "to_state": e.to_state,
        "level": e.level, "actor": e.actor_label, "at": e.at, "note": e.note, "to_users": e.to_users,
    }  # fmt: skip


def _detail(request: AuthedRequest, c: Call) -> dict[str, Any]:
    contact = selectors.caller_contact(request.user, c, channel="api", path=request.path)
    return {
        **_call(c),
        "caller_phone": contact["phone"],
        "caller_phone_masked": contact["phone_masked"],
        "caller_address": contact["address"],
        "events": [_event(e) for e in selectors.timeline(c)],
        "actions": services.call_actions(request.user, c),
    }


def _fresh(request: AuthedRequest, call_id: int) -> dict[str, Any]:
    return _detail(request, selectors.access_call(request.user, call_id))


def _profile(request: HttpRequest, p: CareProfile) -> dict[str, Any]:
    scope = get_scope(request.user)
    unmask = scope.unmask_phone(p.resident)
    contacts = list(p.contacts.all())
    where = {"field": "phone", "channel": "api", "path": request.path}
    return {
        "id": p.pk,
        "resident_id": p.resident_id,
        "resident_name": p.resident.name,
        "path": p.path,
        "reasons": p.reasons,
        "needs": p.needs,
        "device_id": p.device_id,
        "is_active": p.is_active,
        "chain": [
            {
                "position": r.position,
                "kind": r.kind,
                "kind_label": str(r.get_kind_display()),
                "user_id": r.user_id,
                "name": r.name,
                "phone": responder_phone(request.user, r, **where),
            }
            for r in p.chain.select_related("user").order_by("position")
        ],
        "contacts": [
            {
                "name": c.name,
                # Family numbers are the resident's personal data.
                "phone": whole_number(request.user, c.phone, allowed=unmask, resident=p.resident, **where),
                "relation": c.relation,
            }
            for c in contacts
        ],
    }


# --- input --------------------------------------------------------------------------------------------


class RegisterIn(StrictIn):
    resident_id: int = Field(..., ge=1)
    reasons: list[CareProfile.Reason] = Field(default_factory=list, max_length=4)
    needs: str = Field("", max_length=500)
    device_id: str = Field("", max_length=64)


class RungIn(StrictIn):
    user_id: int | None = Field(None, ge=1)
    name: str = Field("", max_length=40)
    phone: str = Field("", max_length=20)
    kind: str = Field("other", max_length=20)


class ChainIn(StrictIn):
    chain: list[RungIn] = Field(..., max_length=services.MAX_CHAIN)


class ContactIn(StrictIn):
    name: str = Field(..., min_length=1, max_length=40)
    phone: str = Field(..., min_length=5, max_length=20)
    relation: str = Field("", max_length=20)


class ContactsIn(StrictIn):
    contacts: list[ContactIn] = Field(..., max_length=services.MAX_CONTACTS)


class RaiseIn(StrictIn):
    kind: Call.Kind = Call.Kind.EMERGENCY
    resident_id: int | None = Field(None, ge=1, description="Whom the call is for (staff, hotline); omit for yourself")
    device_id: str = Field("", max_length=64, description="The call device pressed (call boxes)")
    channel: Call.Channel | None = None
    note: str = Field("", max_length=500)
    idempotency_key: str = Field("", max_length=64, description="The same key again returns the first call")


class ResolveIn(StrictIn):
    outcome: str = Field(..., min_length=1, max_length=1000)
    minutes_spent: int | None = Field(None, ge=0, le=1440)


class CallNoteIn(StrictIn):
    note: str = Field("", max_length=500)


class WorkorderIn(StrictIn):
    text: str = Field(..., min_length=2, max_length=2000)
    category: str = Field(..., max_length=20)


class CallFilter(QueryIn):
    state: State | None = None
    open: bool = False
    kind: Call.Kind | None = None


class FeedIn(QueryIn):
    after: int = Field(0, ge=0, description="The last event id the client has seen")


# --- the register -----------------------------------------------------------------------------------------


@router.get("/sos/profiles", response=Page[ProfileRowOut], summary="People registered for one-key call in your area")
def profiles(request: AuthedRequest, page: Query[PageParams]):
    qs = selectors.profiles_for(request.user).select_related("resident").order_by("path", "id")
    return paginate(
        qs, page,
        convert=lambda p: {
            "id": p.pk, "resident_id": p.resident_id, "resident_name": p.resident.name, "reasons": p.reasons,
            "is_active": p.is_active,
        },
    )  # fmt: skip


@router.post("/sos/profiles", response={201: ProfileOut}, summary="Register a resident for one-key call")
def register(request: AuthedRequest, body: RegisterIn):
    resident = residents_for(request.user).filter(pk=body.resident_id).select_related("household").first()
    if resident is None:
        raise NotFound(_("No such resident in your area."), code="resident.not_found")
    p = services.care_register(
        resident=resident, by=request.user, reasons=[str(r) for r in body.reasons], needs=body.needs,
        device_id=body.device_id,
    )  # fmt: skip
    return Status(201, _profile(request, selectors.access_profile(request.user, p.pk)))


@router.get("/sos/profiles/{profile_id}", response=ProfileOut, summary="One registration with its chain and contacts")
def profile(request: AuthedRequest, profile_id: int):
    return _profile(request, selectors.access_profile(request.user, profile_id))


@router.put("/sos/profiles/{profile_id}/chain", response=ProfileOut, summary="Set the responder chain, in order")
def set_chain(request: AuthedRequest, profile_id: int, body: ChainIn):
    p = selectors.access_profile(request.user, profile_id)
    # The service decides who may be named (services.chain_candidates): an unknown id and someone who
    # does not serve the resident's place are the same 422.
    services.chain_set(
        profile=p, by=request.user,
        rungs=[{"user_id": r.user_id, "name": r.name, "phone": r.phone, "kind": r.kind} for r in body.chain],
    )  # fmt: skip
    return _profile(request, selectors.access_profile(request.user, profile_id))


@router.put("/sos/profiles/{profile_id}/contacts", response=ProfileOut, summary="Set the family contacts")
def set_contacts(request: AuthedRequest, profile_id: int, body: ContactsIn):
    p = selectors.access_profile(request.user, profile_id)
    services.contacts_set(profile=p, by=request.user, contacts=[c.model_dump() for c in body.contacts])
    return _profile(request, selectors.access_profile(request.user, profile_id))


# --- calls --------------------------------------------------------------------------------------------------


@router.post("/sos/calls", response={201: RaiseOut, 200: RaiseOut}, summary="Raise a one-key call")
def raise_call(request: AuthedRequest, body: RaiseIn):
    """A resident calls for themselves; a call device sends its `device_id`; a hotline operator or staff
    name the resident. Retrying with the same `idempotency_key` (per device, or per user) returns the
    first call with status 200."""
    user = request.user
    if body.device_id:
        p = CareProfile.objects.select_related("resident").filter(device_id=body.device_id).first()
        channel = Call.Channel.DEVICE
    elif body.resident_id:
        p = CareProfile.objects.select_related("resident").filter(resident_id=body.resident_id).first()
        channel = body.channel or Call.Channel.STAFF
    else:
        p = CareProfile.objects.select_related("resident").filter(resident__user_id=user.pk).first()
        channel = Call.Channel.BUTTON
    if p is None:
        # The same answer for "not registered" and "not yours": ids must not be probed.
        raise NotFound(_("No such resident in your area."), code="resident.not_found")
    raised = services.call_raise(
        profile=p, kind=body.kind, channel=channel, by=user, note=body.note,
        idempotency_key=body.idempotency_key, device_id=body.device_id,
    )  # fmt: skip
    return Status(201 if raised.created else 200, {"call": _fresh(request, raised.call.pk), "created": raised.created})


@router.get("/sos/calls", response=Page[CallOut], summary="Calls you may see, newest first")
def calls(request: AuthedRequest, filters: Query[CallFilter], page: Query[PageParams]):
    qs = selectors.calls_for(request.user).select_related("profile__resident", "responder", "workorder")
    if filters.state:
        qs = qs.filter(state=filters.state)
    if filters.open:
        qs = qs.filter(state__in=OPEN_STATES)
    if filters.kind:
        qs = qs.filter(kind=filters.kind)
    return paginate(qs.order_by("-raised_at", "-id"), page, convert=_call)


@router.get("/sos/calls/{call_id}", response=CallDetailOut, summary="One call with everything that happened")
def call(request: AuthedRequest, call_id: int):
    return _fresh(request, call_id)


def _step(request: AuthedRequest, call_id: int, fn: Any, **kw: Any) -> dict[str, Any]:
    with transaction.atomic():
        c = selectors.access_call(request.user, call_id)
        fn(call=c, by=request.user, **kw)
    return _fresh(request, call_id)


@router.post("/sos/calls/{call_id}/acknowledge", response=CallDetailOut, summary="Take the call (接单)")
def acknowledge(request: AuthedRequest, call_id: int):
    return _step(request, call_id, services.call_acknowledge)


@router.post("/sos/calls/{call_id}/depart", response=CallDetailOut, summary="On the way")
def depart(request: AuthedRequest, call_id: int):
    return _step(request, call_id, services.call_depart)


@router.post("/sos/calls/{call_id}/arrive", response=CallDetailOut, summary="Arrived")
def arrive(request: AuthedRequest, call_id: int):
    return _step(request, call_id, services.call_arrive)


@router.post("/sos/calls/{call_id}/resolve", response=CallDetailOut, summary="Resolved, with what was done")
def resolve(request: AuthedRequest, call_id: int, body: ResolveIn):
    return _step(request, call_id, services.call_resolve, outcome=body.outcome, minutes_spent=body.minutes_spent)


@router.post("/sos/calls/{call_id}/cancel", response=CallDetailOut, summary="Take back a press, or cancel (staff)")
def cancel(request: AuthedRequest, call_id: int, body: CallNoteIn):
    return _step(request, call_id, services.call_cancel, note=body.note)


@router.post("/sos/calls/{call_id}/follow-up", response=CallDetailOut, summary="Record the next day's visit")
def follow_up(request: AuthedRequest, call_id: int, body: CallNoteIn):
    return _step(request, call_id, services.call_follow_up, note=body.note)


@router.post("/sos/calls/{call_id}/workorder", response=CallDetailOut, summary="Turn a service need into a work order")
def to_workorder(request: AuthedRequest, call_id: int, body: WorkorderIn):
    category = catalog_selectors.category_by_code(body.category)
    if category is None:
        raise ValidationFailed(fields={"category": [_("No such category.")]}, code="catalog.unknown_category")
    return _step(request, call_id, services.call_to_workorder, text=body.text, category=category)


@router.get("/sos/feed", response=list[CallEventOut], summary="What happened to the calls you may see, after an id")
def feed(request: AuthedRequest, q: Query[FeedIn]):
    """Up to 200 events after `after`, oldest first: a screen keeps the last id and asks again (the live
    stream sends the same events as they happen)."""
    visible = selectors.calls_for(request.user).values("pk")
    rows = CallEvent.objects.filter(id__gt=q.after, call_id__in=visible).order_by("id")[:FEED_MAX]
    return [_event(e) for e in rows]
