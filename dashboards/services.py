"""Changes to the assessment: appeals against an order's place in the rates (甄别申诉), schemes,
special items, and a month's result — computed, published (frozen), and recomputed only on purpose.

Who writes an assessment (the API and the pages come through here; the admin only looks):
- An assessment is one group of units (villages, towns or departments) under one area node, scored for
  one month: `Result.node` and `SpecialItem.area` name the area. It is owned by whoever holds
  `Cap.ASSESS` over the area's node (org.policy.may): the area's own command centre, and those whose
  role is held over a subtree that contains it. Holding it there means every unit the assessment ranks
  lies in the writer's subtree, so a town's leader writes the town's assessment — the town's villages,
  its special items — and never the county's, which ranks villages outside the town.
- A scheme version applies to every assessment of its months (`scheme_for` takes no area), so it is
  owned by whoever holds `Cap.ASSESS` over every root of the tree.
- An area the writer does not see at all answers like a missing one (NotFound, 404); one they see but
  do not own, and the scheme, answer PermissionDenied (403). A refusal changes nothing.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from core.clock import now
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from dashboards import indicators
from dashboards.models import Exemption, Group, Result, ResultLog, ResultRow, Scheme, SpecialItem
from dashboards.selectors import dash_scope
from dashboards.states import EXEMPTION
from org.models import Department, Level, Node
from org.policy import Cap, may
from workorders.models import WorkOrder

if TYPE_CHECKING:
    from accounts.models import User

DEFAULT_WEIGHTS = {"response": 30, "resolution": 35, "satisfaction": 35}
RATE_KEYS = frozenset(i.key for i in indicators.INDICATORS if i.kind == "rate")
CENT = Decimal("0.01")


def month_start(d: dt.date) -> dt.date:
    return d.replace(day=1)


def month_end(m: dt.date) -> dt.date:
    return indicators._month_end(m)


# --- 甄别申诉 ----------------------------------------------------------------------------------


@transaction.atomic
def exemption_request(*, order: WorkOrder, by: User, reason: str) -> Exemption:
    """The handling department (or a dispatcher over the order) asks that the order leave the rates."""
    from workorders.access import work_scope

    reason = (reason or "").strip()
    if len(reason) < 2:
        raise ValidationFailed(fields={"reason": [_("Please give the reason for the appeal.")]})
    ws = work_scope(by)
    if not (order.department_id in ws.department_ids or ws.can_dispatch(order)):
        raise PermissionDenied(_("Only the handling unit or a dispatcher may appeal an order."))
    if order.excluded:
        raise Conflict(_("This order is already left out of the rates."), code="dashboard.already_excluded")
    try:
        with transaction.atomic():
            return Exemption.objects.create(
                order=order, department_id=order.department_id, reason=reason, requested_by=by, requested_at=now()
            )
    except IntegrityError:
        raise Conflict(_("An appeal for this order is already waiting."), code="dashboard.appeal_pending") from None


@transaction.atomic
def exemption_decide(*, exemption: Exemption, by: User, approve: bool, note: str = "") -> Exemption:
    from workorders.services import workorder_exclude

    ex = Exemption.objects.select_for_update().select_related("order").filter(pk=exemption.pk).first()
    if ex is None:
        raise NotFound()
    if not dash_scope(by).assesses(ex.order.path):
        raise PermissionDenied(_("Only the leaders over this order may decide its appeal."))
    action = "approve" if approve else "refuse"
    EXEMPTION.check(ex, action)
    if ex.requested_by_id == getattr(by, "pk", None):
        raise PermissionDenied(_("An appeal is decided by someone other than who filed it."))
    fields = {"decided_by": by, "decided_at": now(), "decision_note": (note or "").strip()[:500]}
    EXEMPTION.move(ex, action, fields=fields)
    if approve:
        workorder_exclude(
            order=ex.order, by=by, note=_("Left out of the assessment on appeal: %(reason)s") % {"reason": ex.reason}
        )
    return ex


# --- schemes --------------------------------------------------------------------------------------


def scheme_for(month: dt.date) -> Scheme:
    """The scheme in force for a month: the newest version valid from that month or before (version 1,
    30/35/35, comes with the database: migration 0004)."""
    s = Scheme.objects.filter(valid_from__lte=month).order_by("-version").first()
    if s is None:
        s = Scheme.objects.order_by("version").first()
    if s is None:  # a database whose scheme rows were deleted: the defaults, unsaved
        s = Scheme(version=1, name=_("Three rates"), valid_from=dt.date(2000, 1, 1), weights=DEFAULT_WEIGHTS,
                   basic_weight=indicators.DEFAULT_BASIC_WEIGHT, created_at=now())  # fmt: skip
    return s


def owns_every_assessment(by: User) -> bool:
    """Whether `by` holds the assessment over every root of the tree: the owner of the schemes."""
    roots = Node.objects.filter(parent__isnull=True).values_list("path", flat=True)
    return all(may(by, Cap.ASSESS, p) for p in roots) and bool(dash_scope(by).assess_paths)


@transaction.atomic
def scheme_create(
    *, by: User, name: str, weights: dict[str, Any], basic_weight: Decimal, valid_from: dt.date, note: str = ""
) -> Scheme:
    if not dash_scope(by).assess_paths:
        raise PermissionDenied()
    if not owns_every_assessment(by):
        raise PermissionDenied(
            _("The scheme applies to every assessment: only those who assess the whole area may change it.")
        )
    errors: dict[str, list[str]] = {}
    clean: dict[str, int] = {}
    for k, v in (weights or {}).items():
        if k not in RATE_KEYS:
            errors.setdefault("weights", []).append(_("Unknown indicator: %(key)s.") % {"key": k})
        elif not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= 100:
            errors.setdefault("weights", []).append(_("A weight is a whole number from 0 to 100."))
        elif v:
            clean[k] = v
    if not errors and sum(clean.values()) != 100:
        errors["weights"] = [_("The weights must add up to 100.")]
    if not Decimal(0) <= Decimal(basic_weight) <= Decimal(1):
        errors["basic_weight"] = [_("Between 0 and 1.")]
    if not (name or "").strip():
        errors["name"] = [_("Please name the scheme.")]
    if errors:
        raise ValidationFailed(fields=errors)
    last = Scheme.objects.select_for_update().order_by("-version").first()
    return Scheme.objects.create(
        version=(last.version + 1) if last else 1,
        name=name.strip()[:80],
        valid_from=month_start(valid_from),
        weights=clean,
        basic_weight=Decimal(basic_weight),
        note=(note or "")[:300],
        created_by=by,
        created_at=now(),
    )


# --- a month's result ----------------------------------------------------------------------------


def _units(group: str, root: Node) -> list[tuple[Node | None, Department | None, str]]:
    if group == Group.DEPARTMENT:
        return [
            (None, d, d.name)
            for d in Department.objects.filter(is_active=True, jurisdiction__path__startswith=root.path).order_by(
                "code"
            )
        ]
    level = Level.TOWN if group == Group.TOWN else Level.VILLAGE
    return [(n, None, n.name) for n in Node.objects.filter(level=level, path__startswith=root.path).order_by("path")]


def _q2(x: float | Decimal) -> Decimal:
    return Decimal(str(x)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def base_score(r: dict[str, Any], weights: dict[str, int]) -> Decimal:
    """100 × the weighted rates. An indicator with nothing to rate leaves the weighting (the others
    count for more); a unit with nothing at all to rate scores 100."""
    used = {k: w for k, w in weights.items() if r.get(k) is not None}
    if not used:
        return Decimal(100)
    return _q2(100 * sum(w * r[k] for k, w in used.items()) / sum(used.values()))


def assessment_root(by: User) -> Node:
    """The area a leader assesses: the top of their part of the tree. A town's leader scores the town's
    villages, in a result of their own; the county's leader the whole county's."""
    ds = dash_scope(by)
    if not ds.assess_paths:
        raise PermissionDenied(_("Only leaders run the assessment."))
    return Node.objects.get(path=ds.assess_paths[0])


_root = assessment_root


def owned_area(by: User, area: Node | None = None) -> Node:
    """The area of the assessment `by` writes: `area` if they own its assessment (they hold the
    assessment over it), else refused — NotFound if they cannot see it at all, PermissionDenied if they
    can; without one, their own (assessment_root)."""
    if area is None:
        return assessment_root(by)
    if may(by, Cap.ASSESS, area.path):
        return area
    if dash_scope(by).sees_node(area):
        raise PermissionDenied(
            _("The assessment of %(area)s is not yours to change: it belongs to those who assess %(area)s.")
            % {"area": area.name}
        )
    raise NotFound()


def _check_group(group: str) -> None:
    if group not in Group.values:
        raise ValidationFailed(fields={"group": [_("Unknown group.")]})


def _points(value: Decimal | str | int) -> Decimal:
    """A special item's points as they will be listed and published: a number from -100 to 100 with at
    most two decimals (never rounded here, so the page lists what was typed), and not 0 — an item of no
    points would be published as +0.00 against a reason that says otherwise."""
    try:
        points = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        points = Decimal("NaN")
    if not points.is_finite():
        raise ValidationFailed(fields={"points": [_("Points: a number from -100 to 100, e.g. 2 or -1.5.")]})
    if not Decimal(-100) <= points <= Decimal(100):
        raise ValidationFailed(fields={"points": [_("Between -100 and 100.")]})
    if points != points.quantize(CENT):
        raise ValidationFailed(fields={"points": [_("Points: at most two decimals, e.g. -1.25.")]})
    if points == 0:
        zero = _("Points: an item of 0 points changes nothing; give a bonus (e.g. 2) or a penalty (e.g. -2).")
        raise ValidationFailed(fields={"points": [zero]})
    return points.quantize(CENT)


@transaction.atomic
def special_add(
    *, by: User, month: dt.date, group: str, node: Node | None = None, department: Department | None = None,
    points: Decimal, reason: str, area: Node | None = None,
) -> SpecialItem:  # fmt: skip
    """专项 for one unit in the assessment of `area` (by default the assessor's own): only its owner
    writes it (see the module's docstring), and it counts in that assessment's result only."""
    _check_group(group)
    root = owned_area(by, area)
    if (node is None) == (department is None):
        raise ValidationFailed(fields={"unit": [_("Choose one unit.")]})
    levels: dict[str, Level] = {Group.TOWN: Level.TOWN, Group.VILLAGE: Level.VILLAGE}
    wanted = levels.get(group)
    if (group == Group.DEPARTMENT and department is None) or (wanted and (node is None or node.level != wanted)):
        raise ValidationFailed(fields={"unit": [_("This unit is not one of the group's.")]})
    if node is not None:
        unit_path = node.path
    else:
        assert department is not None  # exactly one of them, checked above
        unit_path = department.jurisdiction.path
    if not unit_path.startswith(root.path):
        raise NotFound()
    if not (reason or "").strip():
        raise ValidationFailed(fields={"reason": [_("Please give the reason.")]})
    points = _points(points)
    month = month_start(month)
    # Locked as publishing locks it: an item lands before the check of a publication, or is refused.
    current = Result.objects.select_for_update().filter(node=root, month=month, group=group).first()
    if current is not None and current.published_at is not None:
        raise Conflict(_("This month is published; recompute it to change it."), code="dashboard.published")
    return SpecialItem.objects.create(
        area=root, month=month, group=group, node=node, department=department, points=points,
        reason=reason.strip()[:300], by=by, at=now(),
    )  # fmt: skip


Key = tuple[int | None, int | None]  # (node id, department id): one unit


def special_totals(*, area: Node | int, month: dt.date, group: str) -> dict[Key, tuple[Decimal, int]]:
    """Each unit's special points in one assessment, and how many items make them: what the result
    counts and the page lists."""
    out: dict[Key, tuple[Decimal, int]] = {}
    for node_id, dept_id, points in SpecialItem.objects.filter(area=area, month=month, group=group).values_list(
        "node_id", "department_id", "points"
    ):
        total, n = out.get((node_id, dept_id), (Decimal(0), 0))
        out[(node_id, dept_id)] = (total + points, n + 1)
    return out


def publish_problems(result: Result) -> tuple[list[str], list[str]]:
    """What publishing `result` now would get wrong, as the units' names: (stale, zero). Stale: units
    whose special items changed after the scores were computed — publishing would freeze other points
    than the page lists. Zero: units with special items that add up to 0 — published as 0.00."""
    totals = special_totals(area=result.node_id, month=result.month, group=result.group)
    stale: list[str] = []
    zero: list[str] = []
    for row in result.rows.all():
        total, n = totals.get((row.node_id, row.department_id), (Decimal(0), 0))
        if row.special != _q2(total):
            stale.append(row.name)
        elif n and _q2(total) == 0:
            zero.append(row.name)
    return stale, zero


def names(units: list[str]) -> str:
    """Units' names as one list in a sentence ("东村、西村" in Chinese)."""
    out = units[0] if units else ""
    for name in units[1:]:
        out = _("%(list)s, %(name)s") % {"list": out, "name": name}
    return out


def _fill(result: Result) -> None:
    root = result.node
    m = result.month
    scheme = result.scheme
    units = _units(result.group, root)
    if result.group == Group.DEPARTMENT:
        nums = indicators.for_units(
            departments=True, start=m, end=month_end(m), basic_weight=scheme.basic_weight,
            department_ids={d.pk for _n, d, _l in units if d},
        )  # fmt: skip
    else:
        level = Level.TOWN if result.group == Group.TOWN else Level.VILLAGE
        nums = indicators.for_units(
            level=level, start=m, end=month_end(m), paths=(root.path,), basic_weight=scheme.basic_weight
        )
    # The assessment's own items only: a town's items stay out of the county's result (and back).
    specials = {k: total for k, (total, _n) in special_totals(area=root, month=m, group=result.group).items()}
    empty = indicators.Numbers(
        {c: 0 for c in indicators.COUNTERS}, indicators.rates({c: 0 for c in indicators.COUNTERS})
    )
    rows = []
    for node, dept, name in units:
        n = nums.get(node.pk if node else dept.pk, empty)  # type: ignore[union-attr]  # _units gives a node or a department
        r = {k: n.rates[k] for k in RATE_KEYS}
        base = base_score(r, scheme.weights)
        special = specials.get((node.pk if node else None, dept.pk if dept else None), Decimal(0))
        rows.append(
            ResultRow(
                result=result,
                node=node,
                department=dept,
                name=name,
                orders=n.counters["total"],
                rates=r,
                base=base,
                special=_q2(special),
                score=_q2(base + special),
                rank=0,
            )
        )
    rows.sort(key=lambda x: (-x.score, -x.orders, x.name))
    for i, row in enumerate(rows):
        # Equal scores share a rank (1, 2, 2, 4): the red and black lists never split a tie.
        row.rank = rows[i - 1].rank if i and row.score == rows[i - 1].score else i + 1
    ResultRow.objects.filter(result=result).delete()
    ResultRow.objects.bulk_create(rows)


def _saved(s: Scheme) -> Scheme:
    if s.pk is None:
        s.save()
    return s


def result_compute(*, by: User, month: dt.date, group: str, reason: str = "") -> Result:
    """Score a month for one group of units. A published month is recomputed only with a reason, and
    the recomputation is logged."""
    from dashboards.rollups import apply_all

    _check_group(group)
    _root(by)  # refused before any work
    apply_all()  # what the workers have not folded in yet: before the transaction, whose locks it would keep
    return _result_compute(by=by, month=month, group=group, reason=reason)


@transaction.atomic
def _result_compute(*, by: User, month: dt.date, group: str, reason: str) -> Result:
    root = _root(by)
    month = month_start(month)
    result = Result.objects.select_for_update().filter(node=root, month=month, group=group).first()
    action = "compute"
    if result is not None and result.published_at is not None:
        if not (reason or "").strip():
            raise Conflict(
                _("This month is published. Recomputing it needs a reason, and is logged."),
                code="dashboard.published",
            )
        action = "recompute"
    if result is None:
        result = Result.objects.create(
            node=root, month=month, group=group, scheme=_saved(scheme_for(month)), computed_at=now()
        )
    else:
        result.computed_at = now()
        if action == "compute":
            result.scheme = _saved(scheme_for(month))
        result.save(update_fields=["computed_at", "scheme"])
    _fill(result)
    ResultLog.objects.create(result=result, action=action, by=by, at=now(), reason=(reason or "")[:300])
    return result


@transaction.atomic
def result_publish(*, by: User, result: Result, confirm_zero: bool = False) -> Result:
    """Freeze the result as computed — refused while special items changed after it was computed (it
    would publish other points than the page lists), and, unless `confirm_zero`, while a unit's items
    add up to 0 (published as 0.00: say it is meant)."""
    root = _root(by)
    r = Result.objects.select_for_update().filter(pk=result.pk, node=root).first()
    if r is None:
        raise NotFound()
    if r.published_at is not None:
        raise Conflict(_("This month is already published."), code="dashboard.published")
    # special_add locks the same row: no item slips in between this check and the publication.
    stale, zero = publish_problems(r)
    if stale:
        raise Conflict(
            _(
                "The special items of %(units)s changed after the scores were computed: compute again, check "
                "the scores, then publish."
            )
            % {"units": names(stale)},
            code="dashboard.stale",
        )
    if zero and not confirm_zero:
        raise Conflict(
            _(
                "The special items of %(units)s add up to 0: they would be published as 0.00. Publish anyway "
                "only if that is meant."
            )
            % {"units": names(zero)},
            code="dashboard.special_zero",
        )
    r.published_at = now()
    r.published_by = by
    r.save(update_fields=["published_at", "published_by"])
    ResultLog.objects.create(result=r, action="publish", by=by, at=now())
    return r
