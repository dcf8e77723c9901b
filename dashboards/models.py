"""The command centre's numbers: rollups kept as orders change, and the monthly assessment.

Dashboards never scan the orders. A database trigger on every order change (and on its handling
assignments, ratings and callbacks) files the order's id in `Dirty`; the rollup worker (`run_rollups`)
recomputes what that order contributes (`Fact`), and adds the difference to the tallies of every unit
it counts for: its grid and each node above it, and its department — one row per day and one per month.
Reading a county's year is then 12 rows, a ranking of every village over a month one row per village.
`rollups_check` recounts everything from the orders and compares.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from org.models import Department, Node, PathField

# What an order adds to a unit's tally (see facts.py for when each is 1, indicators.py for the rates).
COUNTERS = (
    "total",  # orders submitted
    "excluded",  # ruled unreasonable or appeal approved (甄别): in the volumes, out of the rates
    "resp_due",  # had to be responded to: signed for, or past the response limit, or answered directly
    "resp_ok",  # responded to within the response limit
    "sign_due",  # dispatched and signed for, or past the sign-for limit
    "sign_ok",  # signed for within the limit
    "verdicts",  # a verdict on whether the problem was solved (rating or callback)
    "solved",  # that verdict: solved
    "rated",  # a satisfaction level given (rating or callback)
    "sat5",
    "sat4",
    "sat3",
    "sat2",
    "sat1",
    "handled",  # reached 办结 at least once
    "done",  # resolved now
    "on_time",  # resolved within the time limit
    "assigned",  # main-handler assignments (派单 to a unit)
    "returned",  # assignments the unit returned (退单)
    "reopened",  # reopened at least once (重办)
    "overdue",  # overdue now or when it was resolved
    "timed",  # resolved orders with a dispatch time
    "hours_x10",  # their handling time in working hours, ×10
    "open",  # not yet resolved, closed or cancelled (whatever the range: the board sums all of time)
    "open_overdue",  # open and past the time limit
    "urged",  # open and past the sign-for limit (催办)
)


class Period(models.TextChoices):
    DAY = "d", _("day")
    MONTH = "m", _("month")


class Tally(models.Model):
    """One unit's counters over one day or one month of submissions. Exactly one of node/department."""

    period = models.CharField(max_length=1, choices=Period.choices)
    start = models.DateField()
    node = models.ForeignKey(Node, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    department = models.ForeignKey(Department, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    level = models.PositiveSmallIntegerField(default=0)  # the node's level; 0 for a department
    path = PathField(db_index=False)  # the node's path, for scoped rankings

    total = models.BigIntegerField(default=0)
    excluded = models.BigIntegerField(default=0)
    resp_due = models.BigIntegerField(default=0)
    resp_ok = models.BigIntegerField(default=0)
    sign_due = models.BigIntegerField(default=0)
    sign_ok = models.BigIntegerField(default=0)
    verdicts = models.BigIntegerField(default=0)
    solved = models.BigIntegerField(default=0)
    rated = models.BigIntegerField(default=0)
    sat5 = models.BigIntegerField(default=0)
    sat4 = models.BigIntegerField(default=0)
    sat3 = models.BigIntegerField(default=0)
    sat2 = models.BigIntegerField(default=0)
    sat1 = models.BigIntegerField(default=0)
    handled = models.BigIntegerField(default=0)
    done = models.BigIntegerField(default=0)
    on_time = models.BigIntegerField(default=0)
    assigned = models.BigIntegerField(default=0)
    returned = models.BigIntegerField(default=0)
    reopened = models.BigIntegerField(default=0)
    overdue = models.BigIntegerField(default=0)
    timed = models.BigIntegerField(default=0)
    hours_x10 = models.BigIntegerField(default=0)
    open = models.BigIntegerField(default=0)
    open_overdue = models.BigIntegerField(default=0)
    urged = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["node", "period", "start"], condition=Q(department__isnull=True), name="tally_node"
            ),
            models.UniqueConstraint(
                fields=["department", "period", "start"], condition=Q(node__isnull=True), name="tally_department"
            ),
            models.CheckConstraint(condition=Q(node__isnull=True) ^ Q(department__isnull=True), name="tally_one_unit"),
        ]
        indexes = [models.Index(fields=["level", "period", "start"], name="tally_level")]

    def __str__(self) -> str:
        return f"{self.period} {self.start} {self.node_id or 'd' + str(self.department_id)}"


class Volume(models.Model):
    """Orders submitted per day by channel (c), type (k) and top category (g), for every node above the
    grids and every department (a grid's few orders are counted from the orders themselves)."""

    start = models.DateField()
    node = models.ForeignKey(Node, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    department = models.ForeignKey(Department, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    dim = models.CharField(max_length=1)
    value = models.CharField(max_length=20)
    n = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["node", "start", "dim", "value"], condition=Q(department__isnull=True), name="volume_node"
            ),
            models.UniqueConstraint(
                fields=["department", "start", "dim", "value"],
                condition=Q(node__isnull=True),
                name="volume_department",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.start} {self.dim}={self.value} {self.n}"


class Fact(models.Model):
    """What one order adds to the tallies now: kept so that a change subtracts exactly what was added."""

    order_id = models.BigIntegerField(primary_key=True)
    data = models.JSONField()

    def __str__(self) -> str:
        return str(self.order_id)


class Dirty(models.Model):
    """Orders changed since the worker last looked (filled by database triggers; see migration 0002).
    `seq` grows with every change, so the worker clears only the changes it has read."""

    order_id = models.BigIntegerField(primary_key=True)
    seq = models.BigIntegerField(default=1)

    def __str__(self) -> str:
        return f"{self.order_id}#{self.seq}"


class WorkerLock(models.Model):
    """One row; a rollup pass holds it locked, so that two workers never add the same change twice."""

    id = models.PositiveSmallIntegerField(primary_key=True)
    passes = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"passes {self.passes}"


# --- 甄别申诉: a unit's appeal that an order be left out of its rates --------------------------------


class Exemption(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        APPROVED = "approved", _("approved")
        REFUSED = "refused", _("refused")

    order = models.ForeignKey(
        "workorders.WorkOrder", on_delete=models.CASCADE, related_name="exemptions", verbose_name=_("work order")
    )
    department = models.ForeignKey(
        Department, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("department")
    )
    reason = models.TextField(_("reason"), max_length=1000)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("requested by")
    )
    requested_at = models.DateTimeField(_("requested"))
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decision_note = models.CharField(_("decision note"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("assessment appeal")
        verbose_name_plural = _("assessment appeals")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["order"], condition=Q(status="pending"), name="one_pending_exemption")
        ]

    def __str__(self) -> str:
        return f"{self.order_id} {self.status}"


# --- assessment schemes and monthly results ------------------------------------------------------


class Group(models.TextChoices):
    """分类考核: units of one kind are ranked against each other only."""

    DEPARTMENT = "department", _("departments")
    TOWN = "town", _("towns")
    VILLAGE = "village", _("villages")


class Scheme(models.Model):
    """An assessment scheme. Never edited once used: a change is a new version, valid from a month."""

    version = models.PositiveIntegerField(_("version"), unique=True)
    name = models.CharField(_("name"), max_length=80)
    valid_from = models.DateField(_("valid from (month)"))
    # Indicator → weight (points out of the total); the default is 30/35/35 for the three rates.
    weights = models.JSONField(_("weights"))
    basic_weight = models.DecimalField(
        _("weight of 'basically satisfied'"), max_digits=3, decimal_places=2, default=0.6
    )
    note = models.CharField(_("note"), max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created"))

    class Meta:
        verbose_name = _("assessment scheme")
        verbose_name_plural = _("assessment schemes")
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class SpecialItem(models.Model):
    """专项: a bonus or penalty for one unit in one month, with its reason.

    An item belongs to one assessment — the area assessed (`area`, as `Result.node`), the month and the
    group — and counts in that assessment's result only: a town's leader scoring the town's villages
    adds nothing to the county's ranking of the same villages."""

    # The area whose assessment the item belongs to (Result.node of that assessment).
    area = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="+", verbose_name=_("area assessed"))
    month = models.DateField(_("month"))
    group = models.CharField(_("group"), max_length=10, choices=Group.choices)
    node = models.ForeignKey(
        Node, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("node")
    )
    department = models.ForeignKey(
        Department, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("department")
    )
    points = models.DecimalField(_("points"), max_digits=6, decimal_places=2)
    reason = models.CharField(_("reason"), max_length=300)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("by"))
    at = models.DateTimeField(_("at"))

    class Meta:
        verbose_name = _("special item")
        verbose_name_plural = _("special items")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(node__isnull=True) ^ Q(department__isnull=True), name="special_one_unit"
            ),
        ]
        indexes = [models.Index(fields=["area", "month", "group"], name="special_assessment")]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.points} {self.reason}"


class Result(models.Model):
    """A month's scores for one group of units: computed, then published (frozen)."""

    # The area assessed: the assessor's node (a county's villages, or only one town's).
    node = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="+", verbose_name=_("area assessed"))
    month = models.DateField(_("month"))
    group = models.CharField(_("group"), max_length=10, choices=Group.choices)
    scheme = models.ForeignKey(Scheme, on_delete=models.PROTECT, related_name="+", verbose_name=_("assessment scheme"))
    computed_at = models.DateTimeField(_("time computed"))
    published_at = models.DateTimeField(_("time published"), null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("published by"),
    )

    class Meta:
        verbose_name = _("assessment result")
        verbose_name_plural = _("assessment results")
        constraints = [models.UniqueConstraint(fields=["node", "month", "group"], name="one_result_per_area_month")]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.group}"


class ResultRow(models.Model):
    result = models.ForeignKey(Result, on_delete=models.CASCADE, related_name="rows")
    node = models.ForeignKey(Node, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    department = models.ForeignKey(Department, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=80)  # as it was that month
    orders = models.PositiveIntegerField(default=0)
    rates = models.JSONField()  # indicator → rate (0..1) or null when nothing to rate
    base = models.DecimalField(max_digits=7, decimal_places=2)  # the weighted rates
    special = models.DecimalField(max_digits=7, decimal_places=2, default=0)
    score = models.DecimalField(max_digits=7, decimal_places=2)
    rank = models.PositiveIntegerField()

    class Meta:
        ordering = ["rank", "id"]

    def __str__(self) -> str:
        return f"{self.rank}. {self.name} {self.score}"


class ResultLog(models.Model):
    """Who computed, published or recomputed a month's result, and why."""

    result = models.ForeignKey(
        Result, on_delete=models.CASCADE, related_name="log", verbose_name=_("assessment result")
    )
    action = models.CharField(_("action"), max_length=12)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("by")
    )
    at = models.DateTimeField(_("at"))
    reason = models.CharField(_("reason"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("assessment log entry")
        verbose_name_plural = _("assessment log entries")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.action} {self.at}"
