"""Disputes and mediation (矛盾纠纷一站式多元化解): a dispute case from discovery to settlement.

A case is found on a grid worker's patrol (排查), brought by a resident or a party member, turned from a work
order (which stays linked), or referred by the police or a court. Its parties are residents of the county or
outsiders (a name and a phone). The village's or town's mediation staff accept it and assign a mediator (people
registered as mediators of a village or town: 村调委会 members, 人民调解员, 乡贤, legal advisers, the town's 司法所),
who records sessions within a time limit (30 days from acceptance by default, extended with a reason) and, when
the parties agree, the agreement (调解协议书), whose keeping is checked by follow-up visits; a broken agreement
reopens the case. What the village cannot settle is referred to the town's justice office, legal aid, a court's
pre-litigation mediation, the police or the petition office, and followed until settled.

Every case records the level it was settled at (grid, village, town, county, outside): the 小事不出村 figures.
Who sees a case (mediation.selectors): its mediator, the mediators registered over its place, the residents
who are its parties (their own case), and whoever reported it (without the parties' numbers)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from org.models import Node, PathField, Resident


class Kind(models.TextChoices):
    NEIGHBOUR = "neighbour", _("neighbours")
    LAND = "land", _("land and homestead")
    FAMILY = "family", _("marriage and family")
    LABOUR = "labour", _("labour and wages")
    PROPERTY = "property", _("property and tenancy")
    TRAFFIC = "traffic", _("traffic")
    CONSUMER = "consumer", _("consumer")
    OTHER = "other", _("other dispute")


class Source(models.TextChoices):
    PATROL = "patrol", _("grid patrol (排查)")
    RESIDENT = "resident", _("brought by a resident")
    PARTY = "party", _("relayed by a party member")
    ORDER = "order", _("12345 or a work order")
    POLICE = "police", _("referred by the police")
    COURT = "court", _("referred by a court")


class Risk(models.TextChoices):
    LOW = "low", _("low risk")
    MEDIUM = "medium", _("medium risk")
    HIGH = "high", _("high risk")


class Level(models.TextChoices):
    """Where a dispute was settled: 小事不出村 (grid, village), 大事不出镇 (town), or further."""

    GRID = "grid", _("in the grid")
    VILLAGE = "village", _("in the village")
    TOWN = "town", _("in the town")
    COUNTY = "county", _("in the county")
    OUTSIDE = "outside", _("outside (court, police)")


IN_VILLAGE = (Level.GRID, Level.VILLAGE)
IN_TOWN = (Level.GRID, Level.VILLAGE, Level.TOWN)


class Mediator(models.Model):
    """Someone registered as a mediator of a village or a town: they see and handle the disputes of its area."""

    class Kind(models.TextChoices):
        COMMITTEE = "committee", _("village mediation committee (村调委会)")
        PEOPLES = "peoples", _("people's mediator (人民调解员)")
        SAGE = "sage", _("respected local (乡贤)")
        LEGAL = "legal", _("legal adviser")
        JUSTICE = "justice", _("town justice office (司法所)")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mediator_roles", verbose_name=_("login")
    )
    node = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="mediators", verbose_name=_("place"))
    path = PathField(_("path"))
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=40)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("registered"), auto_now_add=True)

    class Meta:
        verbose_name = _("mediator")
        verbose_name_plural = _("mediators")
        ordering = ["path", "name", "id"]
        constraints = [models.UniqueConstraint(fields=["user", "node"], name="mediator_once_per_place")]

    def __str__(self) -> str:
        return f"{self.name} · {self.node}"


class Case(models.Model):
    class State(models.TextChoices):
        REPORTED = "reported", _("reported")
        MEDIATING = "mediating", _("being mediated")
        AGREED = "agreed", _("agreement being kept")
        REFERRED = "referred", _("referred")
        SETTLED = "settled", _("settled")
        ENDED = "ended", _("mediation ended unsettled")
        DECLINED = "declined", _("not accepted")

    code = models.CharField(_("case number"), max_length=20, unique=True)
    kind = models.CharField(_("type of dispute"), max_length=12, choices=Kind.choices)
    title = models.CharField(_("title"), max_length=80)
    account = models.TextField(_("account"), max_length=2000)
    node = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="dispute_cases", verbose_name=_("place"))
    path = PathField(_("path"))
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    work_order = models.OneToOneField(
        "workorders.WorkOrder",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="dispute_case",
        verbose_name=_("work order"),
    )
    risk = models.CharField(_("risk"), max_length=8, choices=Risk.choices, default=Risk.LOW)
    red_flag = models.BooleanField(_("red flag: risk of violence or of a crime (民转刑)"), default=False)
    red_reason = models.CharField(_("why flagged"), max_length=300, blank=True)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.REPORTED)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("reported by")
    )
    created_at = models.DateTimeField(_("reported at"))
    key = models.CharField(_("idempotency key"), max_length=64, blank=True)
    mediator = models.ForeignKey(
        Mediator, null=True, blank=True, on_delete=models.PROTECT, related_name="cases", verbose_name=_("mediator")
    )
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)
    due_at = models.DateTimeField(_("time limit"), null=True, blank=True)
    warn_at = models.DateTimeField(_("warn at"), null=True, blank=True)
    warned = models.BooleanField(_("warned"), default=False)
    overdue = models.BooleanField(_("overdue"), default=False)
    next_check_at = models.DateTimeField(_("next check"), null=True, blank=True, db_index=True)
    extended_days = models.PositiveSmallIntegerField(_("days extended"), default=0)
    round = models.PositiveSmallIntegerField(_("round"), default=1)
    level = models.CharField(_("settled at"), max_length=8, choices=Level.choices, blank=True)
    settled_at = models.DateTimeField(_("settled at (time)"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("dispute case")
        verbose_name_plural = _("dispute cases")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["path", "created_at"], name="case_path_created"),
            models.Index(fields=["state", "red_flag"], name="case_state_flag"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["reported_by", "key"], condition=~Q(key=""), name="case_key_once"),
            models.CheckConstraint(condition=Q(red_flag=False) | ~Q(red_reason=""), name="case_red_flag_has_reason"),
            models.CheckConstraint(
                condition=~Q(state__in=("agreed", "settled")) | ~Q(level=""), name="case_settled_has_level"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.title}"


class Party(models.Model):
    class Side(models.TextChoices):
        APPLICANT = "applicant", _("applicant (申请人)")
        RESPONDENT = "respondent", _("respondent (被申请人)")
        OTHER = "other", _("other party")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="parties", verbose_name=_("case"))
    resident = models.ForeignKey(
        Resident, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("resident")
    )
    side = models.CharField(_("side"), max_length=10, choices=Side.choices)
    name = models.CharField(_("name"), max_length=40)
    phone = models.CharField(_("phone"), max_length=20, blank=True)

    class Meta:
        verbose_name = _("party")
        verbose_name_plural = _("parties")
        ordering = ["case", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["case", "resident"], condition=Q(resident__isnull=False), name="party_resident_once"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Session(models.Model):
    """A mediation session: when, where, who came, what was said."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="sessions", verbose_name=_("case"))
    held_on = models.DateField(_("date"))
    place = models.CharField(_("place"), max_length=100)
    attendees = models.CharField(_("who attended"), max_length=300)
    notes = models.TextField(_("notes"), max_length=3000)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("by"))
    at = models.DateTimeField(_("recorded at"))

    class Meta:
        verbose_name = _("mediation session")
        verbose_name_plural = _("mediation sessions")
        ordering = ["held_on", "id"]

    def __str__(self) -> str:
        return f"{self.case_id} {self.held_on}"


class Extension(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="extensions", verbose_name=_("case"))
    days = models.PositiveSmallIntegerField(_("days"))
    reason = models.CharField(_("reason"), max_length=300)
    due_before = models.DateTimeField(_("time limit before"))
    due_after = models.DateTimeField(_("time limit after"))
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("by"))
    at = models.DateTimeField(_("at"))

    class Meta:
        verbose_name = _("extension of the time limit")
        verbose_name_plural = _("extensions of the time limit")
        ordering = ["at", "id"]
        constraints = [models.CheckConstraint(condition=Q(days__gte=1), name="mediation_extension_positive")]

    def __str__(self) -> str:
        return f"{self.case_id} +{self.days}"


class Agreement(models.Model):
    """A mediation agreement (调解协议书): the facts and the terms the parties signed, one per round."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="agreements", verbose_name=_("case"))
    round = models.PositiveSmallIntegerField(_("round"))
    facts = models.TextField(_("facts and the dispute"), max_length=3000)
    terms = models.TextField(_("terms agreed"), max_length=3000)
    signed_on = models.DateField(_("signed on"))
    broken = models.BooleanField(_("broken"), default=False)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("by"))
    at = models.DateTimeField(_("recorded at"))

    class Meta:
        verbose_name = _("mediation agreement")
        verbose_name_plural = _("mediation agreements")
        ordering = ["case", "round"]
        constraints = [models.UniqueConstraint(fields=["case", "round"], name="agreement_once_per_round")]

    def __str__(self) -> str:
        return f"{self.case_id} #{self.round}"


class Scan(models.Model):
    """A photo of the signed agreement."""

    agreement = models.ForeignKey(
        Agreement, on_delete=models.CASCADE, related_name="scans", verbose_name=_("agreement")
    )
    file = models.FileField(_("signed copy"), upload_to="mediation/%Y/%m/")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("by"))
    at = models.DateTimeField(_("uploaded at"))

    class Meta:
        verbose_name = _("signed copy")
        verbose_name_plural = _("signed copies")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.file.name


class FollowUp(models.Model):
    """A visit to check an agreement is kept, due so many days after it was signed (30 and 90 by default)."""

    class State(models.TextChoices):
        PLANNED = "planned", _("planned")
        DUE = "due", _("due")
        KEPT = "kept", _("agreement kept")
        BROKEN = "broken", _("agreement broken")
        CANCELLED = "cancelled", _("no longer needed")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="follow_ups", verbose_name=_("case"))
    agreement = models.ForeignKey(
        Agreement, on_delete=models.CASCADE, related_name="follow_ups", verbose_name=_("agreement")
    )
    after_days = models.PositiveSmallIntegerField(_("days after signing"))
    due_at = models.DateTimeField(_("due"), db_index=True)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.PLANNED)
    notes = models.CharField(_("notes"), max_length=1000, blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("by"),
    )
    fired_at = models.DateTimeField(_("reminded at"), null=True, blank=True)
    done_at = models.DateTimeField(_("visited at"), null=True, blank=True)

    class Meta:
        verbose_name = _("follow-up visit")
        verbose_name_plural = _("follow-up visits")
        ordering = ["due_at", "id"]
        indexes = [models.Index(fields=["state", "due_at"], name="followup_state_due")]
        constraints = [
            models.UniqueConstraint(fields=["agreement", "after_days"], name="followup_once_per_agreement_day")
        ]

    def __str__(self) -> str:
        return f"{self.case_id} +{self.after_days}"


class Referral(models.Model):
    """A case handed to a unit outside the village's mediation, with what was done; the unit's result."""

    class Unit(models.TextChoices):
        JUSTICE = "justice", _("town justice office (司法所)")
        LEGAL_AID = "legal_aid", _("legal aid")
        COURT = "court", _("court pre-litigation mediation (诉前调解)")
        POLICE = "police", _("police")
        PETITION = "petition", _("petition office (信访)")

    class State(models.TextChoices):
        SENT = "sent", _("sent")
        SETTLED = "settled", _("settled there")
        UNSETTLED = "unsettled", _("not settled there")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="referrals", verbose_name=_("case"))
    unit = models.CharField(_("to"), max_length=10, choices=Unit.choices)
    done = models.TextField(_("what was done"), max_length=1000)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.SENT)
    result = models.TextField(_("result"), max_length=1000, blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("by"))
    at = models.DateTimeField(_("sent at"))
    result_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("result recorded by"),
    )
    result_at = models.DateTimeField(_("result at"), null=True, blank=True)

    class Meta:
        verbose_name = _("referral")
        verbose_name_plural = _("referrals")
        ordering = ["at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["case"], condition=Q(state="sent"), name="referral_one_open_per_case")
        ]

    def __str__(self) -> str:
        return f"{self.case_id} → {self.unit}"


class Event(models.Model):
    """What happened to a case, by whom, when: the case's history."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events", verbose_name=_("case"))
    action = models.CharField(_("action"), max_length=20)
    from_state = models.CharField(_("from"), max_length=10, blank=True)
    to_state = models.CharField(_("to"), max_length=10, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("by"),
    )
    at = models.DateTimeField(_("at"))

    class Meta:
        verbose_name = _("case event")
        verbose_name_plural = _("case events")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.case_id} {self.action}"
