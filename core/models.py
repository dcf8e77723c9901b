from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class PersonalDataAccess(models.Model):
    """One row per read of an unmasked personal number, written in the request that read it."""

    class Field(models.TextChoices):
        ID_NUMBER = "id_number", _("ID number")
        PHONE = "phone", _("Phone number")

    at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("viewer")
    )
    resident = models.ForeignKey(
        # PROTECT: deleting a person must not erase the trail of who looked at them.
        "org.Resident",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="access_log",
        verbose_name=_("resident"),
    )
    # Whose number it was when it is no resident's on the register, as a stable reference:
    # "workorder:<tracking code>:caller", "sos:responder:<id>".
    subject = models.CharField(_("whose"), max_length=80, blank=True)
    field = models.CharField(_("field"), max_length=20, choices=Field.choices)
    channel = models.CharField(_("channel"), max_length=20)  # api / page / admin
    path = models.CharField(_("path"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("personal data access")
        verbose_name_plural = _("personal data accesses")
        ordering = ["-at"]
        indexes = [models.Index(fields=["resident", "-at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(resident__isnull=False) | ~models.Q(subject=""), name="access_log_names_whose"
            )
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.user} → {self.resident_id or self.subject} {self.field}"


class CalendarDay(models.Model):
    """An administrator's word on one day: it beats the chinese-calendar package (years it does not know
    yet, a county's own arrangements). See core.workcal."""

    date = models.DateField(_("date"), unique=True)
    is_workday = models.BooleanField(_("working day"))
    note = models.CharField(_("note"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("calendar override")
        verbose_name_plural = _("calendar overrides")
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.note}"


class Generation(models.Model):
    """A counter per kind of slowly changing data, bumped whenever it changes: server processes compare
    it with the one their in-memory copies were read under (core.memo)."""

    name = models.CharField(max_length=40, primary_key=True)
    value = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("cache generation")
        verbose_name_plural = _("cache generations")

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


class WorkerBeat(models.Model):
    """The last sign of life of each worker command (run_deadlines, run_sos, …), written by its loop
    (core.worker) at most every WORKER_HEARTBEAT_SECONDS; read by /health and the workers table
    (core.health). One row per command name: several processes of one command share it, and the row
    says that someone is doing that work."""

    name = models.CharField(_("worker"), max_length=60, unique=True)
    pid = models.PositiveIntegerField(_("process id"))
    host = models.CharField(_("host"), max_length=100)
    # Seconds between the beats it promised: the longer of the heartbeat period and its idle sleep.
    interval = models.FloatField(_("beat interval (s)"))
    started_at = models.DateTimeField(_("started"))
    last_beat = models.DateTimeField(_("last beat"))
    # Set when it stopped cleanly (SIGTERM, Ctrl-C); cleared by the next beat.
    stopped_at = models.DateTimeField(_("stopped"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    last_error_at = models.DateTimeField(_("last error at"), null=True, blank=True)

    class Meta:
        verbose_name = _("worker heartbeat")
        verbose_name_plural = _("worker heartbeats")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} {self.last_beat:%Y-%m-%d %H:%M:%S}"
