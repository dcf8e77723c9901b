"""The notification outbox: a message row is written in the same transaction as the change it tells
about, and `run_outbox` hands it to the gateway afterwards. Nothing is sent for a change that rolled
back, and nothing is lost when the sender crashes: an unsent row is simply picked up again.

Every message to a user account is also kept for their in-site inbox (/inbox/ and /api/v1/inbox), which is
what residents without SMS will read; the important staff notices go by SMS as well
(notify.services.IMPORTANT_KINDS).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


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
