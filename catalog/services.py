"""Every write to the catalogue, and the lookups the work-order services make of it."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from catalog.models import (
    Category,
    DispatchRule,
    FieldType,
    HandlingMode,
    ItemLevel,
    LimitUnit,
    ServiceItem,
    TimeClass,
    TimeLimitRule,
    Urgency,
)
from core.errors import ValidationFailed
from core.memo import memo
from org.models import Department, Node, path_ids

MAX_FORM_FIELDS = 20
MAX_FIELD_TEXT = 500


@transaction.atomic
def category_create(
    *,
    code: str,
    name: str,
    parent: Category | None = None,
    time_class: str = "",
    department: Department | None = None,
    sort: int = 0,
) -> Category:
    level = 1 if parent is None else parent.level + 1
    if level > 3:
        raise ValidationFailed(fields={"parent": [_("Categories have at most three levels.")]})
    if time_class and time_class not in TimeClass.values:
        raise ValidationFailed(fields={"time_class": [_("Unknown time class.")]})
    return Category.objects.create(
        code=code, name=name, parent=parent, level=level, time_class=time_class, department=department, sort=sort
    )


def _check_form_fields(form_fields: list[dict[str, Any]]) -> None:
    if len(form_fields) > MAX_FORM_FIELDS:
        raise ValidationFailed(fields={"form_fields": [_("Too many form fields.")]})
    seen: set[str] = set()
    for f in form_fields:
        name = f.get("name")
        if not isinstance(name, str) or not name.isidentifier() or name in seen:
            raise ValidationFailed(fields={"form_fields": [_("Each form field needs a unique name.")]})
        seen.add(name)
        if f.get("type") not in FieldType.values:
            raise ValidationFailed(fields={"form_fields": [_("Unknown form field type.")]})
        if f["type"] == FieldType.CHOICE and not f.get("choices"):
            raise ValidationFailed(fields={"form_fields": [_("A choice field needs choices.")]})


@transaction.atomic
def service_item_create(
    *,
    code: str,
    name: str,
    category: Category,
    mode: str = HandlingMode.PROXY,
    level: str = ItemLevel.VILLAGE,
    department: Department | None = None,
    promised_days: int = 7,
    materials: list[str] | None = None,
    form_fields: list[dict[str, Any]] | None = None,
    description: str = "",
    sort: int = 0,
) -> ServiceItem:
    _check_form_fields(form_fields or [])
    return ServiceItem.objects.create(
        code=code,
        name=name,
        category=category,
        mode=mode,
        level=level,
        department=department,
        promised_days=promised_days,
        materials=materials or [],
        form_fields=form_fields or [],
        description=description,
        sort=sort,
    )


def clean_form_data(item: ServiceItem | None, data: dict[str, Any]) -> dict[str, Any]:
    """The extra form answers an item asks for, checked against its field definitions."""
    if item is None:
        if data:
            raise ValidationFailed(fields={"form_data": [_("Only service orders take extra form fields.")]})
        return {}
    fields = {f["name"]: f for f in item.form_fields}
    errors: dict[str, list[str]] = {}
    out: dict[str, Any] = {}
    for key in data:
        if key not in fields:
            errors.setdefault(f"form_data.{key}", []).append(_("This item has no such field."))
    for name, f in fields.items():
        value = data.get(name)
        if value in (None, ""):
            if f.get("required"):
                errors.setdefault(f"form_data.{name}", []).append(_("This field is required."))
            continue
        kind = f["type"]
        ok = True
        if kind == FieldType.TEXT:
            ok = isinstance(value, str) and len(value) <= MAX_FIELD_TEXT
        elif kind == FieldType.NUMBER:
            # Python's JSON parser reads NaN and Infinity, which neither database stores as JSON (a 500).
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            ok = ok and not (isinstance(value, float) and not math.isfinite(value))
        elif kind == FieldType.BOOL:
            ok = isinstance(value, bool)
        elif kind == FieldType.CHOICE:
            ok = value in f.get("choices", [])
        elif kind == FieldType.DATE:
            try:
                value = dt.date.fromisoformat(str(value)).isoformat()
            except ValueError:
                ok = False
        if not ok:
            errors.setdefault(f"form_data.{name}", []).append(_("This value is not valid for the field."))
        else:
            out[name] = value
    if errors:
        raise ValidationFailed(fields=errors)
    return out


def effective_time_class(category: Category | None) -> str:
    c = category
    while c is not None:
        if c.time_class:
            return c.time_class
        c = c.parent
    return TimeClass.GENERAL


@dataclass(frozen=True)
class Limits:
    respond_hours: Decimal
    resolve_amount: int
    resolve_unit: str
    warn_percent: int
    rule_name: str


DEFAULT_LIMITS = Limits(Decimal(4), 7, LimitUnit.WORKING_DAYS, 75, "default")


def _active_limit_rules() -> tuple[TimeLimitRule, ...]:
    return memo("catalog").get("limit-rules", lambda: tuple(TimeLimitRule.objects.filter(is_active=True)))


def limits_for(*, time_class: str, urgency: str, item: ServiceItem | None = None) -> Limits:
    """The time limits for an order; a service item's promised days replace the completion limit."""
    rules = [r for r in _active_limit_rules() if r.time_class in (time_class, "") and r.urgency in (urgency, "")]
    rules.sort(key=lambda r: (r.urgency != urgency, r.time_class != time_class))
    if rules:
        r = rules[0]
        limits = Limits(r.respond_hours, r.resolve_amount, r.resolve_unit, r.warn_percent, r.name)
    else:
        limits = DEFAULT_LIMITS
    if item is not None and urgency == Urgency.NORMAL:
        limits = Limits(
            limits.respond_hours, item.promised_days, LimitUnit.WORKING_DAYS, limits.warn_percent, item.code
        )
    return limits


@dataclass(frozen=True)
class Suggestion:
    """Where the rules point: ids (what intake stores), with the objects loaded only when asked for."""

    department_id: int | None
    node_id: int | None
    rule_id: int | None

    @property
    def department(self) -> Department | None:
        return Department.objects.filter(pk=self.department_id).first() if self.department_id else None

    @property
    def node(self) -> Node | None:
        return Node.objects.filter(pk=self.node_id).first() if self.node_id else None

    @property
    def rule(self) -> DispatchRule | None:
        return DispatchRule.objects.filter(pk=self.rule_id).first() if self.rule_id else None


def _ancestor_ids(category: Category | None) -> list[int]:
    out: list[int] = []
    c = category
    while c is not None:
        out.append(c.pk)
        c = c.parent
    return out


def suggest_unit(*, category: Category | None, item: ServiceItem | None, grid: Node | None) -> Suggestion:
    """The unit the dispatch rules point at for an order, or nothing when no rule matches.

    Runs on every submission, so it reads the rules from memory (core.memo "catalog")."""
    cat_chain = _ancestor_ids(category)
    area_ids = path_ids(grid.path) if grid is not None else []
    rows = memo("catalog").get(
        "dispatch-rules",
        lambda: tuple(
            DispatchRule.objects.filter(is_active=True).values_list(
                "id", "item_id", "category_id", "area_id", "area__level", "department_id", "handle_at_level",
                "priority",
            )
        ),
    )  # fmt: skip
    best: tuple[tuple, tuple] | None = None
    for row in rows:
        _id, item_id, category_id, area_id, area_level, _dept, _level, priority = row
        if item_id is not None and (item is None or item_id != item.pk):
            continue
        if category_id is not None and category_id not in cat_chain:
            continue
        if area_id is not None and area_id not in area_ids:
            continue
        specificity = (
            item_id is not None,
            -cat_chain.index(category_id) if category_id else -99,
            area_level or 0,
            -priority,
        )
        if best is None or specificity > best[0]:
            best = (specificity, row)
    if best is None:
        return Suggestion(None, None, None)
    rule_id, _item, _cat, _area, _lvl, department_id, handle_at_level, _prio = best[1]
    if department_id:
        return Suggestion(department_id, None, rule_id)
    node_id = local_unit(grid, handle_at_level) if grid is not None else None
    return Suggestion(None, node_id, rule_id if node_id else None)


def local_unit(grid: Node, level: int) -> int | None:
    """The id of the town, village or grid (`level`) that `grid` lies in, from memory: the grid's own path
    names its ancestors, and the one at that level is the local unit."""
    area_ids = path_ids(grid.path)
    return memo("tree").get(
        ("level-of", tuple(area_ids), level),
        lambda: Node.objects.filter(pk__in=area_ids, level=level).values_list("pk", flat=True).first(),
    )
