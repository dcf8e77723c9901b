"""The in-site inbox over the API: my messages newest first, the unread count, marking read. Each user sees
and marks only their own; another's message id is 404 and changes nothing.

Webhooks (/api/v1/webhooks…): the subscriptions of other systems, their secrets and delivery logs, for the
holders of Cap.INTEGRATIONS_MANAGE only (403 for others; a subscription outside one's area is 404).
(notify.webhooks)"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils.translation import gettext as _
from ninja import Field, Query, Router
from ninja.responses import Status

from accounts.http import AuthedRequest
from core.errors import NotFound, ValidationFailed
from core.schemas import DictSchema, Page, PageParams, StrictIn, paginate
from core.validation import REQUIRED
from notify import selectors, services, webhooks
from notify.models import Delivery, Message, Subscription
from org.models import Node

router = Router(tags=["inbox"])


class MessageOut(DictSchema):
    id: int
    kind: str
    text: str
    link: str
    channel: str
    created_at: dt.datetime
    read_at: dt.datetime | None


class UnreadOut(DictSchema):
    unread: int


class MarkedOut(DictSchema):
    marked: int


def _message(m: Message) -> dict[str, Any]:
    return {
        "id": m.pk,
        "kind": m.kind,
        "text": m.text,
        "link": m.link,
        "channel": m.channel,
        "created_at": m.created_at,
        "read_at": m.read_at,
    }


@router.get("/inbox", response=Page[MessageOut], summary="My messages, newest first")
def inbox(request: AuthedRequest, page: Query[PageParams]):
    return paginate(selectors.inbox_for(request.user).order_by("-id"), page, convert=_message, count_cap=10_000)


@router.get("/inbox/unread-count", response=UnreadOut, summary="How many of my messages are unread")
def unread_count(request: AuthedRequest):
    return {"unread": selectors.inbox_unread(request.user)}


@router.post("/inbox/read-all", response=MarkedOut, summary="Mark all my messages read")
def read_all(request: AuthedRequest):
    return {"marked": services.inbox_mark_read(user=request.user)}


@router.post("/inbox/{message_id}/read", response=MessageOut, summary="Mark one of my messages read")
def read_one(request: AuthedRequest, message_id: int):
    return _message(services.inbox_open(user=request.user, message_id=message_id))


# --- webhooks -------------------------------------------------------------------------------------------------

W = "/webhooks"
TAGS = ["webhooks"]


class WebhookOut(DictSchema):
    id: int
    name: str
    url: str
    events: list[str]
    node_id: int
    node: str
    secret: str = Field(description="Signs every delivery (core.signing); shown to its managers only")
    previous_secret_until: dt.datetime | None = Field(
        description="Until then the previous secret signs too (a second signature), after a rotation"
    )
    is_active: bool
    consecutive_failures: int
    disabled_at: dt.datetime | None
    disabled_reason: str
    created_at: dt.datetime


class WebhookIn(StrictIn):
    name: str = Field(..., max_length=webhooks.NAME_MAX)
    url: str = Field(..., max_length=webhooks.URL_MAX, description="http:// or https://; redirects are not followed")
    events: list[str] = Field(..., max_length=len(webhooks.EVENT_TYPES), description="Event types (/webhook-events)")
    node_id: int | None = Field(None, ge=1, description="The area whose events it hears of; default: all of yours")


class WebhookPatchIn(StrictIn):
    name: str | None = Field(None, max_length=webhooks.NAME_MAX)
    url: str | None = Field(None, max_length=webhooks.URL_MAX)
    events: list[str] | None = Field(None, max_length=len(webhooks.EVENT_TYPES))


class WebhookDisableIn(StrictIn):
    reason: str = Field("", max_length=300)


class WebhookEventOut(DictSchema):
    type: str
    label: str


class WebhookAttemptOut(DictSchema):
    at: dt.datetime
    status_code: int | None
    error: str
    duration_ms: int


class WebhookDeliveryOut(DictSchema):
    id: int
    event_id: str = Field(description="The same for every delivery of one event, redeliveries too")
    event_type: str
    data: dict[str, Any]
    state: str
    attempts: int
    created_at: dt.datetime
    next_attempt_at: dt.datetime | None
    delivered_at: dt.datetime | None
    last_status_code: int | None
    last_error: str
    attempt_log: list[WebhookAttemptOut]


def _webhook(s: Subscription) -> dict[str, Any]:
    return {
        "id": s.pk,
        "name": s.name,
        "url": s.url,
        "events": list(s.events),
        "node_id": s.node_id,
        "node": s.node.name,
        "secret": s.secret,
        "previous_secret_until": s.previous_until if s.previous_secret else None,
        "is_active": s.is_active,
        "consecutive_failures": s.consecutive_failures,
        "disabled_at": s.disabled_at,
        "disabled_reason": s.disabled_reason,
        "created_at": s.created_at,
    }


def _delivery(d: Delivery) -> dict[str, Any]:
    return {
        "id": d.pk,
        "event_id": d.event_id,
        "event_type": d.event_type,
        "data": d.payload,
        "state": d.state,
        "attempts": d.attempts,
        "created_at": d.created_at,
        "next_attempt_at": d.next_attempt_at,
        "delivered_at": d.delivered_at,
        "last_status_code": d.last_status_code,
        "last_error": d.last_error,
        "attempt_log": [
            {"at": a.at, "status_code": a.status_code, "error": a.error, "duration_ms": a.duration_ms}
            for a in d.attempt_log.all()
        ],
    }


def _fresh(s: Subscription) -> dict[str, Any]:
    return _webhook(Subscription.objects.select_related("node").get(pk=s.pk))


@router.get("/webhook-events", response=list[WebhookEventOut], tags=TAGS, summary="The events one may subscribe to")
def webhook_events(request: AuthedRequest):
    webhooks.require_manager(request.user)
    return [{"type": k, "label": str(v)} for k, v in webhooks.EVENT_TYPES.items()]


@router.get(W, response=Page[WebhookOut], tags=TAGS, summary="Webhook subscriptions of my area")
def webhook_list(request: AuthedRequest, page: Query[PageParams]):
    webhooks.require_manager(request.user)
    qs = webhooks.subscriptions_for(request.user).select_related("node").order_by("id")
    return paginate(qs, page, convert=_webhook)


@router.post(W, response={201: WebhookOut}, tags=TAGS, summary="Subscribe another system to events")
def webhook_create(request: AuthedRequest, body: WebhookIn):
    webhooks.require_manager(request.user)
    node = None
    if body.node_id is not None:
        node = Node.objects.filter(pk=body.node_id).first()
        if node is None:
            raise NotFound(_("No such place in your area."), code="node.not_found")
    s = webhooks.subscription_create(by=request.user, name=body.name, url=body.url, events=body.events, node=node)
    return Status(201, _fresh(s))


@router.get(f"{W}/{{subscription_id}}", response=WebhookOut, tags=TAGS, summary="A webhook subscription")
def webhook_detail(request: AuthedRequest, subscription_id: int):
    return _webhook(webhooks.access_subscription(request.user, subscription_id))


@router.patch(f"{W}/{{subscription_id}}", response=WebhookOut, tags=TAGS, summary="Change a subscription")
def webhook_update(request: AuthedRequest, subscription_id: int, body: WebhookPatchIn):
    s = webhooks.access_subscription(request.user, subscription_id)
    changes = body.model_dump(exclude_unset=True)
    if any(v is None for v in changes.values()):  # null is not a value any of them can take
        raise ValidationFailed(fields={k: [REQUIRED] for k, v in changes.items() if v is None})
    return _fresh(webhooks.subscription_update(subscription=s, by=request.user, **changes))


@router.delete(f"{W}/{{subscription_id}}", response={204: None}, tags=TAGS, summary="Remove a subscription")
def webhook_delete(request: AuthedRequest, subscription_id: int):
    s = webhooks.access_subscription(request.user, subscription_id)
    webhooks.subscription_delete(subscription=s, by=request.user)
    return Status(204, None)


@router.post(f"{W}/{{subscription_id}}/enable", response=WebhookOut, tags=TAGS, summary="Turn a subscription on")
def webhook_enable(request: AuthedRequest, subscription_id: int):
    s = webhooks.access_subscription(request.user, subscription_id)
    return _fresh(webhooks.subscription_enable(subscription=s, by=request.user))


@router.post(f"{W}/{{subscription_id}}/disable", response=WebhookOut, tags=TAGS, summary="Turn a subscription off")
def webhook_disable(request: AuthedRequest, subscription_id: int, body: WebhookDisableIn):
    s = webhooks.access_subscription(request.user, subscription_id)
    return _fresh(webhooks.subscription_disable(subscription=s, by=request.user, reason=body.reason))


@router.post(
    f"{W}/{{subscription_id}}/rotate-secret",
    response=WebhookOut,
    tags=TAGS,
    summary="A new secret (the old one signs too for a grace period)",
)
def webhook_rotate(request: AuthedRequest, subscription_id: int):
    s = webhooks.access_subscription(request.user, subscription_id)
    return _fresh(webhooks.subscription_rotate_secret(subscription=s, by=request.user))


@router.get(
    f"{W}/{{subscription_id}}/deliveries",
    response=Page[WebhookDeliveryOut],
    tags=TAGS,
    summary="The delivery log of a subscription, newest first, with every attempt",
)
def webhook_deliveries(request: AuthedRequest, subscription_id: int, page: Query[PageParams]):
    s = webhooks.access_subscription(request.user, subscription_id)
    return paginate(webhooks.deliveries_of(s), page, convert=_delivery, count_cap=10_000)


@router.post(
    f"{W}/deliveries/{{delivery_id}}/redeliver",
    response={201: WebhookDeliveryOut},
    tags=TAGS,
    summary="Send an event again (same event id)",
)
def webhook_redeliver(request: AuthedRequest, delivery_id: int):
    d = webhooks.access_delivery(request.user, delivery_id)
    new = webhooks.delivery_redeliver(delivery=d, by=request.user)
    return Status(201, _delivery(webhooks.deliveries_of(new.subscription).get(pk=new.pk)))
