"""Smart dispatch on work orders: the text model's guess at intake, auto-dispatch (自动派单),
reclassification by a dispatcher, the rows a model learns from, and how well it did.

The model (triage) knows labels only: category codes, and units as "dept:<id>" or "level:<4|5|6>" (the
town, village or grid where the order is located). This module turns them into the county's categories,
departments and nodes, and back.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from catalog import selectors as catalog_selectors
from catalog import services as catalog
from catalog.models import UNCLASSIFIED, Category
from core.clock import now
from core.errors import ValidationFailed
from core.memo import memo
from org.models import Department, Node
from triage import services as triage
from workorders.models import Event, Kind, WorkOrder
from workorders.services.common import _event, _locked
from workorders.states import State

if TYPE_CHECKING:
    from accounts.models import User

DEPT = "dept:"
LEVEL = "level:"
# What a unit finally handled: signed for and kept (a dispatched order may still come back), or done.
DECIDED_STATES = (
    State.ACCEPTED, State.IN_PROGRESS, State.SUSPENDED, State.RESOLVED, State.RATED, State.CLOSED, State.REOPENED,
)  # fmt: skip


def setting(name: str) -> Any:
    return settings.GONGZHI["TRIAGE"][name]


def unit_label(department_id: int | None, node_level: int | None) -> str:
    if department_id is not None:
        return f"{DEPT}{department_id}"
    if node_level is not None:
        return f"{LEVEL}{node_level}"
    return ""


def _active_department(pk: int) -> bool:
    active = Department.objects.filter(pk=pk, is_active=True)
    return memo("tree").get(("department-active", pk), active.exists)


def resolve_unit(label: str, grid: Node) -> tuple[int | None, int | None]:
    """(department id, node id) that a unit label names for an order located in `grid`; (None, None) when
    the department is gone or the grid has no such level above it."""
    if label.startswith(DEPT) and label[len(DEPT) :].isdigit():
        pk = int(label[len(DEPT) :])
        return (pk, None) if _active_department(pk) else (None, None)
    if label.startswith(LEVEL) and label[len(LEVEL) :] in ("4", "5", "6"):
        return None, catalog.local_unit(grid, int(label[len(LEVEL) :]))
    return None, None


@dataclass(frozen=True)
class Routing:
    """What intake stores of the model's guess, and the unit it suggests (the model's when it is sure
    enough, else the dispatch rules' for the category given or guessed)."""

    category: Category | None
    category_confidence: float | None
    unit_confidence: float | None
    version: int | None
    department_id: int | None
    node_id: int | None
    from_model: bool  # the unit is the model's, not the rules'


def _parent(code: str) -> str:
    return catalog_selectors.parent_codes().get(code, "")


def route(*, kind: str, category: Category, item: Any, title: str, text: str, grid: Node) -> Routing:
    """The suggestion for a new order. Service orders go by their item's rules: nothing is guessed."""
    g = (
        triage.guess(f"{title}\n{text}", parent=_parent, sure_at=setting("BACKOFF_AT"))
        if kind != Kind.SERVICE
        else None
    )
    guessed = catalog_selectors.category_by_code(g.category) if g is not None else None
    if guessed is not None and not guessed.is_active:
        guessed = None
    by_rules = category if category.code != UNCLASSIFIED else guessed
    if g is not None and g.unit and g.unit_confidence >= setting("SUGGEST_UNIT_AT"):
        department_id, node_id = resolve_unit(g.unit, grid)
        if department_id or node_id:
            return Routing(guessed, g.category_confidence, g.unit_confidence, g.version, department_id, node_id, True)
    rules = catalog.suggest_unit(category=by_rules, item=item, grid=grid)
    return Routing(
        guessed,
        g.category_confidence if g is not None else None,
        g.unit_confidence if g is not None else None,
        g.version if g is not None else None,
        rules.department_id,
        rules.node_id,
        False,
    )


def _allows_auto(category: Category) -> bool:
    """Whether the category or one above it is marked for auto-dispatch (from memory: no query per level)."""
    return any(
        c is not None and c.auto_dispatch
        for c in map(catalog_selectors.category_by_code, catalog_selectors.ancestors(category.code))
    )


def auto_dispatch_wanted(order: WorkOrder, routing: Routing) -> bool:
    """Whether the model is sure enough of both the category and the unit to dispatch without a dispatcher:
    switched on (GONGZHI["TRIAGE"]["AUTO_DISPATCH_AT"]), a category marked for it, the filer's own choice
    of category not contradicted, and a unit found."""
    at = setting("AUTO_DISPATCH_AT")
    if at is None or routing.category is None or not routing.from_model:
        return False
    if (routing.category_confidence or 0) < at or (routing.unit_confidence or 0) < at:
        return False
    if order.category.code != UNCLASSIFIED and order.category_id != routing.category.pk:
        return False
    return _allows_auto(routing.category)


def auto_dispatch(order: WorkOrder, routing: Routing) -> WorkOrder:
    """自动派单, in the intake's transaction: classify, then dispatch as the system."""
    from workorders.services.handling import Unit, workorder_dispatch

    assert routing.category is not None
    if order.category_id != routing.category.pk:
        _reclassify(order, routing.category, None, note=_("Classified by the text model."))
    department = Department.objects.filter(pk=routing.department_id).first() if routing.department_id else None
    node = Node.objects.filter(pk=routing.node_id).first() if routing.node_id else None
    return workorder_dispatch(
        order=order,
        to=Unit(department=department, node=node),
        by=None,
        note=_("Dispatched by the text model (category %(c).0f%%, unit %(u).0f%% sure).")
        % {"c": (routing.category_confidence or 0) * 100, "u": (routing.unit_confidence or 0) * 100},
    )


def _reclassify(order: WorkOrder, category: Category, by: User | None, *, note: str = "") -> None:
    before = order.category
    WorkOrder.objects.filter(pk=order.pk).update(category=category, updated_at=now())
    order.category = category
    _event(
        order,
        "reclassify",
        by,
        note=note,
        data={
            "from": before.code,
            "to": category.code,
            "suggested": order.suggested_category.code if order.suggested_category is not None else "",
        },
    )


@transaction.atomic
def workorder_reclassify(*, order: WorkOrder, category: Category, by: User | None, note: str = "") -> WorkOrder:
    """A dispatcher puts the order in another category (a correction the next training learns from).

    Time limits already running keep running: the category's time class counts from the next dispatch."""
    order = _locked(order)
    if order.state in (State.CLOSED, State.CANCELLED, State.DUPLICATE):
        raise ValidationFailed(_("A finished order keeps its category."), code="workorder.finished")
    if category.code == UNCLASSIFIED or not category.is_active:
        raise ValidationFailed(fields={"category": [_("Please choose a category.")]}, code="workorder.unclassified")
    if order.item_id is not None:
        raise ValidationFailed(
            _("A service order's category is its service item's."), code="workorder.service_category"
        )
    if category.pk != order.category_id:
        _reclassify(order, category, by, note=note)
    return order


# --- learning and measuring ---------------------------------------------------------------------------


def training_rows(*, limit: int | None = None) -> Iterator[tuple[str, str, str]]:
    """(title + text, final category code, final unit label) of the appeals a unit has signed for and kept
    or finished, newest first: the category and unit after every return, transfer and reclassification,
    so a dispatcher's correction counts from the moment the unit accepts it."""
    qs = (
        WorkOrder.objects.filter(state__in=DECIDED_STATES)
        .exclude(kind=Kind.SERVICE)
        .exclude(category__code=UNCLASSIFIED)
        .order_by("-created_at")
        .values_list("title", "text", "category__code", "department_id", "unit_node__level")
    )
    for title, text, code, department_id, level in qs[: limit or setting("TRAIN_MAX_ORDERS")].iterator(2000):
        yield f"{title}\n{text}", code, unit_label(department_id, level)


@dataclass
class Tally:
    name: str
    guessed: int = 0
    category_right: int = 0
    unit_right: int = 0
    auto: int = 0
    corrected: int = 0

    @property
    def category_accuracy(self) -> float | None:
        return self.category_right / self.guessed if self.guessed else None

    @property
    def unit_accuracy(self) -> float | None:
        return self.unit_right / self.guessed if self.guessed else None

    @classmethod
    def total(cls, rows: list[Tally]) -> Tally:
        return cls(
            name="",
            guessed=sum(r.guessed for r in rows),
            category_right=sum(r.category_right for r in rows),
            unit_right=sum(r.unit_right for r in rows),
            auto=sum(r.auto for r in rows),
            corrected=sum(r.corrected for r in rows),
        )


def accuracy_report(*, since: dt.datetime, orders: Any = None) -> list[Tally]:
    """How the model's guesses compare with what was finally decided, by top-level category, over the
    appeals filed since `since` that a unit has accepted (`orders`: the caller's visible ones)."""
    qs = (orders if orders is not None else WorkOrder.objects.all()).filter(
        created_at__gte=since, state__in=DECIDED_STATES, model_version__isnull=False
    )
    rows = qs.values_list(
        "pk", "category_id", "suggested_category_id", "department_id", "unit_node_id",
        "suggested_department_id", "suggested_node_id",
    )  # fmt: skip
    rows = list(rows)
    ids = [r[0] for r in rows]
    auto: set[int] = set()
    corrected: set[int] = set()
    for order_id, action, actor_id, data in Event.objects.filter(
        order_id__in=ids, action__in=("dispatch", "reclassify")
    ).values_list("order_id", "action", "actor_id", "data"):
        if action == "dispatch" and actor_id is None:
            auto.add(order_id)
        elif actor_id is not None and (
            (action == "reclassify" and data.get("to") != data.get("suggested"))
            or (action == "dispatch" and data.get("took_suggestion") is False)
        ):
            corrected.add(order_id)
    codes, names = {}, {}
    for pk, code, name in Category.objects.values_list("pk", "code", "name"):
        codes[pk], names[code] = code, name
    out: dict[str, Tally] = defaultdict(lambda: Tally(""))
    for pk, cat, s_cat, dept, node, s_dept, s_node in rows:
        line = catalog_selectors.ancestors(codes.get(cat, ""))
        name = names.get(line[-1], "") if line else ""  # the top-level category's
        t = out[name]
        t.name = name
        t.guessed += 1
        # Right at the level guessed: a guess of 养老服务 (a level up, see triage.guess) for 高龄津贴 is right.
        t.category_right += codes.get(s_cat, "-") in line
        t.unit_right += (dept, node) == (s_dept, s_node)
        t.auto += pk in auto
        t.corrected += pk in corrected
    return sorted(out.values(), key=lambda t: -t.guessed)
