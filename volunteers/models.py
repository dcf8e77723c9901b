"""Volunteer service (志愿服务): volunteers, their teams, activities with sign-up and check-in/out, and
the honour record of service hours that points never touch."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from org.models import Node, PathField, Resident, ServicePoint


class Volunteer(models.Model):
    resident = models.OneToOneField(
        Resident, on_delete=models.PROTECT, related_name="volunteer", verbose_name=_("resident")
    )
    path = PathField(_("path"))  # the grid they live in
    skills = models.JSONField(_("skills"), default=list, blank=True)
    availability = models.CharField(_("availability"), max_length=100, blank=True)
    joined_at = models.DateTimeField(_("joined"))
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("volunteer")
        verbose_name_plural = _("volunteers")
        ordering = ["path", "id"]

    def __str__(self) -> str:
        return str(self.resident)


class Team(models.Model):
    node = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="volunteer_teams", verbose_name=_("node"))
    path = PathField(_("path"))
    name = models.CharField(_("name"), max_length=60)
    description = models.CharField(_("description"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created"))
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("volunteer team")
        verbose_name_plural = _("volunteer teams")
        ordering = ["path", "id"]

    def __str__(self) -> str:
        return self.name


class TeamMember(models.Model):
    class Role(models.TextChoices):
        LEADER = "leader", _("team leader")
        MEMBER = "member", _("member")

    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="members")
    volunteer = models.ForeignKey(Volunteer, on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField(_("role"), max_length=6, choices=Role.choices, default=Role.MEMBER)
    joined_at = models.DateTimeField(_("joined"))
    left_at = models.DateTimeField(_("left"), null=True, blank=True)

    class Meta:
        verbose_name = _("team member")
        verbose_name_plural = _("team members")
        constraints = [
            models.UniqueConstraint(
                fields=["team", "volunteer"], condition=Q(left_at__isnull=True), name="volunteers_member_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.team_id} · {self.volunteer_id}"


class Activity(models.Model):
    class State(models.TextChoices):
        PUBLISHED = "published", pgettext_lazy("activity", "open")
        CANCELLED = "cancelled", pgettext_lazy("activity", "cancelled")
        FINISHED = "finished", _("finished")

    node = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="activities", verbose_name=_("organised by"))
    path = PathField(_("path"))
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.PROTECT, related_name="activities", verbose_name=_("team")
    )
    service_point = models.ForeignKey(
        ServicePoint, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("service point"),
    )  # fmt: skip
    title = models.CharField(_("title"), max_length=80)
    description = models.TextField(_("description"), max_length=1000, blank=True)
    place = models.CharField(_("place"), max_length=120)
    starts_at = models.DateTimeField(_("starts"), db_index=True)
    ends_at = models.DateTimeField(_("ends"))
    capacity = models.PositiveIntegerField(_("places"))
    rule = models.ForeignKey(
        "points.Rule", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("points rule")
    )
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.PUBLISHED)
    checkin_code = models.CharField(_("check-in code"), max_length=12, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("created by")
    )
    created_at = models.DateTimeField(_("created"))

    class Meta:
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        ordering = ["starts_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name="volunteers_activity_times"),
            models.CheckConstraint(condition=Q(capacity__gt=0), name="volunteers_activity_capacity"),
        ]

    def __str__(self) -> str:
        return self.title


class Participation(models.Model):
    class State(models.TextChoices):
        SIGNED_UP = "signed_up", _("signed up")
        WAITLISTED = "waitlisted", _("on the waiting list")
        WITHDRAWN = "withdrawn", _("withdrew")
        CHECKED_IN = "checked_in", _("checked in")
        CHECKED_OUT = "checked_out", _("checked out")
        DONE = "done", _("service recorded")
        NO_SHOW = "no_show", _("did not come")

    activity = models.ForeignKey(
        Activity, on_delete=models.PROTECT, related_name="participations", verbose_name=_("activity")
    )
    volunteer = models.ForeignKey(
        Volunteer, on_delete=models.PROTECT, related_name="participations", verbose_name=_("volunteer")
    )
    path = PathField(_("path"))  # the volunteer's grid
    state = models.CharField(_("state"), max_length=12, choices=State.choices)
    signed_at = models.DateTimeField(_("time signed up"))
    checkin_at = models.DateTimeField(_("check-in time"), null=True, blank=True)
    checkout_at = models.DateTimeField(_("check-out time"), null=True, blank=True)
    # The honour record: hours of service, fixed when the organiser rates the participation and never
    # deducted afterwards (spending or losing points does not touch it).
    hours = models.DecimalField(_("service hours"), max_digits=5, decimal_places=1, null=True, blank=True)
    rating = models.PositiveSmallIntegerField(_("rating"), null=True, blank=True)
    rated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("rated by"),
    )
    rated_at = models.DateTimeField(_("rated"), null=True, blank=True)
    claim = models.OneToOneField(
        "points.Claim",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="participation",
        verbose_name=_("points claim"),
    )

    class Meta:
        verbose_name = _("participation")
        verbose_name_plural = _("participations")
        ordering = ["activity", "signed_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["activity", "volunteer"], name="volunteers_participation_once"),
            models.CheckConstraint(condition=Q(rating__isnull=True) | Q(rating__lte=5), name="volunteers_rating_range"),
            models.CheckConstraint(condition=Q(hours__isnull=True) | Q(hours__gte=0), name="volunteers_hours_positive"),
        ]
        indexes = [models.Index(fields=["volunteer", "state"], name="volunteers_part_state")]

    def __str__(self) -> str:
        return f"{self.activity_id} · {self.volunteer_id} · {self.state}"
