"""The notification outbox: a message row is written in the same transaction as the change it tells
about, and `run_outbox` hands it to the gateway afterwards. Nothing is sent for a change that rolled
back, and nothing is lost when the sender crashes: an unsent row is simply picked up again.

Every message to a user account is also kept for their in-site inbox (/inbox/ and /api/v1/inbox), which is
what residents without SMS will read; the important staff notices go by SMS as well
(notify.services.IMPORTANT_KINDS).

Webhooks are an outbox too: another app's service publishes an event in its own transaction
(notify.webhooks.publish), which writes a Delivery for each subscription that wants it, and `run_webhooks`
POSTs them afterwards, retrying with backoff and logging every attempt.
"""

from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from org.models import PathField


class Message(models.Model):
    class Channel(models.TextChoices):
        SITE = "site", _("in-site inbox only")
        SMS = "sms", _("SMS and inbox")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="messages",
        verbose_name=_("recipient"),
    )
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    channel = models.CharField(_("channel"), max_length=5, choices=Channel.choices, default=Channel.SITE)
    kind = models.CharField(_("kind"), max_length=40)
    text = models.CharField(_("text"), max_length=500)
    link = models.CharField(_("link"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)
    # Delivery through the gateway (SMS); a site-only message is "sent" when written.
    send_after = models.DateTimeField(_("send after"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["send_after"], condition=Q(sent_at__isnull=True), name="message_unsent"),
            models.Index(fields=["user", "-id"], name="message_inbox"),
            # The header's unread count on every page: a count of this index's entries, not of the inbox.
            models.Index(fields=["user"], condition=Q(read_at__isnull=True), name="message_unread"),
        ]

    def __str__(self) -> str:
        return self.text[:40]


# --- webhooks: other systems of the county subscribe to events (notify.webhooks) ----------------------------


class Subscription(models.Model):
    """Another system (a 12345 hotline, a county's data platform) that is told of events by HTTP POST, signed
    with its secret (core.signing). It hears of the events of its area: the subtree of `node`."""

    name = models.CharField(_("name"), max_length=80)
    url = models.CharField(_("address"), max_length=500)
    secret = models.CharField(_("secret"), max_length=100)
    # After a rotation the old secret signs too (a second signature) until `previous_until`: the receiver
    # can change its key without losing a delivery.
    previous_secret = models.CharField(_("previous secret"), max_length=100, blank=True)
    previous_until = models.DateTimeField(_("previous secret valid until"), null=True, blank=True)
    events = models.JSONField(_("events"), default=list)
    node = models.ForeignKey("org.Node", on_delete=models.PROTECT, related_name="+", verbose_name=_("area"))
    path = PathField(_("path"))
    is_active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created"))
    consecutive_failures = models.PositiveIntegerField(_("failures in a row"), default=0)
    disabled_at = models.DateTimeField(_("disabled"), null=True, blank=True)
    disabled_reason = models.CharField(_("why disabled"), max_length=300, blank=True)
    # Removed by a manager: off and out of every list, but the row stays — another process may still queue a
    # delivery for it from its in-memory copy (core.memo) for a second, and that row must have its parent.
    removed_at = models.DateTimeField(_("removed"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook subscription")
        verbose_name_plural = _("webhook subscriptions")
        ordering = ["path", "id"]

    def __str__(self) -> str:
        return self.name


class Delivery(models.Model):
    """One event for one subscription. `next_attempt_at` is when the worker sends it (again): set while it is
    pending, empty once it is delivered or given up — and while its subscription is disabled (parked), so
    that the worker's claim reads the partial index of due rows only."""

    class State(models.TextChoices):
        PENDING = "pending", _("pending")
        DELIVERED = "delivered", _("delivered")
        FAILED = "failed", _("failed")

    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("subscription")
    )
    event_type = models.CharField(_("event"), max_length=40)
    # The same for every subscription and every redelivery of one event: receivers drop what they have seen.
    event_id = models.CharField(_("event id"), max_length=32)
    event_at = models.DateTimeField(_("event time"))
    payload = models.JSONField(_("data"), encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(_("created"))
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.PENDING)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(_("last status code"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-id"]
        indexes = [
            # The worker's claim: the most overdue pending delivery (core.worker.claim_due).
            models.Index(
                fields=["next_attempt_at", "id"], condition=Q(next_attempt_at__isnull=False), name="delivery_due"
            ),
            models.Index(fields=["subscription", "-id"], name="delivery_log"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"


class DeliveryAttempt(models.Model):
    """One POST of a delivery and what came back: the delivery log."""

    delivery = models.ForeignKey(
        Delivery, on_delete=models.CASCADE, related_name="attempt_log", verbose_name=_("delivery")
    )
    at = models.DateTimeField(_("time"))
    status_code = models.PositiveSmallIntegerField(_("status code"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=300, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)

    class Meta:
        verbose_name = _("delivery attempt")
        verbose_name_plural = _("delivery attempts")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.status_code or self.error[:40]}"
