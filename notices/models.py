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


class Event(models.Model):
    """一周活动预告: an event residents come to (送戏、送医、送教, a lecture, a clinic), at a service point or a
    place of the area, with a capacity for those who sign up to attend."""

    class Kind(models.TextChoices):
        SHOW = "show", _("show (送戏)")
        CLINIC = "clinic", _("clinic (送医)")
        TEACHING = "teaching", _("class (送教)")
        LECTURE = "lecture", _("lecture")
        OTHER = "other", _("other")

    class State(models.TextChoices):
        PUBLISHED = "published", _("published")
        CANCELLED = "cancelled", _("cancelled")

    node = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="events", verbose_name=_("for the area of"))
    path = PathField(_("path"))
    point = models.ForeignKey(
        "org.ServicePoint", on_delete=models.PROTECT, null=True, blank=True, related_name="events",
        verbose_name=_("service point"),
    )  # fmt: skip
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.OTHER)
    title = models.CharField(_("title"), max_length=80)
    description = models.TextField(_("description"), max_length=2000, blank=True)
    place = models.CharField(_("place"), max_length=120)
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    capacity = models.PositiveIntegerField(_("places"))
    taken = models.PositiveIntegerField(_("places taken"), default=0)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.PUBLISHED)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("published by")
    )
    created_at = models.DateTimeField(_("published at"))

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering = ["starts_at", "id"]
        indexes = [models.Index(fields=["path", "starts_at"], name="event_path_starts")]
        constraints = [
            models.CheckConstraint(condition=Q(taken__lte=models.F("capacity")), name="event_taken_within_capacity"),
            models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name="event_ends_after_start"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def left(self) -> int:
        return max(0, self.capacity - self.taken)


class Attendance(models.Model):
    """A resident signed up to attend an event (one place each); withdrawn gives the place back."""

    class State(models.TextChoices):
        SIGNED_UP = "signed_up", _("signed up")
        WITHDRAWN = "withdrawn", _("withdrawn")

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="attendances", verbose_name=_("event"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("who")
    )
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.SIGNED_UP)
    signed_at = models.DateTimeField(_("signed up at"))

    class Meta:
        verbose_name = _("attendance")
        verbose_name_plural = _("attendances")
        constraints = [models.UniqueConstraint(fields=["event", "user"], name="attendance_once")]

    def __str__(self) -> str:
        return f"{self.event} · {self.user}"
