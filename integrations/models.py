"""Other systems Gongzhi exchanges work with: 12345 hotline systems (their orders come in by file or by
push, their replies go back by file or webhook). Open311 needs no table of its own: its clients hold API
tokens, and what they file is a work order of channel "open311".
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from org.models import Node
from workorders.models import WorkOrder


class HotlineSource(models.Model):
    """A hotline system sending orders: its column mapping, its area and its push secret.

    Orders it sends are filed by its own account (`account`, a connected system's login that logs in
    nowhere), so the intake's idempotency applies to them as to anyone's: one order per hotline number.
    """

    name = models.CharField(_("name"), max_length=60)
    code = models.SlugField(
        _("code"), max_length=20, unique=True, help_text=_("Letters, digits, - and _; in the push URL.")
    )
    node = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="+", verbose_name=_("area"))
    account = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="hotline_source", verbose_name=_("account")
    )
    # {"columns": {field: column header}, "categories": {hotline's category: our category code},
    #  "units": {hotline's unit: department code or node code}}: integrations.hotline.FIELDS.
    mapping = models.JSONField(_("column mapping"), default=dict, blank=True)
    default_category = models.ForeignKey(
        "catalog.Category",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("category when none matches"),
    )
    secret = models.CharField(_("push secret"), max_length=80)
    # The secret before the last rotation, accepted for a day so the hotline can switch without a gap.
    previous_secret = models.CharField(_("previous push secret"), max_length=80, blank=True)
    rotated_at = models.DateTimeField(_("secret rotated"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    exported_until = models.DateTimeField(_("exported up to"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("hotline source")
        verbose_name_plural = _("hotline sources")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class HotlineOrder(models.Model):
    """A hotline's order number and the work order it became (by file or by push)."""

    class Via(models.TextChoices):
        FILE = "file", _("file")
        PUSH = "push", _("push")

    source = models.ForeignKey(HotlineSource, on_delete=models.PROTECT, related_name="orders", verbose_name=_("source"))
    number = models.CharField(_("hotline order number"), max_length=40)
    order = models.OneToOneField(
        WorkOrder, on_delete=models.CASCADE, related_name="hotline", verbose_name=_("work order")
    )
    unit_name = models.CharField(_("hotline's handling unit"), max_length=60, blank=True)
    deadline = models.DateTimeField(_("hotline's deadline"), null=True, blank=True)
    via = models.CharField(_("received by"), max_length=4, choices=Via.choices)
    received_at = models.DateTimeField(_("received"))

    class Meta:
        verbose_name = _("hotline order")
        verbose_name_plural = _("hotline orders")
        constraints = [models.UniqueConstraint(fields=["source", "number"], name="hotline_number_once")]

    def __str__(self) -> str:
        return f"{self.source_id}:{self.number}"


def import_path(instance: ImportRun, filename: str) -> str:
    return f"integrations/imports/{instance.created_at:%Y/%m}/{instance.source_id}-{instance.token}.bin"


class ImportRun(models.Model):
    """One hotline file being imported (or tried: a dry run), read by the `run_imports` worker so that
    the page shows its progress and a restart picks it up where it stopped (rows already imported are
    found again by their numbers)."""

    class State(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    source = models.ForeignKey(
        HotlineSource, on_delete=models.PROTECT, related_name="imports", verbose_name=_("source")
    )
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("by"))
    token = models.CharField(_("file key"), max_length=32, unique=True)
    file = models.FileField(_("file"), upload_to=import_path, max_length=200)
    filename = models.CharField(_("file name"), max_length=200)
    dry_run = models.BooleanField(_("dry run"), default=False)
    state = models.CharField(_("state"), max_length=8, choices=State.choices, default=State.QUEUED)
    total = models.PositiveIntegerField(_("rows"), default=0)
    done = models.PositiveIntegerField(_("rows read"), default=0)
    created = models.PositiveIntegerField(_("orders created"), default=0)
    existing = models.PositiveIntegerField(_("already there"), default=0)
    refused = models.PositiveIntegerField(_("rows refused"), default=0)
    # [{"line": 7, "number": "…", "reason": "…"}], the first MAX_ERRORS refused rows.
    errors = models.JSONField(_("refused rows"), default=list, blank=True)
    failure = models.CharField(_("why it stopped"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("uploaded"))
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    # When the worker looks at it next (claimed by core.worker.claim_due); null once finished.
    next_check_at = models.DateTimeField(_("next look"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("hotline import")
        verbose_name_plural = _("hotline imports")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["next_check_at"], condition=Q(next_check_at__isnull=False), name="import_due"),
        ]

    def __str__(self) -> str:
        return self.filename

    @property
    def percent(self) -> int:
        return int(self.done * 100 / self.total) if self.total else (100 if self.state == self.State.DONE else 0)
