"""Webhooks: other systems of the county (a 12345 hotline, a data platform) subscribe to events and are told of
each by a signed HTTP POST.

    if wanted("workorder.resolved"):                            # no query: from memory
        publish("workorder.resolved", {...}, path=order.path)  # in the service's own transaction

`publish` writes one Delivery per active subscription that wants the event — the same `event_id` for all, so a
receiver drops what it has seen — and `run_webhooks` (deliver_one) sends them after the commit: nothing is sent
for a change that rolled back, nothing is lost when the worker dies. A failed POST is retried with exponential
backoff up to MAX_ATTEMPTS; every attempt is logged with its status code (DeliveryAttempt). A subscription that
fails DISABLE_AFTER attempts in a row is turned off and its managers told (an important notice: SMS too); its
pending deliveries wait, and go when it is turned on again.

The body (UTF-8 JSON) and the headers a receiver checks:

    {"id": "<event id>", "type": "workorder.resolved", "created_at": "2026-11-02T09:00:00+08:00", "data": {...}}
    X-Gongzhi-Timestamp, X-Gongzhi-Signature   core.signing (two signatures while a rotated secret is honoured)
    X-Gongzhi-Event: workorder.resolved        X-Gongzhi-Delivery: <delivery id>

Who manages subscriptions: holders of Cap.INTEGRATIONS_MANAGE (org.policy), over the subtree of the
subscription's node; a subscription hears of the events of its subtree. Settings: GONGZHI["WEBHOOKS"].
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Prefetch, QuerySet
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import RoleAssignment, User, Viewer
from core import signing
from core.clock import SHANGHAI, aware, now
from core.errors import NotFound, PermissionDenied, ValidationFailed
from core.memo import bump, memo
from core.validation import REQUIRED, TOO_LONG, checked_text, has_nul
from core.worker import claim_due
from notify.gateways import HttpResult, http_post
from notify.models import Delivery, DeliveryAttempt, Subscription
from notify.services import message_queue
from org.access import paths_q
from org.models import Level, Node, path_ids
from org.policy import Cap, holders, under
from org.policy import paths as cap_paths

# The events other systems may subscribe to, with what a manager reads on the form.
EVENT_TYPES: dict[str, Promise] = {
    "workorder.submitted": _("A work order is submitted"),
    "workorder.dispatched": _("A work order is dispatched"),
    "workorder.resolved": _("A work order is resolved"),
    "workorder.rated": _("A work order is rated"),
    "workorder.closed": _("A work order is closed"),
    "sos.raised": _("A one-key call is raised"),
    "sos.escalated": _("A one-key call is escalated"),
    "sos.closed": _("A one-key call is closed"),
}

GENERATION = "webhooks"  # core.memo: which subscriptions want which events, bumped by every change to them
USER_AGENT = "Gongzhi-Webhooks/1"
EVENT_HEADER = "X-Gongzhi-Event"
DELIVERY_HEADER = "X-Gongzhi-Delivery"
NAME_MAX = 80
URL_MAX = 500
DISABLED_KIND = "webhook.disabled"  # notify.services.IMPORTANT_KINDS: the managers are texted too

DEFAULTS: dict[str, float] = {
    "TIMEOUT": 10,  # seconds for one POST (connecting, then the answer)
    "MAX_ATTEMPTS": 10,  # then the delivery is given up (failed); a manager may send it again
    "BACKOFF_SECONDS": 30,  # the wait after the first failure, doubled after each one ...
    "BACKOFF_MAX_SECONDS": 6 * 3600,  # ... up to this
    "DISABLE_AFTER": 20,  # failed attempts in a row (any deliveries) that turn a subscription off
    "LEASE_SECONDS": 60,  # a claimed delivery is the worker's this long (at least twice the timeout)
    "ROTATION_GRACE_HOURS": 24,  # after a secret is rotated, the old one signs too for this long
}


def conf(name: str) -> float:
    return float(settings.GONGZHI.get("WEBHOOKS", {}).get(name, DEFAULTS[name]))


def event_choices() -> list[tuple[str, Promise]]:
    return list(EVENT_TYPES.items())


# --- publishing (the hot path: called inside other apps' services) -------------------------------------------


def _subscribed() -> dict[str, tuple[tuple[int, str], ...]]:
    """Event type → the active subscriptions that want it, (id, path) each."""
    wanted: dict[str, list[tuple[int, str]]] = {}
    for pk, path, events in Subscription.objects.filter(is_active=True).values_list("id", "path", "events"):
        for event in events if isinstance(events, list) else ():
            wanted.setdefault(event, []).append((pk, path))
    return {event: tuple(subs) for event, subs in wanted.items()}


def _targets(event_type: str, path: str | None) -> list[int]:
    """The ids of the active subscriptions that want `event_type` at `path` (without one: those over a whole
    tree), from memory: no query but the memo's look at its counter, at most once a second."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type: {event_type!r}")
    targets = memo(GENERATION).get("subscribed", _subscribed).get(event_type, ())
    if path is None:
        return [pk for pk, where in targets if len(path_ids(where)) == 1]
    return [pk for pk, where in targets if path.startswith(where)]


def wanted(event_type: str, *, path: str | None = None) -> bool:
    """Whether any active subscription wants `event_type` (anywhere; with `path`, one whose area holds it): the
    caller builds a payload that costs queries only then. No query, like publish; unknown types raise
    ValueError."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type: {event_type!r}")
    if path is not None:
        return bool(_targets(event_type, path))
    return bool(memo(GENERATION).get("subscribed", _subscribed).get(event_type))


def publish(event_type: str, payload: dict[str, Any], *, at: dt.datetime | None = None, path: str | None = None) -> int:
    """Queue `event_type` with `payload` (a JSON object: dates, decimals and UUIDs are written as strings) for
    every active subscription that wants it, in the caller's transaction; returns how many deliveries. With
    `path` (the tree path of the event's place) only the subscriptions whose area holds it; without, only
    those over a whole tree (a root node).

    Runs no query when nobody wants the event: which subscriptions want what is kept in memory (core.memo,
    checked against the database at most once a second), so a subscription changed in another process is
    seen within that second. Unknown event types raise ValueError: a typo must not go silent."""
    if not isinstance(payload, dict):
        raise TypeError("a webhook payload is a dict")
    ids = _targets(event_type, path)
    if not ids:
        return 0
    t = now()
    event_id = uuid.uuid4().hex
    at = aware(at) if at is not None else t
    Delivery.objects.bulk_create(
        Delivery(
            subscription_id=pk,
            event_type=event_type,
            event_id=event_id,
            event_at=at,
            payload=payload,
            created_at=t,
            next_attempt_at=t,
        )
        for pk in ids
    )
    return len(ids)


# --- the worker ---------------------------------------------------------------------------------------------


def body_of(delivery: Delivery) -> bytes:
    """The bytes POSTed (and signed): compact UTF-8 JSON, Chinese as it is."""
    doc = {
        "id": delivery.event_id,
        "type": delivery.event_type,
        "created_at": delivery.event_at.astimezone(SHANGHAI).isoformat(),
        "data": delivery.payload,
    }
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def headers_for(subscription: Subscription, delivery: Delivery, body: bytes) -> dict[str, str]:
    ts = int(now().timestamp())
    headers = signing.sign(subscription.secret, body, timestamp=ts)
    if subscription.previous_secret and subscription.previous_until and subscription.previous_until > now():
        headers[signing.SIGNATURE_HEADER] += "," + signing.signature(subscription.previous_secret, ts, body)
    return {
        **headers,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_HEADER: delivery.event_type,
        DELIVERY_HEADER: str(delivery.pk),
    }


def backoff(failures: int) -> dt.timedelta:
    """The wait after the `failures`-th failed attempt of a delivery (1 → BACKOFF_SECONDS, doubling, capped)."""
    seconds = conf("BACKOFF_SECONDS") * 2 ** min(max(failures - 1, 0), 30)
    return dt.timedelta(seconds=min(seconds, conf("BACKOFF_MAX_SECONDS")))


def lease() -> dt.timedelta:
    # Longer than one POST can take (http_post stops reading at the timeout; connecting takes up to another).
    return dt.timedelta(seconds=max(conf("LEASE_SECONDS"), 2 * conf("TIMEOUT") + 5))


def deliver_one() -> bool:
    """One step of `run_webhooks`: POST the most overdue pending delivery; returns whether there was one.

    The delivery is claimed by a compare-and-set that moves its next_attempt_at a lease ahead
    (core.worker.claim_due): two workers never send it at once, and one killed after claiming leaves it to be
    sent after the lease. The POST runs outside any transaction and holds no lock; its outcome is written
    afterwards in one short transaction."""
    pk = claim_due(Delivery, lease(), field="next_attempt_at")
    if pk is None:
        return False
    if pk == 0:
        return True  # another worker took it; there may be more
    delivery = Delivery.objects.select_related("subscription").filter(pk=pk).first()
    if delivery is None or delivery.next_attempt_at is None:
        return True
    claimed_until = delivery.next_attempt_at
    subscription = delivery.subscription
    if not subscription.is_active or delivery.state != Delivery.State.PENDING:
        # Disabled meanwhile (or published from a stale copy): parked until it is enabled, which sends it.
        Delivery.objects.filter(pk=pk, next_attempt_at=claimed_until).update(next_attempt_at=None)
        return True
    body = body_of(delivery)
    result = http_post(subscription.url, body, headers_for(subscription, delivery, body), timeout=conf("TIMEOUT"))
    _record(delivery, claimed_until, result)
    return True


@transaction.atomic
def _record(delivery: Delivery, claimed_until: dt.datetime, result: HttpResult) -> None:
    t = now()
    DeliveryAttempt.objects.create(
        delivery_id=delivery.pk, at=t, status_code=result.status, error=result.error, duration_ms=result.duration_ms
    )
    sub_id = delivery.subscription_id
    if result.ok:
        Delivery.objects.filter(pk=delivery.pk).exclude(state=Delivery.State.DELIVERED).update(
            state=Delivery.State.DELIVERED,
            delivered_at=t,
            next_attempt_at=None,
            attempts=F("attempts") + 1,
            last_status_code=result.status,
            last_error="",
        )
        Subscription.objects.filter(pk=sub_id, consecutive_failures__gt=0).update(consecutive_failures=0)
        return
    failures = delivery.attempts + 1
    give_up = failures >= conf("MAX_ATTEMPTS")
    noted = {"attempts": F("attempts") + 1, "last_status_code": result.status, "last_error": result.error}
    # Still ours (the lease did not run out, the subscription was not disabled meanwhile): schedule it.
    if not Delivery.objects.filter(pk=delivery.pk, state=Delivery.State.PENDING, next_attempt_at=claimed_until).update(
        **noted,
        state=Delivery.State.FAILED if give_up else Delivery.State.PENDING,
        next_attempt_at=None if give_up else t + backoff(failures),
    ):
        Delivery.objects.filter(pk=delivery.pk, state=Delivery.State.PENDING).update(**noted)
    Subscription.objects.filter(pk=sub_id).update(consecutive_failures=F("consecutive_failures") + 1)
    in_a_row, active = Subscription.objects.filter(pk=sub_id).values_list("consecutive_failures", "is_active").get()
    if active and in_a_row >= conf("DISABLE_AFTER"):
        _auto_disable(sub_id, in_a_row, result.error, t)


def _auto_disable(sub_id: int, in_a_row: int, error: str, t: dt.datetime) -> None:
    reason = gettext("%(count)s failed attempts in a row; the last: %(error)s") % {"count": in_a_row, "error": error}
    if not Subscription.objects.filter(pk=sub_id, is_active=True).update(
        is_active=False, disabled_at=t, disabled_reason=reason[:300]
    ):
        return  # another worker turned it off first, and told the managers
    _park(sub_id)
    bump(GENERATION)
    sub = Subscription.objects.get(pk=sub_id)
    text = gettext(
        "Webhook “%(name)s” was turned off after %(count)s failed attempts in a row. Its deliveries wait until "
        "you turn it on again."
    ) % {"name": sub.name, "count": in_a_row}
    link = reverse("notify:webhook", args=[sub.pk])
    managers = (
        RoleAssignment.objects.filter(holders(Cap.INTEGRATIONS_MANAGE), node_id__in=path_ids(sub.path))
        .filter(user__is_active=True)
        .values_list("user_id", flat=True)
    )
    for user_id in sorted(set(managers)):
        message_queue(user_id=user_id, kind=DISABLED_KIND, text=text, link=link)


def _park(sub_id: int) -> None:
    """Pending deliveries of a disabled subscription wait without a time: the worker's claim does not see them."""
    Delivery.objects.filter(subscription_id=sub_id, state=Delivery.State.PENDING).update(next_attempt_at=None)


# --- who manages them (selectors) ----------------------------------------------------------------------------


def manage_paths(user: Viewer | None) -> tuple[str, ...]:
    """The subtrees over which `user` manages webhooks (Cap.INTEGRATIONS_MANAGE)."""
    if user is None or not user.is_authenticated:
        return ()
    return cap_paths(user, Cap.INTEGRATIONS_MANAGE)


def require_manager(user: Viewer) -> tuple[str, ...]:
    """The user's subtrees, or 403: someone without the capability is not told what exists."""
    where = manage_paths(user)
    if not where:
        raise PermissionDenied(code="webhook.forbidden")
    return where


def subscriptions_for(user: Viewer) -> QuerySet[Subscription]:
    """The subscriptions `user` manages (their areas lie in the user's subtrees); none without the capability."""
    where = manage_paths(user)
    if not where:
        return Subscription.objects.none()
    return Subscription.objects.filter(paths_q(where), removed_at__isnull=True)


def access_subscription(user: Viewer, subscription_id: int) -> Subscription:
    """A subscription the user manages: 403 without the capability; missing and not theirs the same 404."""
    where = require_manager(user)
    sub = Subscription.objects.filter(pk=subscription_id, removed_at__isnull=True).select_related("node").first()
    if sub is None or not under(where, sub.path):
        raise NotFound(_("No such webhook in your area."), code="webhook.not_found")
    return sub


def access_delivery(user: Viewer, delivery_id: int) -> Delivery:
    where = require_manager(user)
    d = Delivery.objects.filter(pk=delivery_id).select_related("subscription").first()
    if d is None or not under(where, d.subscription.path) or d.subscription.removed_at is not None:
        raise NotFound(_("No such delivery in your area."), code="webhook.delivery_not_found")
    return d


def deliveries_of(subscription: Subscription) -> QuerySet[Delivery]:
    """The delivery log of a subscription, newest first, each with its attempts (one query for all of a page)."""
    return (
        Delivery.objects.filter(subscription=subscription)
        .order_by("-id")
        .prefetch_related(Prefetch("attempt_log", queryset=DeliveryAttempt.objects.order_by("id")))
    )


def areas_for(user: Viewer) -> list[Node]:
    """The places a user may give a subscription: their subtrees' tops and the towns in them."""
    where = manage_paths(user)
    if not where:
        return []
    nodes = Node.objects.filter(paths_q(where), level__lte=Level.TOWN) | Node.objects.filter(path__in=where)
    return list(nodes.order_by("path")[:500])


# --- managing them (services) --------------------------------------------------------------------------------


def _invalid(fields: dict[str, Any], code: str) -> ValidationFailed:
    return ValidationFailed(code=code, fields={k: v if isinstance(v, list) else [v] for k, v in fields.items()})


def _check_url(url: str | None) -> str:
    from urllib.parse import urlsplit

    url = (url or "").strip()
    if not url:
        raise _invalid({"url": REQUIRED}, "webhook.bad_url")
    if has_nul(url) or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise _invalid({"url": _("Enter an address without spaces or control characters.")}, "webhook.bad_url")
    if len(url) > URL_MAX:
        raise _invalid({"url": TOO_LONG % {"limit_value": URL_MAX, "show_value": len(url)}}, "webhook.bad_url")
    if not url.isascii():
        # http.client sends the address as ASCII: a Chinese path or domain name would fail on every attempt.
        raise _invalid(
            {
                "url": _(
                    "Enter the address in ASCII: percent-encode a Chinese path, and give a Chinese domain as xn--…."
                )
            },
            "webhook.bad_url",
        )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not one
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise _invalid({"url": _("Enter an http:// or https:// address.")}, "webhook.bad_url")
    if parts.username is not None or parts.password is not None:
        raise _invalid(
            {"url": _("Leave the user name and password out of the address: the signature authenticates us.")},
            "webhook.bad_url",
        )
    return url


def _check_events(events: Any) -> list[str]:
    if not isinstance(events, list | tuple) or not all(isinstance(e, str) for e in events):
        raise _invalid({"events": _("Choose the events from the list.")}, "webhook.bad_events")
    unknown = sorted({e for e in events if e not in EVENT_TYPES})
    if unknown:
        raise _invalid(
            {"events": _("Unknown events: %(events)s.") % {"events": ", ".join(u[:40] for u in unknown[:5])}},
            "webhook.unknown_event",
        )
    if not events:
        raise _invalid({"events": _("Choose at least one event.")}, "webhook.no_events")
    return [e for e in EVENT_TYPES if e in set(events)]  # the list's order, each once


def _checked(**given: Any) -> dict[str, Any]:
    """The fields given, checked all at once: one refusal names every field that is wrong."""
    checkers = {
        "name": lambda v: checked_text(v, "name", max_len=NAME_MAX, line=True, code="webhook"),
        "url": _check_url,
        "events": _check_events,
    }
    out: dict[str, Any] = {}
    fields: dict[str, Any] = {}
    code = ""
    for name, value in given.items():
        try:
            out[name] = checkers[name](value)
        except ValidationFailed as exc:
            fields.update(exc.fields)
            code = code or exc.code
    if fields:
        raise ValidationFailed(code=code, fields=fields)
    return out


@transaction.atomic
def subscription_create(*, by: User, name: str, url: str, events: list[str], node: Node | None = None) -> Subscription:
    """A new subscription over `node` (by default the top of the manager's area), active, with a fresh secret."""
    where = require_manager(by)
    if node is None:
        node = Node.objects.filter(path=where[0]).first()
    if node is None or not under(where, node.path):
        raise NotFound(_("No such place in your area."), code="node.not_found")
    fields = _checked(name=name, url=url, events=events)
    sub = Subscription.objects.create(
        **fields, node=node, path=node.path, secret=signing.new_secret(), created_by=by, created_at=now()
    )
    bump(GENERATION)
    return sub


def _mine(by: User, subscription: Subscription) -> Subscription:
    """The subscription as it is now, locked for the change (403/404 as access_subscription)."""
    where = require_manager(by)
    sub = (
        Subscription.objects.select_for_update(no_key=True).filter(pk=subscription.pk, removed_at__isnull=True).first()
    )
    if sub is None or not under(where, sub.path):
        raise NotFound(_("No such webhook in your area."), code="webhook.not_found")
    return sub


@transaction.atomic
def subscription_update(
    *,
    subscription: Subscription,
    by: User,
    name: str | None = None,
    url: str | None = None,
    events: list[str] | None = None,
) -> Subscription:
    """Change what is given (the name, the address, the events); the rest stays."""
    sub = _mine(by, subscription)
    given = {k: v for k, v in {"name": name, "url": url, "events": events}.items() if v is not None}
    for field, value in _checked(**given).items():
        setattr(sub, field, value)
    if given:
        sub.save(update_fields=list(given))
        bump(GENERATION)
    return sub


@transaction.atomic
def subscription_enable(*, subscription: Subscription, by: User) -> Subscription:
    """Turn it on again: the failures are forgotten, and its waiting deliveries go now."""
    sub = _mine(by, subscription)
    if sub.is_active:
        return sub
    sub.is_active, sub.consecutive_failures, sub.disabled_at, sub.disabled_reason = True, 0, None, ""
    sub.save(update_fields=["is_active", "consecutive_failures", "disabled_at", "disabled_reason"])
    # All pending ones, leased or not: one parked by a worker that read the subscription before this commit
    # would otherwise wait for ever.
    Delivery.objects.filter(subscription=sub, state=Delivery.State.PENDING).update(next_attempt_at=now())
    bump(GENERATION)
    return sub


@transaction.atomic
def subscription_disable(*, subscription: Subscription, by: User, reason: str = "") -> Subscription:
    """Turn it off: nothing is sent to it, new events are not queued for it, pending deliveries wait."""
    sub = _mine(by, subscription)
    if not sub.is_active:
        return sub
    reason = checked_text(reason, "reason", max_len=300, line=True, min_len=0, code="webhook")
    sub.is_active, sub.disabled_at = False, now()
    sub.disabled_reason = reason or gettext("Turned off by %(name)s.") % {"name": by.display_name or by.username}
    sub.save(update_fields=["is_active", "disabled_at", "disabled_reason"])
    _park(sub.pk)
    bump(GENERATION)
    return sub


@transaction.atomic
def subscription_rotate_secret(*, subscription: Subscription, by: User) -> Subscription:
    """A new secret; the old one signs too (a second signature) for ROTATION_GRACE_HOURS, so the receiver can
    change its key without refusing a delivery."""
    sub = _mine(by, subscription)
    sub.previous_secret, sub.secret = sub.secret, signing.new_secret()
    sub.previous_until = now() + dt.timedelta(hours=conf("ROTATION_GRACE_HOURS"))
    sub.save(update_fields=["secret", "previous_secret", "previous_until"])
    return sub


@transaction.atomic
def subscription_delete(*, subscription: Subscription, by: User) -> int:
    """Remove it: turned off for good and gone from the lists and the API, its waiting deliveries dropped. The
    row stays (another process may queue a delivery for it from its in-memory copy for a second); returns its
    id."""
    sub = _mine(by, subscription)
    t = now()
    sub.is_active, sub.removed_at = False, t
    sub.disabled_at = sub.disabled_at or t
    sub.save(update_fields=["is_active", "removed_at", "disabled_at"])
    Delivery.objects.filter(subscription=sub, state=Delivery.State.PENDING).update(
        state=Delivery.State.FAILED, next_attempt_at=None, last_error=gettext("The webhook was removed.")[:300]
    )
    bump(GENERATION)
    return sub.pk


@transaction.atomic
def delivery_redeliver(*, delivery: Delivery, by: User) -> Delivery:
    """Send an event again (a receiver lost it, or it was given up): a new pending delivery with the same event
    id and data, so the receiver can tell it is the same event. For a disabled subscription it waits."""
    sub = _mine(by, delivery.subscription)
    t = now()
    return Delivery.objects.create(
        subscription=sub,
        event_type=delivery.event_type,
        event_id=delivery.event_id,
        event_at=delivery.event_at,
        payload=delivery.payload,
        created_at=t,
        next_attempt_at=t if sub.is_active else None,
    )
