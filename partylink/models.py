"""Party members at work in the households (党员联户): visits and the needs found on them, the history of
the links between members and households, and each village's visit plan.

A household's link itself (org.HouseholdLink, one member per household) stays in org, where access
control reads it; this app keeps what happens around it."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from org.models import Household, Node, PartyMember, PathField, Resident


class Visit(models.Model):
    """联户走访: a party member (or a grid worker, or village staff) called on a household."""

    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, related_name="visits", verbose_name=_("household")
    )
    path = PathField(_("path"), db_index=False)  # the household's grid: scoped lists and reports
    visitor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="party_visits", verbose_name=_("visitor")
    )
    # The member the visitor was, when they visited as the household's linked member (else staff).
    member = models.ForeignKey(
        PartyMember,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="visits",
        verbose_name=_("party member"),
    )
    visited_at = models.DateTimeField(_("visited at"))
    met = models.CharField(_("who was met"), max_length=100, blank=True)
    notes = models.TextField(_("what was found"), max_length=1000, blank=True)
    photo = models.FileField(_("photo"), upload_to="visits/%Y/%m/", blank=True)
    lat = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    lng = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    created_at = models.DateTimeField(_("logged at"))
    idempotency_key = models.CharField(_("idempotency key"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("household visit")
        verbose_name_plural = _("household visits")
        ordering = ["-visited_at", "-id"]
        indexes = [
            models.Index(fields=["household", "visited_at"], name="visit_household_at"),
            models.Index(fields=["path", "visited_at"], name="visit_path_at"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["visitor", "idempotency_key"], condition=~Q(idempotency_key=""), name="visit_idempotency_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.household} @ {self.visited_at:%Y-%m-%d}"


class Need(models.Model):
    """A need, problem or risk found on a visit, or brought to the member by a resident (双联双找). It ends
    settled on the spot or relayed as a work order (the order then tells how it ended)."""

    class Kind(models.TextChoices):
        NEED = "need", _("need")
        PROBLEM = "problem", _("problem")
        RISK = "risk", _("risk")

    class State(models.TextChoices):
        OPEN = "open", _("open")
        SETTLED = "settled", _("settled on the spot")
        RELAYED = "relayed", _("work order opened")

    visit = models.ForeignKey(
        Visit, on_delete=models.CASCADE, null=True, blank=True, related_name="needs", verbose_name=_("visit")
    )
    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, related_name="needs", verbose_name=_("household")
    )
    path = PathField(_("path"), db_index=False)
    resident = models.ForeignKey(
        Resident, on_delete=models.PROTECT, null=True, blank=True, related_name="needs", verbose_name=_("resident")
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.NEED)
    text = models.CharField(_("what is needed"), max_length=500)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.OPEN)
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="needs_raised", verbose_name=_("raised by")
    )
    asked = models.BooleanField(_("asked by the resident"), default=False)
    created_at = models.DateTimeField(_("found at"))
    order = models.OneToOneField(
        "workorders.WorkOrder", on_delete=models.PROTECT, null=True, blank=True, related_name="need",
        verbose_name=_("work order"),
    )  # fmt: skip
    outcome = models.CharField(_("how it was settled"), max_length=300, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("closed by"),
    )  # fmt: skip
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("need")
        verbose_name_plural = _("needs")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["path", "created_at"], name="need_path_at"),
            models.Index(fields=["household", "state"], name="need_household_state"),
        ]

    def __str__(self) -> str:
        return self.text[:40]


class LinkChange(models.Model):
    """The history of a household's link: who linked or unlinked it, to whom, when and why."""

    class Action(models.TextChoices):
        LINK = "link", _("linked")
        MOVE = "move", _("moved to another member")
        UNLINK = "unlink", _("unlinked")

    household = models.ForeignKey(
        Household, on_delete=models.CASCADE, related_name="link_changes", verbose_name=_("household")
    )
    path = PathField(_("path"), db_index=False)
    action = models.CharField(_("action"), max_length=10, choices=Action.choices)
    member = models.ForeignKey(
        PartyMember, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("party member")
    )
    previous = models.ForeignKey(
        PartyMember, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("previous member"),
    )  # fmt: skip
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    at = models.DateTimeField(_("at"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("link change")
        verbose_name_plural = _("link changes")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["household", "at"], name="linkchange_household_at")]

    def __str__(self) -> str:
        return f"{self.household} {self.get_action_display()} {self.at:%Y-%m-%d}"


class VisitPlan(models.Model):
    """How often each linked household of a village is to be visited (a village without a plan follows
    GONGZHI["PARTY"]'s default)."""

    class Period(models.TextChoices):
        MONTH = "month", _("month")
        QUARTER = "quarter", _("quarter")

    village = models.OneToOneField(Node, on_delete=models.CASCADE, related_name="visit_plan", verbose_name=_("village"))
    visits = models.PositiveSmallIntegerField(_("visits per household"))
    period = models.CharField(_("period"), max_length=10, choices=Period.choices)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("updated by"),
    )  # fmt: skip
    updated_at = models.DateTimeField(_("updated at"))

    class Meta:
        verbose_name = _("visit plan")
        verbose_name_plural = _("visit plans")
        constraints = [
            models.CheckConstraint(condition=Q(visits__gte=1, visits__lte=31), name="visitplan_visits_range")
        ]

    def __str__(self) -> str:
        return f"{self.village}: {self.visits}/{self.get_period_display()}"


class Project(models.Model):
    """领办实事: a practical project a party member leads for the households around them — proposed by the
    member or by village staff for a branch, approved by the village (its party secretary), with goals,
    beneficiaries, a budget, milestones and progress; its village's residents rate the result when done."""

    class State(models.TextChoices):
        PROPOSED = "proposed", _("proposed")
        APPROVED = "approved", _("under way")
        REJECTED = "rejected", _("not approved")
        DONE = "done", _("done")
        CANCELLED = "cancelled", _("cancelled")

    village = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="projects", verbose_name=_("village"))
    path = PathField(_("path"))
    title = models.CharField(_("title"), max_length=80)
    goals = models.TextField(_("goals"), max_length=2000)
    lead = models.ForeignKey(PartyMember, on_delete=models.PROTECT, related_name="projects", verbose_name=_("led by"))
    beneficiaries = models.ManyToManyField(
        Household, blank=True, related_name="projects", verbose_name=_("beneficiary households")
    )
    budget = models.DecimalField(_("budget (yuan)"), max_digits=12, decimal_places=2, default=0)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.PROPOSED)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("proposed by")
    )
    proposed_at = models.DateTimeField(_("proposed at"))
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("decided by"),
    )  # fmt: skip
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.CharField(_("decision note"), max_length=200, blank=True)
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)

    class Meta:
        verbose_name = _("practical project")
        verbose_name_plural = _("practical projects")
        ordering = ["-proposed_at", "-id"]
        indexes = [models.Index(fields=["path", "state"], name="project_path_state")]
        constraints = [
            models.CheckConstraint(condition=Q(budget__gte=0), name="project_budget_not_negative"),
            models.CheckConstraint(condition=Q(progress__lte=100), name="project_progress_percent"),
        ]

    def __str__(self) -> str:
        return self.title


class Milestone(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="milestones", verbose_name=_("project"))
    title = models.CharField(_("title"), max_length=80)
    due_on = models.DateField(_("due on"))
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)

    class Meta:
        verbose_name = _("milestone")
        verbose_name_plural = _("milestones")
        ordering = ["due_on", "id"]

    def __str__(self) -> str:
        return self.title


class ProjectUpdate(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="updates", verbose_name=_("project"))
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("by"))
    at = models.DateTimeField(_("at"))
    text = models.CharField(_("progress"), max_length=500)
    progress = models.PositiveSmallIntegerField(_("progress (%)"))
    photo = models.FileField(_("photo"), upload_to="projects/%Y/%m/", blank=True)

    class Meta:
        verbose_name = _("progress update")
        verbose_name_plural = _("progress updates")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return self.text[:40]


class ProjectRating(models.Model):
    """A resident of the village rates a finished project (once; rating again changes it)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="ratings", verbose_name=_("project"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("by"))
    stars = models.PositiveSmallIntegerField(_("rating"))
    comment = models.CharField(_("comment"), max_length=300, blank=True)
    at = models.DateTimeField(_("at"))

    class Meta:
        verbose_name = _("project rating")
        verbose_name_plural = _("project ratings")
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="project_rating_once"),
            models.CheckConstraint(condition=Q(stars__gte=1, stars__lte=5), name="project_rating_stars"),
        ]

    def __str__(self) -> str:
        return f"{self.project}: {self.stars}"
