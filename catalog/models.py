"""The catalogue (事项清单): appeal categories, service items, time-limit rules and dispatch rules.

All of it is data an administrator edits, not code: a county adds its own items, changes a time limit
or points a category at another department without a release.
"""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from org.models import Department, Node


class TimeClass(models.TextChoices):
    """How fast a kind of problem must be handled, as 12345 practice groups them."""

    GENERAL = "general", _("general")
    UTILITY = "utility", _("utilities (water, power, gas, heating)")
    COMPLEX = "complex", _("complex")


class Urgency(models.TextChoices):
    NORMAL = "normal", _("normal")
    URGENT = "urgent", _("urgent")
    EMERGENCY = "emergency", _("emergency")


# The category of an appeal filed as free text alone, until a dispatcher or the text model classifies it
# (待分类). Made by a migration; not offered to residents as a choice.
UNCLASSIFIED = "00"


class Category(models.Model):
    """A three-level appeal classification, e.g. 城乡建设 → 市政设施 → 路灯损坏."""

    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children", verbose_name=_("parent")
    )
    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=40)
    level = models.PositiveSmallIntegerField(
        _("level"), validators=[MinValueValidator(1), MaxValueValidator(3)], editable=False
    )
    time_class = models.CharField(
        _("time class"),
        max_length=10,
        choices=TimeClass.choices,
        blank=True,
        help_text=_("Empty: as the parent category (general at the top)."),
    )
    department = models.ForeignKey(
        Department,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("usual department"),
        help_text=_("Shown to dispatchers as the usual handler; dispatch rules decide the suggestion."),
    )
    sort = models.PositiveIntegerField(_("sort order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    auto_dispatch = models.BooleanField(
        _("auto-dispatch"),
        default=False,
        help_text=_(
            "Appeals the text model places here (or in a sub-category) with enough confidence are dispatched "
            "without a dispatcher, when auto-dispatch is switched on (GONGZHI['TRIAGE']['AUTO_DISPATCH_AT'])."
        ),
    )

    class Meta:
        verbose_name = _("appeal category")
        verbose_name_plural = _("appeal categories")
        ordering = ["level", "sort", "code"]
        constraints = [
            models.CheckConstraint(condition=Q(level__gte=1, level__lte=3), name="category_level_1_3"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class HandlingMode(models.TextChoices):
    DIRECT = "direct", _("handled directly (直办)")
    PROXY = "proxy", _("handled by proxy (代办)")
    ASSISTED = "assisted", _("assisted (协办)")
    ONLINE = "online", _("online (网办)")


class ItemLevel(models.TextChoices):
    VILLAGE = "village", _("village")
    TOWN = "town", _("town")
    COUNTY = "county", _("county")


class FieldType(models.TextChoices):
    TEXT = "text", _("text")
    NUMBER = "number", _("number")
    DATE = "date", _("date")
    CHOICE = "choice", _("choice")
    BOOL = "bool", _("yes/no")


class ServiceItem(models.Model):
    """A service residents can order (e.g. 代办残疾证, 高龄津贴申领), with what it takes and how long."""

    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=80)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="items", verbose_name=_("category"))
    mode = models.CharField(_("handling mode"), max_length=10, choices=HandlingMode.choices)
    level = models.CharField(_("handled at"), max_length=10, choices=ItemLevel.choices)
    department = models.ForeignKey(
        Department,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="service_items",
        verbose_name=_("responsible department"),
    )
    description = models.TextField(_("description"), blank=True)
    materials = models.JSONField(_("required materials"), default=list, blank=True)
    # [{"name": "disability_level", "label": "残疾等级", "type": "choice", "required": true,
    #   "choices": ["一级", "二级"]}]; checked by catalog.forms.clean_form_data.
    form_fields = models.JSONField(_("extra form fields"), default=list, blank=True)
    promised_days = models.PositiveSmallIntegerField(
        _("promised time limit (working days)"), validators=[MinValueValidator(1), MaxValueValidator(60)]
    )
    is_published = models.BooleanField(_("published"), default=True)
    sort = models.PositiveIntegerField(_("sort order"), default=0)

    class Meta:
        verbose_name = _("service item")
        verbose_name_plural = _("service items")
        ordering = ["sort", "code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class LimitUnit(models.TextChoices):
    WORKING_HOURS = "working_hours", _("working hours")
    HOURS = "hours", _("hours (around the clock)")
    WORKING_DAYS = "working_days", _("working days")


class TimeLimitRule(models.Model):
    """How long a unit has to sign for (签收) and to finish (办结) an order of a time class and urgency.

    The most specific enabled rule wins: one naming the urgency beats one for any urgency, one naming
    the time class beats one for any class.
    """

    name = models.CharField(_("name"), max_length=60)
    time_class = models.CharField(_("time class"), max_length=10, choices=TimeClass.choices, blank=True)
    urgency = models.CharField(_("urgency"), max_length=10, choices=Urgency.choices, blank=True)
    respond_hours = models.DecimalField(
        _("sign-for limit (working hours)"),
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(0.25), MaxValueValidator(240)],
    )
    resolve_amount = models.PositiveSmallIntegerField(
        _("completion limit"), validators=[MinValueValidator(1), MaxValueValidator(480)]
    )
    resolve_unit = models.CharField(_("completion limit unit"), max_length=15, choices=LimitUnit.choices)
    warn_percent = models.PositiveSmallIntegerField(
        _("warn when this share of the time is used (%)"),
        default=75,
        validators=[MinValueValidator(10), MaxValueValidator(99)],
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("time-limit rule")
        verbose_name_plural = _("time-limit rules")
        ordering = ["time_class", "urgency"]
        constraints = [
            models.UniqueConstraint(
                fields=["time_class", "urgency"], condition=Q(is_active=True), name="one_active_time_rule"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class DispatchRule(models.Model):
    """Where an order usually goes: by item or category, and by where it happened, else the fallback.

    A rule with neither category, item nor area is the fallback unit (兜底). Among the rules that match
    an order, the most specific wins (item, then the deepest category, then the deepest area), then the
    lowest priority number.
    """

    name = models.CharField(_("name"), max_length=60)
    item = models.ForeignKey(
        ServiceItem, null=True, blank=True, on_delete=models.CASCADE, related_name="+", verbose_name=_("service item")
    )
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.CASCADE, related_name="+", verbose_name=_("category")
    )
    area = models.ForeignKey(
        Node,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("area"),
        help_text=_("Orders located in this part of the tree; empty for anywhere."),
    )
    department = models.ForeignKey(
        Department, null=True, blank=True, on_delete=models.CASCADE, related_name="+", verbose_name=_("department")
    )
    handle_at_level = models.PositiveSmallIntegerField(
        _("or the local unit at level"),
        null=True,
        blank=True,
        choices=[(4, _("town")), (5, _("village")), (6, _("grid"))],
        help_text=_("Send to the town, village or grid where the order is located."),
    )
    priority = models.PositiveSmallIntegerField(_("priority"), default=100)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("dispatch rule")
        verbose_name_plural = _("dispatch rules")
        ordering = ["priority", "id"]
        constraints = [
            # Exactly one target: a department or a local level.
            models.CheckConstraint(
                condition=(Q(department__isnull=False) & Q(handle_at_level__isnull=True))
                | (Q(department__isnull=True) & Q(handle_at_level__isnull=False)),
                name="dispatch_rule_one_target",
            ),
        ]

    def __str__(self) -> str:
        return self.name
