"""Notices (通知公告): published by a village, town or the county to a subtree of the tree (down to one
grid), for residents, staff or party members there; pinned or not, with an expiry and attachments; who
has read each one."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from org.models import Node, PathField


class Notice(models.Model):
    class State(models.TextChoices):
        DRAFT = "draft", _("draft")
        PUBLISHED = "published", _("published")
        WITHDRAWN = "withdrawn", _("withdrawn")

    node = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="notices", verbose_name=_("for the area of"))
    path = PathField(_("path"))
    title = models.CharField(_("title"), max_length=80)
    body = models.TextField(_("text"), max_length=5000)
    to_residents = models.BooleanField(_("for residents"), default=True)
    to_staff = models.BooleanField(_("for staff"), default=False)
    to_party = models.BooleanField(_("for party members"), default=False)
    pinned = models.BooleanField(_("pinned"), default=False)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.DRAFT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="notices", verbose_name=_("written by")
    )
    created_at = models.DateTimeField(_("written at"))
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    withdrawn_reason = models.CharField(_("reason for withdrawal"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("notice")
        verbose_name_plural = _("notices")
        ordering = ["-pinned", "-published_at", "-id"]
        indexes = [models.Index(fields=["state", "path"], name="notice_state_path")]
        constraints = [
            models.CheckConstraint(
                condition=Q(to_residents=True) | Q(to_staff=True) | Q(to_party=True), name="notice_has_audience"
            )
        ]

    def __str__(self) -> str:
        return self.title


class Attachment(models.Model):
    notice = models.ForeignKey(Notice, on_delete=models.CASCADE, related_name="attachments", verbose_name=_("notice"))
    file = models.FileField(_("file"), upload_to="notices/%Y/%m/")
    name = models.CharField(_("file name"), max_length=120)
    size = models.PositiveIntegerField(_("size"))

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.name


class Read(models.Model):
    """Someone opened a notice (once: the first time counts)."""

    notice = models.ForeignKey(Notice, on_delete=models.CASCADE, related_name="reads", verbose_name=_("notice"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("reader")
    )
    at = models.DateTimeField(_("read at"))

    class Meta:
        verbose_name = _("notice read")
        verbose_name_plural = _("notice reads")
        constraints = [models.UniqueConstraint(fields=["notice", "user"], name="notice_read_once")]

    def __str__(self) -> str:
        return f"{self.notice} · {self.user}"
