"""Personal-data duties (个人信息保护法): residents' correction and deletion requests and how they were answered,
each time a resident looked at or downloaded what the county holds about them, and which closed work orders
the retention rule has anonymised."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from org.models import PathField, Resident

TEXT_MAX = 1000


class DataRequest(models.Model):
    """A resident's request to correct or delete their personal data (个人信息保护法 第46、47条), and the answer."""

    class Kind(models.TextChoices):
        CORRECTION = "correction", _("correction")
        DELETION = "deletion", _("deletion")

    class State(models.TextChoices):
        OPEN = "open", _("open")
        DONE = "done", _("done")
        REFUSED = "refused", _("refused")

    resident = models.ForeignKey(
        Resident, on_delete=models.PROTECT, related_name="data_requests", verbose_name=_("resident")
    )
    path = PathField(_("path"), db_index=False)  # the resident's grid when filed: scoped lists need no join
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("filed by"),
    )
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    text = models.TextField(_("request"), max_length=TEXT_MAX)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.OPEN)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("handled by"),
    )
    handled_at = models.DateTimeField(_("handled"), null=True, blank=True)
    reply = models.TextField(_("reply"), max_length=TEXT_MAX, blank=True)
    created_at = models.DateTimeField(_("filed"))

    class Meta:
        verbose_name = _("personal data request")
        verbose_name_plural = _("personal data requests")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["path", "-id"], name="privacy_request_path"),
            models.Index(fields=["resident", "-id"], name="privacy_request_resident"),
        ]
        constraints = [
            # An answered request names who answered and when; an open one names nobody.
            models.CheckConstraint(
                condition=(Q(state="open", handled_by__isnull=True, handled_at__isnull=True))
                | (~Q(state="open") & Q(handled_by__isnull=False, handled_at__isnull=False)),
                name="privacy_request_handled_when_closed",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()} · {self.resident_id}"


class OwnDataAccess(models.Model):
    """A resident looked at (page) or downloaded (json) what the county holds about them. core's access log
    records only reads of someone else's numbers (core.audit), so one's own are recorded here."""

    class Channel(models.TextChoices):
        PAGE = "page", _("page")
        DOWNLOAD = "download", _("download")

    at = models.DateTimeField(_("time"), db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("user")
    )
    resident = models.ForeignKey(
        Resident, on_delete=models.PROTECT, related_name="own_data_accesses", verbose_name=_("resident")
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)

    class Meta:
        verbose_name = _("own data access")
        verbose_name_plural = _("own data accesses")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.user_id} {self.channel}"


class AnonymisedOrder(models.Model):
    """A closed work order whose personal fields the retention rule blanked, and when: the rule skips it
    next time (idempotent), and the record says what happened to the order."""

    order = models.OneToOneField(
        "workorders.WorkOrder", on_delete=models.CASCADE, related_name="+", verbose_name=_("work order")
    )
    at = models.DateTimeField(_("anonymised"))

    class Meta:
        verbose_name = _("anonymised work order")
        verbose_name_plural = _("anonymised work orders")

    def __str__(self) -> str:
        return f"{self.order_id} {self.at:%Y-%m-%d}"
