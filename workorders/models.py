"""Appeals and service orders (诉求/工单), their handlers, timeline, ratings, callbacks and photos."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from catalog.models import Category, ServiceItem, Urgency
from org.models import Department, Node, PathField, Resident
from workorders.states import SIMILAR_STATES, State


class Kind(models.TextChoices):
    CONSULT = "consult", _("consultation")
    HELP = "help", _("request for help")
    COMPLAINT = "complaint", _("complaint")
    REPORT = "report", _("report")
    SUGGESTION = "suggestion", _("suggestion")
    SERVICE = "service", _("service order")


class Channel(models.TextChoices):
    WEB = "web", _("website")
    MOBILE = "mobile", _("mobile page")
    HOTLINE = "hotline", _("hotline")
    WINDOW = "window", _("walk-in window")
    PATROL = "patrol", _("grid patrol")
    PARTY = "party", _("party-member relay")
    PROXY = "proxy", _("proxy (代办)")
    API = "api", _("API")
    OPEN311 = "open311", _("Open311 app")


class CloseReason(models.TextChoices):
    RATED = "rated", _("rated")
    NOT_RATED = "not_rated", _("not rated in time")
    CALLBACK = "callback", _("confirmed by callback")
    DUPLICATE = "duplicate", _("closed with its primary order")
    UNREASONABLE = "unreasonable", _("ruled unreasonable")
    BY_DISPATCHER = "by_dispatcher", _("closed by the dispatcher")


class Satisfaction(models.IntegerChoices):
    VERY_SATISFIED = 5, _("very satisfied")
    SATISFIED = 4, _("satisfied")
    BASICALLY = 3, _("basically satisfied")
    DISSATISFIED = 2, _("dissatisfied")
    VERY_DISSATISFIED = 1, _("very dissatisfied")


# An appeal's description: real ones reach 9,000 characters (a hotline call written down).
TEXT_MAX = 10_000


class WorkOrder(models.Model):
    tracking_code = models.CharField(_("tracking code"), max_length=16, unique=True)
    kind = models.CharField(_("type"), max_length=12, choices=Kind.choices)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    urgency = models.CharField(_("urgency"), max_length=10, choices=Urgency.choices, default=Urgency.NORMAL)
    # Every index is written on every intake, so an index whose columns lead another index is left out
    # (db_index=False below: wo_category_time, wo_path, wo_owner_user, wo_submitter, wo_department and
    # event_order serve those lookups), and columns that are mostly empty get a partial index. The
    # suggestion columns have none: only deleting a department or node looks them up (bench/intake.py).
    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, related_name="+", verbose_name=_("category"), db_index=False
    )
    item = models.ForeignKey(
        ServiceItem,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("service item"),
        db_index=False,
    )
    title = models.CharField(_("title"), max_length=80)
    text = models.TextField(_("description"), max_length=TEXT_MAX)
    form_data = models.JSONField(_("form answers"), default=dict, blank=True)
    # Where: a grid of the tree (resolved from lat/lng or chosen), its path copied for scoped lists.
    grid = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="+", verbose_name=_("grid"))
    path = PathField(_("path"), db_index=False)
    address = models.CharField(_("address"), max_length=200, blank=True)
    lat = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    lng = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    # Who: the owner is the resident the appeal is for (代办 keeps them the owner); submitted_by is who
    # typed it in (the resident, a grid worker, a hotline operator).
    owner = models.ForeignKey(
        Resident, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("owner")
    )
    owner_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("owner's account"),
        db_index=False,
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("submitted by"),
        db_index=False,
    )
    contact_name = models.CharField(_("contact name"), max_length=40)
    contact_phone = models.CharField(_("contact phone"), max_length=20, blank=True)
    anonymous = models.BooleanField(_("anonymous to the public"), default=False)
    idempotency_key = models.CharField(_("idempotency key"), max_length=64, blank=True)

    state = models.CharField(_("state"), max_length=12, choices=State.choices, default=State.SUBMITTED)
    close_reason = models.CharField(_("close reason"), max_length=15, choices=CloseReason.choices, blank=True)
    round = models.PositiveSmallIntegerField(_("handling round"), default=1)  # +1 on each reopen (重办)
    primary = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="duplicates",
        verbose_name=_("primary"),
        db_index=False,
    )
    # The dispatch rules' suggestion, kept so that bulk dispatch and the console need no recomputation.
    suggested_department = models.ForeignKey(
        Department,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("suggested department"),
        db_index=False,
    )
    suggested_node = models.ForeignKey(
        Node,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("suggested local unit"),
        db_index=False,
    )
    # The text model's guess (triage.services.guess), kept to show it beside the rules' suggestion, to
    # auto-dispatch on it and to measure the model against what dispatchers decided.
    suggested_category = models.ForeignKey(
        Category,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("suggested category"),
        db_index=False,
    )
    category_confidence = models.FloatField(_("category confidence"), null=True, blank=True)
    unit_confidence = models.FloatField(_("unit confidence"), null=True, blank=True)
    model_version = models.PositiveIntegerField(_("text model version"), null=True, blank=True)
    # The current main handler (主办), denormalised from Assignment for the queues.
    department = models.ForeignKey(
        Department,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("department"),
        db_index=False,
    )
    unit_node = models.ForeignKey(
        Node,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("local unit"),
        db_index=False,
    )
    unit_path = PathField(_("local unit path"), db_index=False)
    reply = models.TextField(_("reply to the resident"), max_length=2000, blank=True)
    # 甄别: ruled unreasonable by the dispatcher, or a unit's appeal approved (dashboards.Exemption); the
    # order stays in the volumes but leaves every unit's rates.
    excluded = models.BooleanField(_("excluded from assessment"), default=False)
    callback_required = models.BooleanField(_("callback required"), default=False)

    created_at = models.DateTimeField(_("submitted"), db_index=True)
    dispatched_at = models.DateTimeField(_("dispatched"), null=True, blank=True)
    accepted_at = models.DateTimeField(_("signed for"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    suspended_at = models.DateTimeField(_("suspended since"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"))

    # Deadlines (Asia/Shanghai working time, see core.workcal) and what the worker has done about them.
    respond_by = models.DateTimeField(_("sign for by"), null=True, blank=True)
    due_at = models.DateTimeField(_("resolve by"), null=True, blank=True)
    warn_at = models.DateTimeField(_("warn at"), null=True, blank=True)
    rate_by = models.DateTimeField(_("rate by"), null=True, blank=True)
    warned = models.BooleanField(_("warned"), default=False)
    respond_overdue = models.BooleanField(_("signed for late"), default=False)
    overdue = models.BooleanField(_("overdue"), default=False)
    # The earliest of the deadlines above that the worker still has to look at; null when none.
    next_check_at = models.DateTimeField(_("next deadline check"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("work order")
        verbose_name_plural = _("work orders")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["submitted_by", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="workorder_idempotency",
            ),
            models.CheckConstraint(
                condition=Q(primary__isnull=True) | ~Q(primary=models.F("id")), name="workorder_not_own_primary"
            ),
        ]
        indexes = [
            models.Index(fields=["path", "-id"], name="wo_path"),
            models.Index(fields=["state", "-id"], name="wo_state"),
            models.Index(fields=["department", "state", "-id"], name="wo_department"),
            models.Index(fields=["unit_path", "state"], name="wo_unit"),
            models.Index(fields=["owner_user", "-id"], name="wo_owner_user"),
            models.Index(fields=["submitted_by", "-id"], name="wo_submitter"),
            models.Index(fields=["next_check_at"], condition=Q(next_check_at__isnull=False), name="wo_next_check"),
            models.Index(fields=["category", "created_at"], name="wo_category_time"),
            models.Index(fields=["item"], condition=Q(item__isnull=False), name="wo_item"),
            models.Index(fields=["primary"], condition=Q(primary__isnull=False), name="wo_primary"),
            models.Index(fields=["unit_node"], condition=Q(unit_node__isnull=False), name="wo_unit_node"),
            # Every submission reads the newest open orders near it (selectors.similar_open_orders): at
            # 10,000,000 orders the created_at index walked a fortnight of mostly closed orders (33 ms of the
            # 35 ms a submission took in the database); open orders are a few per cent of them.
            models.Index(fields=["created_at"], condition=Q(state__in=sorted(SIMILAR_STATES)), name="wo_open_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.tracking_code} {self.title}"


class Assignment(models.Model):
    """A unit handling an order: the main handler (主办) or an assisting one (协办)."""

    class Role(models.TextChoices):
        MAIN = "main", _("main handler")
        ASSIST = "assist", _("assisting")

    order = models.ForeignKey(WorkOrder, on_delete=models.CASCADE, related_name="assignments")
    role = models.CharField(_("role"), max_length=6, choices=Role.choices)
    department = models.ForeignKey(Department, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    node = models.ForeignKey(Node, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    active = models.BooleanField(default=True)
    assigned_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    returned = models.BooleanField(default=False)  # ended by the unit's return (退单): its return rate

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(Q(department__isnull=False) & Q(node__isnull=True))
                | (Q(department__isnull=True) & Q(node__isnull=False)),
                name="assignment_one_unit",
            ),
            models.UniqueConstraint(
                fields=["order"], condition=Q(active=True, role="main"), name="one_active_main_handler"
            ),
        ]
        indexes = [models.Index(fields=["department", "active"], name="assignment_dept")]

    def __str__(self) -> str:
        return f"{self.order_id} {self.role}"


class Event(models.Model):
    """One step of an order's timeline. Never edited: the record of who did what, when."""

    order = models.ForeignKey(
        WorkOrder, on_delete=models.CASCADE, related_name="events", verbose_name=_("work order"), db_index=False
    )
    action = models.CharField(_("action"), max_length=20)
    from_state = models.CharField(_("from"), max_length=12, blank=True)
    to_state = models.CharField(_("to"), max_length=12, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("actor account"),
    )  # null: the system (deadline worker)
    actor_label = models.CharField(_("actor"), max_length=80, blank=True)  # "东村 · 李网格" as it was then
    at = models.DateTimeField(_("at"))
    note = models.TextField(_("note"), max_length=2000, blank=True)
    # The public timeline (what a resident and the tracking page see) shows only public events.
    public = models.BooleanField(_("public"), default=False)
    data = models.JSONField(_("data"), default=dict, blank=True)

    class Meta:
        verbose_name = _("timeline entry")
        verbose_name_plural = _("timeline entries")
        ordering = ["id"]
        indexes = [models.Index(fields=["order", "id"], name="event_order")]

    def __str__(self) -> str:
        return f"{self.order_id} {self.action}"


class Rating(models.Model):
    """The resident's 好差评, once per handling round."""

    order = models.ForeignKey(WorkOrder, on_delete=models.CASCADE, related_name="ratings")
    round = models.PositiveSmallIntegerField()
    solved = models.BooleanField(_("problem solved"))
    satisfaction = models.PositiveSmallIntegerField(_("satisfaction"), choices=Satisfaction.choices)
    comment = models.CharField(_("comment"), max_length=500, blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField()
    # What the order's main handler was, for assessment by unit.
    department = models.ForeignKey(Department, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    unit_node = models.ForeignKey(Node, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["order", "round"], name="one_rating_per_round"),
            models.CheckConstraint(condition=Q(satisfaction__gte=1, satisfaction__lte=5), name="rating_1_5"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id} {self.satisfaction}"

    @property
    def is_bad(self) -> bool:
        return (not self.solved) or self.satisfaction <= Satisfaction.DISSATISFIED


class Callback(models.Model):
    """A staff callback (回访) or random spot check (抽查) of a finished order."""

    class Kind(models.TextChoices):
        CALLBACK = "callback", _("callback")
        SPOT_CHECK = "spot_check", _("spot check")

    order = models.ForeignKey(WorkOrder, on_delete=models.CASCADE, related_name="callbacks")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    round = models.PositiveSmallIntegerField()
    reached = models.BooleanField(_("reached the resident"))
    solved = models.BooleanField(_("problem solved"), null=True, blank=True)
    satisfaction = models.PositiveSmallIntegerField(
        _("satisfaction"), choices=Satisfaction.choices, null=True, blank=True
    )
    note = models.CharField(_("note"), max_length=500, blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.order_id} {self.kind}"


class Extension(models.Model):
    """A handler's request for more time (延期), decided by the dispatcher."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        APPROVED = "approved", _("approved")
        REFUSED = "refused", _("refused")

    order = models.ForeignKey(WorkOrder, on_delete=models.CASCADE, related_name="extensions")
    days = models.PositiveSmallIntegerField(
        _("extra working days"), validators=[MinValueValidator(1), MaxValueValidator(30)]
    )
    reason = models.CharField(_("reason"), max_length=500)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.PENDING)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(_("decision note"), max_length=500, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["order"], condition=Q(status="pending"), name="one_pending_extension"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id} +{self.days}"


def photo_path(instance: Photo, filename: str) -> str:
    return f"workorders/{instance.order.created_at:%Y/%m}/{instance.order.tracking_code}-{instance.uuid}.jpg"


class Photo(models.Model):
    """A photo of the problem (or of the fix), re-encoded to JPEG without EXIF (GPS, device) data."""

    class Stage(models.TextChoices):
        REPORT = "report", _("the problem")
        RESULT = "result", _("the result")

    order = models.ForeignKey(WorkOrder, on_delete=models.CASCADE, related_name="photos")
    uuid = models.CharField(max_length=32, unique=True)
    stage = models.CharField(max_length=6, choices=Stage.choices, default=Stage.REPORT)
    image = models.FileField(upload_to=photo_path, max_length=200)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size = models.PositiveIntegerField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.uuid


def voice_path(instance: Voice, filename: str) -> str:
    ext = filename.rsplit(".", 1)[-1] if "." in filename else "bin"
    return f"workorders/{instance.order.created_at:%Y/%m}/{instance.order.tracking_code}-{instance.uuid}.{ext}"


class Voice(models.Model):
    """A voice message left with an appeal (语音留言), kept as sent. Its container was recognised from its
    bytes (workorders.voice), and `content_type` is what those bytes are, never what the client declared.
    `duration_s` is read from the file where that is cheap (WAV, Ogg, MP4), else the length the recording
    page reported (bounded by the byte limit), else unknown."""

    order = models.ForeignKey(WorkOrder, on_delete=models.CASCADE, related_name="voices")
    uuid = models.CharField(max_length=32, unique=True)
    audio = models.FileField(upload_to=voice_path, max_length=200)
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    duration_s = models.FloatField(null=True, blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.uuid


class HotTopic(models.Model):
    """A matter many households raise at once (未诉先办): recent appeals that tell one problem of one place,
    grouped by workorders.hot from their text, place and time. Rebuilt by every scan; flagged to the
    grid, village and town (and the dispatchers) once, when it starts rising."""

    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="+", verbose_name=_("place"))
    path = PathField(_("path"))
    keywords = models.JSONField(_("keywords"), default=list)
    orders = models.ManyToManyField(WorkOrder, related_name="hot_topics", verbose_name=_("orders"))
    order_count = models.PositiveIntegerField(_("appeals"))
    households = models.PositiveIntegerField(_("households"))
    first_at = models.DateTimeField(_("first appeal"))
    last_at = models.DateTimeField(_("latest appeal"))
    trend = models.JSONField(_("appeals per day"), default=list)  # the last seven days, oldest first
    rising = models.BooleanField(_("rising"), default=False)
    flagged_at = models.DateTimeField(_("flagged"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"))

    class Meta:
        verbose_name = _("hot topic")
        verbose_name_plural = _("hot topics")
        ordering = ["-rising", "-households", "-last_at"]
        indexes = [models.Index(fields=["path", "last_at"], name="hot_path_last")]

    def __str__(self) -> str:
        return " ".join(self.keywords[:3]) or str(self.pk)
