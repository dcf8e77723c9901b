"""Dispatch and handling: every transition of the closed loop from 派单 to closing, duplicates, withdrawal."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils.translation import gettext as _

from catalog.models import UNCLASSIFIED, Category, LimitUnit
from core import workcal
from core.clock import now
from core.errors import Conflict, NotFound, ValidationFailed
from org.models import Department, Level, Node
from workorders import deadlines
from workorders.models import (
    Assignment,
    Callback,
    CloseReason,
    Rating,
    WorkOrder,
)
from workorders.services import routing
from workorders.services.common import (
    _event,
    _locked,
    _move,
    _unit_label,
    notify_dispatchers,
    notify_handlers,
    notify_owner,
)
from workorders.states import (
    MACHINE,
    PRIMARY_STATES,
    Action,
    State,
)

if TYPE_CHECKING:
    from accounts.models import User

# --- dispatch and handling ----------------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    department: Department | None = None
    node: Node | None = None

    def __post_init__(self) -> None:
        if (self.department is None) == (self.node is None):
            raise ValidationFailed(fields={"to": [_("Choose one handling unit: a department or a local unit.")]})
        if self.node is not None and self.node.level < Level.TOWN:
            raise ValidationFailed(fields={"to": [_("A local unit is a town, a village or a grid.")]})

    @property
    def label(self) -> str:
        return self.department.name if self.department else self.node.name  # type: ignore[union-attr]  # one of them: __post_init__


def _set_main(order: WorkOrder, unit: Unit, t: dt.datetime) -> dict[str, Any]:
    Assignment.objects.filter(order=order, active=True, role=Assignment.Role.MAIN).update(active=False, ended_at=t)
    Assignment.objects.create(
        order=order, role=Assignment.Role.MAIN, department=unit.department, node=unit.node, assigned_at=t
    )
    return {
        "department": unit.department,
        "unit_node": unit.node,
        "unit_path": unit.node.path if unit.node else "",
    }


def _key(department_id: int | None, node_id: int | None) -> tuple[str, int | None]:
    return ("d", department_id) if department_id is not None else ("n", node_id)


def _unit_key(unit: Unit) -> tuple[str, int | None]:
    return _key(unit.department.pk if unit.department else None, unit.node.pk if unit.node else None)


def _set_assists(order: WorkOrder, main: Unit, assist: list[Unit], t: dt.datetime) -> list[str]:
    """Make the order's active co-handlers (协办) what a dispatch to `main` says; their labels.

    Named co-handlers replace the previous ones (those named again keep their assignment, the others
    end); none named keeps the previous ones. Either way the main handler is never among them, and
    none is there twice."""
    current = {
        _key(a.department_id, a.node_id): a
        for a in Assignment.objects.filter(order=order, active=True, role=Assignment.Role.ASSIST)
        .select_related("department", "node")
        .order_by("id")
    }
    main_key = _unit_key(main)
    wanted: dict[tuple[str, int | None], Unit] = {}
    for u in assist:
        if _unit_key(u) != main_key:
            wanted.setdefault(_unit_key(u), u)
    ending = [a.pk for k, a in current.items() if k == main_key or (assist and k not in wanted)]
    if ending:
        Assignment.objects.filter(pk__in=ending).update(active=False, ended_at=t)
    for k, u in wanted.items():
        if k not in current:
            Assignment.objects.create(
                order=order, role=Assignment.Role.ASSIST, department=u.department, node=u.node, assigned_at=t
            )
    if assist:
        return [u.label for u in wanted.values()]
    return [
        (a.department.name if a.department else a.node.name)  # type: ignore[union-attr]  # one of them: assignment_one_unit
        for k, a in current.items()
        if k != main_key
    ]


def _drop_assist(order: WorkOrder, unit: Unit, t: dt.datetime) -> None:
    """The unit becoming the main handler stops being a co-handler of the order."""
    Assignment.objects.filter(
        order=order, active=True, role=Assignment.Role.ASSIST, department=unit.department, node=unit.node
    ).update(active=False, ended_at=t)


@transaction.atomic
def workorder_dispatch(
    *,
    order: WorkOrder,
    to: Unit,
    by: User | None,
    assist: list[Unit] | None = None,
    note: str = "",
    category: Category | None = None,
) -> WorkOrder:
    """派单 to a main handler (主办), with co-handlers (协办).

    The main handler is never also a co-handler of the order: left out of `assist` when named there,
    and, on re-dispatch (重办) to a unit that was helping, its co-handling ends. Co-handlers named here
    are the order's co-handlers from now on — the dispatcher states them anew (previous ones not named
    again end; those named again keep their assignment); none named keeps the previous co-handlers
    (the re-dispatch form starts empty, and an empty form must not drop the units still helping). A
    unit named twice is one co-handler. After a return (退单) there are none to keep: returning ends
    every assignment.

    `category` classifies the order on the way (an order still "to be classified" needs one); `by` None
    is the system (auto-dispatch, workorders.services.routing). Where the text model guessed, the event
    keeps the unit it suggested and whether the dispatcher took it: the next training learns from both.
    """
    order = _locked(order)
    if category is not None and category.pk != order.category_id:
        order = routing.workorder_reclassify(order=order, category=category, by=by)
    if order.category.code == UNCLASSIFIED:
        raise ValidationFailed(
            _("Please classify the order before dispatching it."),
            code="workorder.unclassified",
            fields={"category": [_("Please choose a category.")]},
        )
    t = now()
    fields = _set_main(order, to, t)
    helpers = _set_assists(order, to, assist or [], t)
    limits = deadlines.order_limits(order)
    if order.state == State.REOPENED:
        # 重办: the unit's rectification period runs from now — it cannot be late for the days the order
        # waited for the dispatcher. Those were on the clock too, from the reopening
        # (deadlines.reopen_clock): warned and escalated to the dispatchers, and kept in the events.
        due = deadlines.rectify_deadline(t, limits)
    else:
        due = deadlines.resolve_deadline(t, limits)
    working = order.state == State.REOPENED or limits.resolve_unit != LimitUnit.HOURS
    fields.update(
        dispatched_at=t,
        accepted_at=None,
        respond_by=deadlines.respond_deadline(t, limits.respond_hours),
        due_at=due,
        warn_at=deadlines.warn_time(t, due, limits.warn_percent, working=working),
        warned=False,
        respond_overdue=False,
        overdue=False,
    )
    _move(
        order,
        Action.DISPATCH,
        State.DISPATCHED,
        by,
        note=note,
        data={"to": to.label, "assist": helpers, "rule": limits.rule_name, **_against_suggestion(order, to)},
        **fields,
    )
    notify_handlers(order, "workorder.dispatched", _("New order %(code)s to sign for: %(title)s."))
    return order


def _against_suggestion(order: WorkOrder, to: Unit) -> dict[str, Any]:
    """What the dispatch event keeps of the suggestion it followed or overruled."""
    if order.suggested_department_id is None and order.suggested_node_id is None:
        return {}
    chosen = (to.department.pk if to.department else None, to.node.pk if to.node else None)
    return {
        "suggested_unit": (
            order.suggested_department.name if order.suggested_department_id else order.suggested_node.name  # type: ignore[union-attr]
        ),
        "took_suggestion": chosen == (order.suggested_department_id, order.suggested_node_id),
        "model": order.model_version,
    }


@transaction.atomic
def workorder_dispatch_bulk(*, orders: list[WorkOrder], by: User, to: Unit | None = None) -> list[WorkOrder]:
    """Dispatch several orders at once: to one unit, or each to its suggested unit when `to` is None."""
    done: dict[int, WorkOrder] = {}
    # In id order, as the deadline worker locks its batch: two transactions taking the same orders' locks in one
    # order never deadlock.
    for order in sorted(orders, key=lambda o: o.pk):
        unit = to
        if unit is None:
            if order.suggested_department_id is None and order.suggested_node_id is None:
                raise ValidationFailed(
                    _("Order %(code)s has no suggested unit; choose one.") % {"code": order.tracking_code},
                    code="workorder.no_suggestion",
                )
            unit = Unit(department=order.suggested_department, node=order.suggested_node)
        # An order still to be classified goes in the category the text model guessed, if it guessed one.
        category = order.suggested_category if order.category.code == UNCLASSIFIED else None
        done[order.pk] = workorder_dispatch(order=order, to=unit, by=by, category=category)
    return [done[o.pk] for o in orders]


@transaction.atomic
def workorder_reassign(*, order: WorkOrder, to: Unit, by: User, note: str = "") -> WorkOrder:
    """To another main handler; the co-handlers stay, less the new main handler (never both)."""
    order = _locked(order)
    t = now()
    fields = _set_main(order, to, t)
    _drop_assist(order, to, t)
    limits = deadlines.order_limits(order)
    # The completion clock keeps running (the order is late for the county however it moves); the new
    # unit gets its own time to sign for.
    fields.update(
        accepted_at=None, respond_by=deadlines.respond_deadline(t, limits.respond_hours), respond_overdue=False
    )
    if order.state == State.SUSPENDED:
        fields.update(_resume_fields(order, t))
    _move(order, Action.REASSIGN, State.DISPATCHED, by, note=note, data={"to": to.label}, **fields)
    notify_handlers(order, "workorder.dispatched", _("New order %(code)s to sign for: %(title)s."))
    return order


@transaction.atomic
def workorder_transfer(*, order: WorkOrder, to: Unit, by: User, note: str) -> WorkOrder:
    order = _locked(order)
    if not note.strip():
        raise ValidationFailed(fields={"note": [_("Please say why it belongs elsewhere.")]})
    if (to.department and to.department.pk == order.department_id) or (to.node and to.node.pk == order.unit_node_id):
        raise ValidationFailed(fields={"to": [_("The order is already with this unit.")]})
    t = now()
    frm = _unit_label(order)
    fields = _set_main(order, to, t)
    _drop_assist(order, to, t)  # handing it to a unit that was helping: main handler only
    limits = deadlines.order_limits(order)
    fields.update(respond_by=deadlines.respond_deadline(t, limits.respond_hours), respond_overdue=False)
    _move(order, Action.TRANSFER, State.DISPATCHED, by, note=note, data={"from": frm, "to": to.label}, **fields)
    notify_handlers(order, "workorder.dispatched", _("New order %(code)s to sign for: %(title)s."))
    return order


@transaction.atomic
def workorder_accept(*, order: WorkOrder, by: User) -> WorkOrder:
    t = now()
    late = bool(order.respond_by and t > order.respond_by) or order.respond_overdue
    _move(
        order, Action.ACCEPT, State.ACCEPTED, by, data={"unit": _unit_label(order)}, accepted_at=t, respond_overdue=late
    )
    return order


@transaction.atomic
def workorder_return(*, order: WorkOrder, by: User, reason: str, suggest: Unit | None = None) -> WorkOrder:
    if not reason.strip():
        raise ValidationFailed(fields={"reason": [_("Please give the reason for returning it.")]})
    order = _locked(order)
    t = now()
    frm = _unit_label(order)
    Assignment.objects.filter(order=order, active=True, role=Assignment.Role.MAIN).update(
        active=False, ended_at=t, returned=True
    )
    Assignment.objects.filter(order=order, active=True).update(active=False, ended_at=t)
    _move(
        order,
        Action.RETURN,
        State.RETURNED,
        by,
        note=reason,
        public=False,
        data={"from": frm, "suggest": suggest.label if suggest else ""},
        department=None,
        unit_node=None,
        unit_path="",
        respond_by=None,
        due_at=None,
        warn_at=None,
    )
    notify_dispatchers(order, "workorder.returned", _("Order %(code)s was returned by %(unit)s."), unit=frm)
    return order


@transaction.atomic
def workorder_start(*, order: WorkOrder, by: User, note: str = "") -> WorkOrder:
    _move(order, Action.START, State.IN_PROGRESS, by, note=note)
    return order


@transaction.atomic
def workorder_suspend(*, order: WorkOrder, by: User, reason: str) -> WorkOrder:
    if not reason.strip():
        raise ValidationFailed(fields={"reason": [_("Please say what you are waiting for.")]})
    _move(order, Action.SUSPEND, State.SUSPENDED, by, note=reason, suspended_at=now())
    notify_owner(order, "workorder.suspended", _("Your appeal %(code)s is waiting for you: %(reason)s"), reason=reason)
    return order


def _resume_fields(order: WorkOrder, t: dt.datetime) -> dict[str, Any]:
    """The clock stops while an order waits for the resident: push the deadlines by the time waited."""
    fields: dict[str, Any] = {"suspended_at": None}
    if order.suspended_at is None:
        return fields
    working = not deadlines.runs_around_the_clock(order)
    for name in ("due_at", "warn_at"):
        fields[name] = deadlines.after_pause(getattr(order, name), order.suspended_at, t, working=working)
    return fields


@transaction.atomic
def workorder_resume(*, order: WorkOrder, by: User, note: str = "") -> WorkOrder:
    order = _locked(order)
    _move(order, Action.RESUME, State.IN_PROGRESS, by, note=note, **_resume_fields(order, now()))
    return order


def _close_duplicates(order: WorkOrder, by: User | None, t: dt.datetime) -> None:
    for dup in WorkOrder.objects.select_for_update().filter(primary=order, state=State.DUPLICATE):
        dup.department = order.department
        _move(
            dup,
            Action.CLOSE,
            State.CLOSED,
            by,
            note=order.reply,
            # The answer belongs on the duplicate too: its reporter reads it on their own order (the
            # detail, their list of appeals), which used to stay without a reply for ever.
            reply=order.reply,
            close_reason=CloseReason.DUPLICATE,
            closed_at=t,
            data={"primary": order.tracking_code},
        )


@transaction.atomic
def workorder_resolve(*, order: WorkOrder, by: User, reply: str) -> WorkOrder:
    reply = (reply or "").strip()
    if len(reply) < 2:
        raise ValidationFailed(fields={"reply": [_("Please write the reply to the resident.")]})
    t = now()
    late = order.overdue or bool(order.due_at and t > order.due_at)
    _move(
        order,
        Action.RESOLVE,
        State.RESOLVED,
        by,
        note=reply,
        data={"unit": _unit_label(order)},
        reply=reply,
        resolved_at=t,
        overdue=late,
        rate_by=workcal.add_working_days(t, deadlines.setting("RATE_WITHIN_WORKING_DAYS")),
    )
    notify_owner(order, "workorder.resolved", _("Your appeal %(code)s has been handled. Please rate it."), sms=True)
    return order


@transaction.atomic
def workorder_answer(*, order: WorkOrder, by: User, reply: str) -> WorkOrder:
    """The dispatcher answers at once (a consultation, 直接答复): no unit needed."""
    reply = (reply or "").strip()
    if len(reply) < 2:
        raise ValidationFailed(fields={"reply": [_("Please write the reply to the resident.")]})
    t = now()
    _move(
        order,
        Action.ANSWER,
        State.RESOLVED,
        by,
        note=reply,
        reply=reply,
        resolved_at=t,
        rate_by=workcal.add_working_days(t, deadlines.setting("RATE_WITHIN_WORKING_DAYS")),
    )
    notify_owner(order, "workorder.resolved", _("Your appeal %(code)s has been handled. Please rate it."), sms=True)
    return order


def _reopen_fields(order: WorkOrder) -> dict[str, Any]:
    """A new handling round (重办), on the clock from now: its rectification deadline is set at the
    reopening, not when it is dispatched again (deadlines.reopen_clock)."""
    return {
        "round": order.round + 1,
        "callback_required": True,
        "resolved_at": None,
        "rate_by": None,
        **deadlines.reopen_clock(order, now()),
    }


@transaction.atomic
def workorder_rate(*, order: WorkOrder, by: User, solved: bool, satisfaction: int, comment: str = "") -> Rating:
    order = _locked(order)
    if Rating.objects.filter(order=order, round=order.round).exists():
        raise Conflict(_("You have already rated this order."), code="workorder.already_rated")
    if order.state != State.RESOLVED:
        raise Conflict(_("An order can be rated once it has been handled."), code="workorder.not_resolved")
    if satisfaction not in range(1, 6):
        raise ValidationFailed(fields={"satisfaction": [_("Choose one of the five levels.")]})
    rating = Rating.objects.create(
        order=order,
        round=order.round,
        solved=solved,
        satisfaction=satisfaction,
        comment=comment,
        by=by,
        at=now(),
        department_id=order.department_id,
        unit_node_id=order.unit_node_id,
    )
    data = {"solved": solved, "satisfaction": satisfaction, "round": order.round}
    if rating.is_bad:
        _move(order, Action.RATE, State.REOPENED, by, note=comment, data=data, **_reopen_fields(order))
        notify_dispatchers(
            order,
            "workorder.bad_rating",
            _("Order %(code)s was rated badly and is reopened: verify, then dispatch again or rule it unreasonable."),
        )
        notify_handlers(order, "workorder.reopened", _("Order %(code)s you handled is reopened (重办)."))
    else:
        _move(order, Action.RATE, State.RATED, by, note=comment, data=data)
    return rating


@transaction.atomic
def workorder_callback(
    *,
    order: WorkOrder,
    by: User,
    kind: str = Callback.Kind.CALLBACK,
    reached: bool,
    solved: bool | None = None,
    satisfaction: int | None = None,
    note: str = "",
) -> Callback:
    order = _locked(order)
    if order.state not in (State.RESOLVED, State.RATED, State.CLOSED):
        raise Conflict(_("Callbacks are made once an order has been handled."), code="workorder.not_resolved")
    if reached and solved is None:
        raise ValidationFailed(fields={"solved": [_("Record whether the problem was solved.")]})
    if satisfaction is not None and satisfaction not in range(1, 6):
        raise ValidationFailed(fields={"satisfaction": [_("Choose one of the five levels.")]})
    cb = Callback.objects.create(
        order=order,
        kind=kind,
        round=order.round,
        reached=reached,
        solved=solved if reached else None,
        satisfaction=satisfaction if reached else None,
        note=note,
        by=by,
        at=now(),
    )
    data = {"kind": kind, "reached": reached, "solved": solved, "satisfaction": satisfaction}
    if kind == Callback.Kind.CALLBACK and reached and order.state != State.CLOSED:
        if solved:
            t = now()
            _move(
                order,
                Action.CALLBACK,
                State.CLOSED,
                by,
                note=note,
                public=True,
                data=data,
                close_reason=CloseReason.CALLBACK,
                closed_at=t,
                callback_required=False,
            )
            _close_duplicates(order, by, t)
        else:
            _move(order, Action.CALLBACK, State.REOPENED, by, note=note, data=data, **_reopen_fields(order))
            _tell_reopened(order)
    else:
        _event(order, kind, by, note=note, data=data)
    return cb


@transaction.atomic
def workorder_reopen(*, order: WorkOrder, by: User, reason: str) -> WorkOrder:
    if not reason.strip():
        raise ValidationFailed(fields={"reason": [_("Please give the reason for reopening it.")]})
    order = _locked(order)
    # A duplicate closed with its primary and reopened is handled on its own from now on: still linked,
    # its reporter's tracking page would go on showing the finished primary instead of its progress.
    detach: dict[str, Any] = {"primary": None} if order.primary_id else {}
    if order.close_reason == CloseReason.UNREASONABLE:
        detach["excluded"] = False  # the ruling was the close; handled again, it counts again
    _move(
        order,
        Action.REOPEN,
        State.REOPENED,
        by,
        note=reason,
        closed_at=None,
        close_reason="",
        **detach,
        **_reopen_fields(order),
    )
    _tell_reopened(order)
    return order


def _tell_reopened(order: WorkOrder) -> None:
    """A reopened order (重办) waits on the dispatchers, and the unit that had it should know it comes back."""
    template = _("Order %(code)s is reopened: verify, then dispatch again or rule it unreasonable.")
    notify_dispatchers(order, "workorder.reopened", template)
    notify_handlers(order, "workorder.reopened", _("Order %(code)s you handled is reopened (重办)."))


@transaction.atomic
def workorder_rule_unreasonable(*, order: WorkOrder, by: User, reason: str) -> WorkOrder:
    """甄别: the dispatcher rules a bad rating or demand unreasonable; assessment leaves it out."""
    if not reason.strip():
        raise ValidationFailed(fields={"reason": [_("Please give the reason for the ruling.")]})
    order = _locked(order)
    t = now()
    _move(
        order,
        Action.RULE_UNREASONABLE,
        State.CLOSED,
        by,
        note=reason,
        data={"excluded": True},
        excluded=True,
        close_reason=CloseReason.UNREASONABLE,
        closed_at=t,
        callback_required=False,
    )
    _close_duplicates(order, by, t)
    return order


@transaction.atomic
def workorder_close(*, order: WorkOrder, by: User, note: str = "") -> WorkOrder:
    order = _locked(order)
    if order.callback_required and order.state in (State.RESOLVED, State.RATED):
        raise Conflict(_("This order needs a callback before it closes."), code="workorder.callback_required")
    t = now()
    reason = CloseReason.RATED if order.state == State.RATED else CloseReason.BY_DISPATCHER
    _move(order, Action.CLOSE, State.CLOSED, by, note=note, close_reason=reason, closed_at=t)
    _close_duplicates(order, by, t)
    return order


def close_on_time(order: WorkOrder) -> None:
    """The deadline worker: the rating window has passed (called inside its transaction, row locked)."""
    t = now()
    reason = CloseReason.RATED if order.state == State.RATED else CloseReason.NOT_RATED
    _move(order, Action.CLOSE, State.CLOSED, None, close_reason=reason, closed_at=t)
    _close_duplicates(order, None, t)


@transaction.atomic
def workorder_mark_duplicate(*, order: WorkOrder, primary: WorkOrder, by: User) -> WorkOrder:
    while primary.primary is not None:
        primary = primary.primary
    if primary.pk == order.pk:
        raise ValidationFailed(fields={"primary": [_("An order cannot duplicate itself.")]})
    # Both rows under lock, in id order (two dispatchers linking two orders to each other must not
    # deadlock), and the primary read afresh: linked to a primary that closed after the caller read it,
    # this order would wait for a close that has already happened (closing locks the primary too).
    rows = (
        WorkOrder.objects.select_for_update(of=("self",))
        .select_related("category", "item", "grid", "department", "unit_node")
        .filter(pk__in=[order.pk, primary.pk])
        .order_by("pk")
    )
    locked = {o.pk: o for o in rows}
    if len(locked) < 2:
        raise NotFound()
    order, primary = locked[order.pk], locked[primary.pk]
    if primary.primary_id is not None:
        raise MACHINE.race()
    if primary.state not in PRIMARY_STATES:
        raise Conflict(_("The primary order is already finished."), code="workorder.primary_finished")
    if order.duplicates.exists():
        raise Conflict(
            _("Other orders are linked to this one as duplicates, so it cannot itself become a duplicate."),
            code="workorder.has_duplicates",
        )
    Assignment.objects.filter(order=order, active=True).update(active=False, ended_at=now())
    _move(
        order,
        Action.MARK_DUPLICATE,
        State.DUPLICATE,
        by,
        data={"primary": primary.tracking_code},
        primary=primary,
        department=None,
        unit_node=None,
        unit_path="",
        respond_by=None,
        due_at=None,
        warn_at=None,
    )
    notify_owner(
        order,
        "workorder.duplicate",
        _("Your appeal %(code)s is being handled together with %(primary)s, which reports the same problem."),
        primary=primary.tracking_code,
    )
    return order


@transaction.atomic
def workorder_cancel(*, order: WorkOrder, by: User, reason: str = "") -> WorkOrder:
    order = _locked(order)
    # Other residents' appeals linked to this one wait for it to close; withdrawn, it never would,
    # and theirs would be stranded as duplicates of a cancelled order.
    if order.state == State.SUBMITTED and order.duplicates.filter(state=State.DUPLICATE).exists():
        raise Conflict(
            _("Other appeals about the same problem are linked to this one; it stays open for them."),
            code="workorder.has_duplicates",
        )
    _move(order, Action.CANCEL, State.CANCELLED, by, note=reason, closed_at=now())
    return order
