"""One-key call (一键呼叫): who is registered, who answers for them in which order, and the calls."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from org.models import PathField, Resident
from sos.states import Action, State


class CareProfile(models.Model):
    """A resident registered for one-key call, with what they need and who answers their calls."""

    class Reason(models.TextChoices):
        ELDERLY_ALONE = "elderly_alone", _("elderly living alone")
        DISABLED = "disabled", _("disabled")
        SERIOUSLY_ILL = "seriously_ill", _("seriously ill")
        OTHER = "other", _("other")

    resident = models.OneToOneField(Resident, on_delete=models.PROTECT, related_name="care", verbose_name=_("resident"))
    path = PathField(_("path"), db_index=True)  # the resident's grid: scoped lists and feeds filter on it
    reasons = models.JSONField(_("reasons"), default=list, blank=True)
    needs = models.TextField(_("needs"), blank=True, max_length=500)
    device_id = models.CharField(_("call device"), max_length=64, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("registered"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("care profile")
        verbose_name_plural = _("care profiles")
        ordering = ["path", "id"]
        constraints = [
            models.UniqueConstraint(fields=["device_id"], condition=~Q(device_id=""), name="care_device_unique"),
        ]

    def __str__(self) -> str:
        return str(self.resident)

    @property
    def reason_labels(self) -> list[str]:
        return [str(self.Reason(r).label) for r in self.reasons if r in self.Reason.values]


class Contact(models.Model):
    """A family member to tell when the resident calls."""

    profile = models.ForeignKey(
        CareProfile, on_delete=models.CASCADE, related_name="contacts", verbose_name=_("care profile")
    )
    name = models.CharField(_("name"), max_length=40)
    phone = models.CharField(_("phone"), max_length=20)
    relation = models.CharField(_("relation"), max_length=20, blank=True)
    sort = models.PositiveSmallIntegerField(_("sort order"), default=0)

    class Meta:
        verbose_name = _("emergency contact")
        verbose_name_plural = _("emergency contacts")
        ordering = ["profile", "sort", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.relation})"


class Responder(models.Model):
    """One rung of a resident's responder chain: alerted in `position` order until someone acknowledges."""

    class Kind(models.TextChoices):
        GRID_WORKER = "grid_worker", _("grid worker")
        PARTY_MEMBER = "party_member", _("linked party member")
        VOLUNTEER = "volunteer", _("volunteer")
        VILLAGE_DUTY = "village_duty", _("village duty")
        OTHER = "other", _("other")

    profile = models.ForeignKey(
        CareProfile, on_delete=models.CASCADE, related_name="chain", verbose_name=_("care profile")
    )
    position = models.PositiveSmallIntegerField(_("position"))
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="care_chain",
        verbose_name=_("user"),
    )
    name = models.CharField(_("name"), max_length=40)
    phone = models.CharField(_("phone"), max_length=20, blank=True)

    class Meta:
        verbose_name = _("responder")
        verbose_name_plural = _("responders")
        ordering = ["profile", "position"]
        constraints = [models.UniqueConstraint(fields=["profile", "position"], name="responder_position_unique")]

    def __str__(self) -> str:
        return f"{self.position}. {self.name}"


class Call(models.Model):
    class Kind(models.TextChoices):
        EMERGENCY = "emergency", _("emergency (red key)")
        SERVICE = "service", _("service need (green key)")

    class Channel(models.TextChoices):
        BUTTON = "button", _("resident's button")
        DEVICE = "device", _("call device")
        HOTLINE = "hotline", _("hotline operator")
        STAFF = "staff", _("raised by staff")

    class Stage(models.TextChoices):
        CHAIN = "chain", _("responder chain")
        VILLAGE = "village", _("village")
        CENTRE = "centre", _("command centre")

    profile = models.ForeignKey(
        CareProfile, on_delete=models.PROTECT, related_name="calls", verbose_name=_("care profile")
    )
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="+", verbose_name=_("resident"))
    path = PathField(_("path"), db_index=False)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    note = models.CharField(_("note"), max_length=500, blank=True)
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("raised by"),
    )
    # A device or a client retrying the same press sends the same key: one call.
    idempotency_key = models.CharField(_("idempotency key"), max_length=64, blank=True)
    # "u<user id>" or "d<device id>".
    key_owner = models.CharField(_("idempotency key owner"), max_length=80, blank=True)
    state = models.CharField(_("state"), max_length=20, choices=State.choices, default=State.RAISED)
    stage = models.CharField(_("escalation stage"), max_length=10, choices=Stage.choices, default=Stage.CHAIN)
    level = models.PositiveSmallIntegerField(_("escalation level"), default=0)  # alerts sent so far, minus one
    # The next rung, while nobody has acknowledged.
    escalate_at = models.DateTimeField(_("next escalation"), null=True, blank=True)
    responder = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("responder"),
    )
    raised_at = models.DateTimeField(_("raised"))
    acknowledged_at = models.DateTimeField(_("time acknowledged"), null=True, blank=True)
    departed_at = models.DateTimeField(_("time departed"), null=True, blank=True)
    arrived_at = models.DateTimeField(_("time arrived"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("time resolved"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("time cancelled"), null=True, blank=True)
    outcome = models.TextField(_("outcome"), blank=True, max_length=1000)
    minutes_spent = models.PositiveIntegerField(_("minutes spent"), null=True, blank=True)
    workorder = models.ForeignKey(
        "workorders.WorkOrder",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("work order"),
    )
    # Emergencies: the next day's visit is due.
    followup_at = models.DateTimeField(_("follow-up visit due"), null=True, blank=True)
    followed_up_at = models.DateTimeField(_("time followed up"), null=True, blank=True)
    followup_reminded = models.BooleanField(_("follow-up reminder sent"), default=False)

    class Meta:
        verbose_name = _("call")
        verbose_name_plural = _("calls")
        ordering = ["-raised_at", "-id"]
        indexes = [
            models.Index(fields=["escalate_at"], condition=Q(escalate_at__isnull=False), name="call_escalate_due"),
            models.Index(
                fields=["followup_at"],
                condition=Q(followup_at__isnull=False, followup_reminded=False),
                name="call_followup_due",
            ),
            models.Index(fields=["path", "-raised_at"], name="call_path_time"),
            models.Index(fields=["state", "-raised_at"], name="call_state_time"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["key_owner", "idempotency_key"], condition=~Q(idempotency_key=""), name="call_idempotency"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.resident_id} {self.kind} {self.state}"


class CallEvent(models.Model):
    """Everything that happens to a call, in order: the record, and the feed the live screens follow
    by id (Server-Sent Events read it from any process)."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="events", verbose_name=_("call"))
    path = PathField(_("path"), db_index=False)
    action = models.CharField(_("action"), max_length=20)
    from_state = models.CharField(_("from"), max_length=20, blank=True)
    to_state = models.CharField(_("to"), max_length=20, blank=True)
    level = models.PositiveSmallIntegerField(_("escalation level"), default=0)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("actor account"),
    )
    actor_label = models.CharField(_("actor"), max_length=80, blank=True)
    # Who was alerted (user ids) for an alert: their screens show the call.
    to_users = models.JSONField(_("alerted users"), default=list, blank=True)
    at = models.DateTimeField(_("at"))
    note = models.CharField(_("note"), max_length=500, blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True)

    class Meta:
        verbose_name = _("call event")
        verbose_name_plural = _("call events")
        ordering = ["id"]
        indexes = [models.Index(fields=["call", "id"], name="callevent_call_id")]

    def __str__(self) -> str:
        return f"{self.call_id} {self.action} {self.at:%H:%M:%S}"

    @property
    def action_label(self) -> str:
        return str(Action(self.action).label) if self.action in Action.values else self.action
