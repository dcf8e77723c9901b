"""Every write to work orders. Views, the API, the demo loader and the deadline worker call these.

Each state change goes through `_move`: the transition table in states.py says whether it is allowed,
a compare-and-set UPDATE (… WHERE id = %s AND state = old) makes sure nobody changed the order since it
was read, and an Event row records it in the same transaction. Two handlers signing for one order at
the same moment: one UPDATE matches, the other gets 409.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Role, RoleAssignment
from catalog import services as catalog
from catalog.models import Category, LimitUnit, ServiceItem, Urgency
from core import workcal
from core.clock import now
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from core.fastinsert import insert
from core.geo import PointIndex
from core.memo import memo
from notify.services import message_queue
from org.access import residents_for
from org.models import Department, Level, Node, Resident, path_prefixes
from workorders import deadlines
from workorders.access import work_scope
from workorders.models import (
    Assignment,
    Callback,
    Channel,
    CloseReason,
    Event,
    Extension,
    Kind,
    Rating,
    WorkOrder,
)
from workorders.states import (
    EXTENSION,
    HANDLING_STATES,
    MACHINE,
    PRIMARY_STATES,
    Action,
    State,
)

TRACKING_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read out over the phone
TRACKING_LENGTH = 10
RESIDENT_CHANNELS = frozenset({Channel.WEB, Channel.MOBILE, Channel.API})


def _label(user: Any) -> str:
    return str(user) if user is not None else str(gettext_lazy("system"))


def _unit_label(order: WorkOrder) -> str:
    if order.department_id:
        return order.department.name
    if order.unit_node_id:
        return order.unit_node.name
    return ""


def _fmt(t: dt.datetime | None) -> str:
    if t is None:
        return ""
    from core.clock import SHANGHAI

    return formats.date_format(t.astimezone(SHANGHAI), "Y-m-d H:i")


# --- events and notifications -----------------------------------------------------------------


def _event(
    order: WorkOrder,
    action: str,
    by: Any,
    *,
    from_state: str = "",
    to_state: str = "",
    note: str = "",
    public: bool = False,
    data: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> Event:
    return insert(
        Event(
            order=order,
            action=action,
            from_state=from_state,
            to_state=to_state,
            actor=by,
            actor_label=_label(by)[:80],
            at=at or now(),
            note=note,
            public=public,
            data=data or {},
        )
    )


def system_event(order: WorkOrder, action: str, note: str) -> Event:
    return _event(order, action, None, note=note, public=False)


def _text(template: str, order: WorkOrder, **kw: Any) -> str:
    values = {"code": order.tracking_code, "title": order.title}
    values.update({k: _fmt(v) if isinstance(v, dt.datetime) else v for k, v in kw.items()})
    return template % values


def _link(order: WorkOrder) -> str:
    return f"/workorders/{order.pk}/"


def handler_users(order: WorkOrder) -> list[Any]:
    """The people of the current main handling unit."""
    if order.department_id:
        qs = RoleAssignment.objects.filter(department_id=order.department_id)
    elif order.unit_node_id:
        prefixes = path_prefixes(order.unit_path)
        qs = RoleAssignment.objects.filter(
            role__in=[Role.TOWN_STAFF, Role.VILLAGE_STAFF, Role.GRID_WORKER], node__path__in=prefixes
        )
    else:
        return []
    return list({a.user for a in qs.select_related("user")})


def notify_handlers(order: WorkOrder, kind: str, template: str, **kw: Any) -> None:
    text = _text(template, order, **kw)
    for user in handler_users(order):
        message_queue(user=user, kind=kind, text=text, link=_link(order))


def notify_dispatchers(order: WorkOrder, kind: str, template: str, **kw: Any) -> None:
    text = _text(template, order, **kw)
    prefixes = path_prefixes(order.path)
    users = {
        a.user
        for a in RoleAssignment.objects.filter(role=Role.DISPATCHER, node__path__in=prefixes).select_related("user")
    }
    for user in users:
        message_queue(user=user, kind=kind, text=text, link=_link(order))


def notify_owner(order: WorkOrder, kind: str, template: str, *, sms: bool = False, **kw: Any) -> None:
    """Tell the resident (and, through their own orders, the reporters of its duplicates)."""
    text = _text(template, order, **kw)
    targets = [order, *order.duplicates.exclude(state=State.CANCELLED)]
    for o in targets:
        user = o.owner_user or (o.submitted_by if o.owner_id is None else None)
        message_queue(user=user, phone=o.contact_phone, kind=kind, text=text, link=f"/track/{o.tracking_code}", sms=sms)


# --- the one state mover ----------------------------------------------------------------------


def _move(
    order: WorkOrder,
    action: str,
    to_state: str,
    by: Any,
    *,
    note: str = "",
    public: bool = True,
    data: dict[str, Any] | None = None,
    **fields: Any,
) -> Event:
    t = now()
    fields.update(updated_at=t)
    moved = MACHINE.move(
        order,
        action,
        to_state,
        fields=fields,
        derive=lambda o: {"next_check_at": deadlines.next_check(o)},
        record=lambda frm, to: _event(
            order, action, by, from_state=frm, to_state=to, note=note, public=public, data=data, at=t
        ),
    )
    assert moved.event is not None
    return moved.event


def _locked(order: WorkOrder) -> WorkOrder:
    """Re-read the order under a row lock, so that side effects decided from it stay true."""
    fresh = (
        WorkOrder.objects.select_for_update(of=("self",))
        .select_related("category__parent__parent", "item", "grid", "department", "unit_node")
        .filter(pk=order.pk)
        .first()
    )
    if fresh is None:
        raise NotFound()
    return fresh


# --- intake -----------------------------------------------------------------------------------


def _grid_index() -> PointIndex:
    return PointIndex(
        Node.objects.filter(level=Level.GRID, lat__isnull=False, lng__isnull=False).values_list(
            "id", "lat", "lng", "path", "name", "code", "parent_id"
        )
    )


def locate_grid(lat: Decimal, lng: Decimal) -> Node:
    """The grid whose centre is nearest to a point, if the point lies within reach of one. The grid
    centres are kept in memory (core.memo "org"): intake locates every report."""
    reach = deadlines.setting("LOCATE_MAX_KM")
    best = memo("org").get("grid-index", _grid_index).nearest(float(lat), float(lng), reach)
    if best is None:
        raise ValidationFailed(
            _("This place lies outside the area we serve."),
            code="workorder.location_outside",
            fields={"lat": [_("This place lies outside the area we serve.")]},
        )
    pk, glat, glng, path, name, code, parent_id = best[1]
    return Node(id=pk, lat=glat, lng=glng, path=path, name=name, code=code, parent_id=parent_id, level=Level.GRID)


def _new_tracking_code() -> str:
    return "".join(secrets.choice(TRACKING_ALPHABET) for _ in range(TRACKING_LENGTH))


@dataclass
class Submitted:
    order: WorkOrder
    created: bool


def workorder_submit(
    *,
    by: Any,
    kind: str,
    category: Category | None,
    text: str,
    channel: str,
    title: str = "",
    item: ServiceItem | None = None,
    urgency: str = Urgency.NORMAL,
    owner: Resident | None = None,
    grid: Node | None = None,
    lat: Decimal | None = None,
    lng: Decimal | None = None,
    address: str = "",
    contact_name: str = "",
    contact_phone: str = "",
    anonymous: bool = False,
    form_data: dict[str, Any] | None = None,
    idempotency_key: str = "",
    at: dt.datetime | None = None,
) -> Submitted:
    """File an appeal or a service order into the one pool.

    A retried submission with the same idempotency key returns the order the first one made.
    """
    # The key is looked up only when the insert breaks its unique constraint: the first try of every
    # submission (nearly all of them) costs no extra query.
    try:
        order = _submit(
            by=by,
            kind=kind,
            category=category,
            text=text,
            channel=channel,
            title=title,
            item=item,
            urgency=urgency,
            owner=owner,
            grid=grid,
            lat=lat,
            lng=lng,
            address=address,
            contact_name=contact_name,
            contact_phone=contact_phone,
            anonymous=anonymous,
            form_data=form_data or {},
            idempotency_key=idempotency_key,
            at=at,
        )
        return Submitted(order, True)
    except IntegrityError:
        # A retry, or the same key twice at once: the first request made the order.
        if idempotency_key and by is not None:
            existing = WorkOrder.objects.filter(submitted_by=by, idempotency_key=idempotency_key).first()
            if existing is not None:
                return Submitted(existing, False)
        raise


def _submit(
    *,
    by: Any,
    kind: str,
    category: Category | None,
    text: str,
    channel: str,
    title: str,
    item: ServiceItem | None,
    urgency: str,
    owner: Resident | None,
    grid: Node | None,
    lat: Decimal | None,
    lng: Decimal | None,
    address: str,
    contact_name: str,
    contact_phone: str,
    anonymous: bool,
    form_data: dict[str, Any],
    idempotency_key: str,
    at: dt.datetime | None,
) -> WorkOrder:
    errors: dict[str, list[str]] = {}
    text = (text or "").strip()
    if len(text) < 2:
        errors["text"] = [_("Please describe the problem.")]
    if kind not in Kind.values:
        errors["kind"] = [_("Unknown type.")]
    if channel not in Channel.values:
        errors["channel"] = [_("Unknown channel.")]
    if urgency not in Urgency.values:
        errors["urgency"] = [_("Unknown urgency.")]
    if kind == Kind.SERVICE:
        if item is None:
            errors["item"] = [_("A service order needs a service item.")]
        elif category is None:
            category = item.category
    elif item is not None:
        errors["item"] = [_("Only service orders name a service item.")]
    if category is None and "item" not in errors:
        errors["category"] = [_("Please choose a category.")]
    elif category is not None and not category.is_active:
        errors["category"] = [_("This category is no longer in use.")]
    if errors:
        raise ValidationFailed(fields=errors)
    cleaned_form = catalog.clean_form_data(item, form_data)

    ws = work_scope(by)
    scope = ws.scope
    proxying = owner is not None and owner.pk != scope.own_resident_id
    if proxying:
        if not ws.proxy_paths and not scope.linked_household_ids:
            raise PermissionDenied(_("Only staff and party members may file an appeal for someone else."))
        if not residents_for(by).filter(pk=owner.pk).exists():
            raise NotFound(_("No such resident in your area."), code="resident.not_found")
    elif owner is None and scope.own is not None and channel in RESIDENT_CHANNELS:
        owner = scope.own.instance()
    if channel in RESIDENT_CHANNELS - {Channel.API} and proxying:
        channel = Channel.PROXY
    if channel not in RESIDENT_CHANNELS and not ws.proxy_paths and not scope.linked_household_ids:
        raise PermissionDenied(_("Only staff may enter orders from this channel."))

    if lat is not None and lng is not None:
        grid = locate_grid(lat, lng)
    elif (lat is None) != (lng is None):
        raise ValidationFailed(fields={"lat": [_("Give both latitude and longitude, or neither.")]})
    if grid is None and owner is not None:
        grid_id = scope.own.grid_id if scope.own is not None and owner.pk == scope.own.id else None
        grid = Node.objects.get(pk=grid_id) if grid_id else owner.household.grid
    if grid is None:
        raise ValidationFailed(fields={"grid": [_("Please say where the problem is.")]})
    if grid.level != Level.GRID:
        raise ValidationFailed(fields={"grid": [_("Please choose a grid.")]})

    if owner is not None:
        contact_name = contact_name or owner.name
        contact_phone = contact_phone or owner.phone
    if not contact_name:
        contact_name = str(by) if by is not None else ""
    if not contact_name:
        raise ValidationFailed(fields={"contact_name": [_("Please say who we should reply to.")]})

    t = at or now()
    suggestion = catalog.suggest_unit(category=category, item=item, grid=grid)
    title = (title or "").strip() or (item.name if item else f"{category.name}：{text[:30]}")
    # Everything above only reads; the write lock (SQLite has one per database) is held for the inserts
    # alone. A clash of tracking codes (32^10 of them) starts the transaction again with a new code.
    for _attempt in range(5):
        try:
            with transaction.atomic():
                return _insert_order(
                    WorkOrder(
                        tracking_code=_new_tracking_code(),
                        kind=kind,
                        channel=channel,
                        urgency=urgency,
                        category=category,
                        item=item,
                        title=title[:80],
                        text=text,
                        form_data=cleaned_form,
                        grid=grid,
                        path=grid.path,
                        address=address,
                        lat=lat,
                        lng=lng,
                        owner=owner,
                        owner_user_id=owner.user_id
                        if owner is not None
                        else by.pk
                        if by is not None and not proxying
                        else None,
                        submitted_by=by,
                        contact_name=contact_name[:40],
                        contact_phone=contact_phone,
                        anonymous=anonymous,
                        idempotency_key=idempotency_key,
                        suggested_department_id=suggestion.department_id,
                        suggested_node_id=suggestion.node_id,
                        created_at=t,
                        updated_at=t,
                    ),
                    by=by,
                    at=t,
                    proxying=proxying,
                )
        except IntegrityError as exc:
            if "tracking_code" not in str(exc) and "workorder.tracking" not in str(exc).lower():
                raise
    # pragma: no cover - five clashes in a row means something else is wrong
    raise Conflict(_("Please try again."), code="workorder.code_collision")


def _insert_order(order: WorkOrder, *, by: Any, at: dt.datetime, proxying: bool) -> WorkOrder:
    insert(order)
    event = _event(
        order,
        "submit",
        by,
        to_state=State.SUBMITTED,
        public=True,
        at=at,
        data={"channel": order.channel, "proxy": proxying},
    )
    order.fresh_events = [event]  # the whole timeline of a new order: the answer needs no query for it
    if proxying:
        notify_owner(
            order,
            "workorder.proxy",
            _("%(who)s has filed an appeal for you: %(title)s. Tracking code %(code)s."),
            sms=True,
            who=str(by),
        )
    return order


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
        return self.department.name if self.department else self.node.name  # type: ignore[union-attr]


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


def _add_assist(order: WorkOrder, units: list[Unit], t: dt.datetime) -> None:
    for u in units:
        if u.department is not None and u.department.pk == order.department_id:
            continue
        Assignment.objects.create(
            order=order, role=Assignment.Role.ASSIST, department=u.department, node=u.node, assigned_at=t
        )


@transaction.atomic
def workorder_dispatch(
    *, order: WorkOrder, to: Unit, by: Any, assist: list[Unit] | None = None, note: str = ""
) -> WorkOrder:
    order = _locked(order)
    t = now()
    fields = _set_main(order, to, t)
    limits = deadlines.order_limits(order)
    if order.state == State.REOPENED:
        # 重办: the rectification period, from now.
        due = workcal.add_working_days(t, deadlines.setting("RECTIFY_WORKING_DAYS"))
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
        data={"to": to.label, "assist": [u.label for u in assist or []], "rule": limits.rule_name},
        **fields,
    )
    _add_assist(order, assist or [], t)
    notify_handlers(order, "workorder.dispatched", _("New order %(code)s to sign for: %(title)s."))
    return order


@transaction.atomic
def workorder_dispatch_bulk(*, orders: list[WorkOrder], by: Any, to: Unit | None = None) -> list[WorkOrder]:
    """Dispatch several orders at once: to one unit, or each to its suggested unit when `to` is None."""
    done = []
    for order in orders:
        unit = to
        if unit is None:
            if order.suggested_department_id is None and order.suggested_node_id is None:
                raise ValidationFailed(
                    _("Order %(code)s has no suggested unit; choose one.") % {"code": order.tracking_code},
                    code="workorder.no_suggestion",
                )
            unit = Unit(department=order.suggested_department, node=order.suggested_node)
        done.append(workorder_dispatch(order=order, to=unit, by=by))
    return done


@transaction.atomic
def workorder_reassign(*, order: WorkOrder, to: Unit, by: Any, note: str = "") -> WorkOrder:
    order = _locked(order)
    t = now()
    fields = _set_main(order, to, t)
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
def workorder_transfer(*, order: WorkOrder, to: Unit, by: Any, note: str) -> WorkOrder:
    order = _locked(order)
    if not note.strip():
        raise ValidationFailed(fields={"note": [_("Please say why it belongs elsewhere.")]})
    if (to.department and to.department.pk == order.department_id) or (to.node and to.node.pk == order.unit_node_id):
        raise ValidationFailed(fields={"to": [_("The order is already with this unit.")]})
    t = now()
    frm = _unit_label(order)
    fields = _set_main(order, to, t)
    limits = deadlines.order_limits(order)
    fields.update(respond_by=deadlines.respond_deadline(t, limits.respond_hours), respond_overdue=False)
    _move(order, Action.TRANSFER, State.DISPATCHED, by, note=note, data={"from": frm, "to": to.label}, **fields)
    notify_handlers(order, "workorder.dispatched", _("New order %(code)s to sign for: %(title)s."))
    return order


@transaction.atomic
def workorder_accept(*, order: WorkOrder, by: Any) -> WorkOrder:
    t = now()
    late = bool(order.respond_by and t > order.respond_by) or order.respond_overdue
    _move(
        order, Action.ACCEPT, State.ACCEPTED, by, data={"unit": _unit_label(order)}, accepted_at=t, respond_overdue=late
    )
    return order


@transaction.atomic
def workorder_return(*, order: WorkOrder, by: Any, reason: str, suggest: Unit | None = None) -> WorkOrder:
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
def workorder_start(*, order: WorkOrder, by: Any, note: str = "") -> WorkOrder:
    _move(order, Action.START, State.IN_PROGRESS, by, note=note)
    return order


@transaction.atomic
def workorder_suspend(*, order: WorkOrder, by: Any, reason: str) -> WorkOrder:
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
def workorder_resume(*, order: WorkOrder, by: Any, note: str = "") -> WorkOrder:
    order = _locked(order)
    _move(order, Action.RESUME, State.IN_PROGRESS, by, note=note, **_resume_fields(order, now()))
    return order


def _close_duplicates(order: WorkOrder, by: Any, t: dt.datetime) -> None:
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
def workorder_resolve(*, order: WorkOrder, by: Any, reply: str) -> WorkOrder:
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
def workorder_answer(*, order: WorkOrder, by: Any, reply: str) -> WorkOrder:
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
    return {"round": order.round + 1, "callback_required": True, "resolved_at": None, "rate_by": None}


@transaction.atomic
def workorder_rate(*, order: WorkOrder, by: Any, solved: bool, satisfaction: int, comment: str = "") -> Rating:
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
    else:
        _move(order, Action.RATE, State.RATED, by, note=comment, data=data)
    return rating


@transaction.atomic
def workorder_callback(
    *,
    order: WorkOrder,
    by: Any,
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
    else:
        _event(order, kind, by, note=note, data=data)
    return cb


@transaction.atomic
def workorder_reopen(*, order: WorkOrder, by: Any, reason: str) -> WorkOrder:
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
    return order


@transaction.atomic
def workorder_rule_unreasonable(*, order: WorkOrder, by: Any, reason: str) -> WorkOrder:
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
def workorder_close(*, order: WorkOrder, by: Any, note: str = "") -> WorkOrder:
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
def workorder_mark_duplicate(*, order: WorkOrder, primary: WorkOrder, by: Any) -> WorkOrder:
    while primary.primary_id is not None:
        primary = primary.primary  # type: ignore[assignment]
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
def workorder_cancel(*, order: WorkOrder, by: Any, reason: str = "") -> WorkOrder:
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


# --- non-transition steps -----------------------------------------------------------------------


@transaction.atomic
def extension_request(*, order: WorkOrder, by: Any, days: int, reason: str) -> Extension:
    order = _locked(order)
    if order.state not in HANDLING_STATES - {State.DISPATCHED} and order.state != State.SUSPENDED:
        raise Conflict(_("Sign for the order before asking for more time."), code="workorder.transition_not_allowed")
    if not reason.strip():
        raise ValidationFailed(fields={"reason": [_("Please give the reason for the extension.")]})
    if not 1 <= days <= 30:
        raise ValidationFailed(fields={"days": [_("Between 1 and 30 working days.")]})
    # While an order waits for the resident its clock stands still: what counts is the time left when
    # it stopped, not a deadline that resuming will push back anyway.
    clock = order.suspended_at if order.state == State.SUSPENDED and order.suspended_at else now()
    if order.due_at is None or clock >= order.due_at or order.overdue:
        raise Conflict(_("An extension must be asked for before the deadline."), code="workorder.extension_too_late")
    if Extension.objects.filter(order=order, status=Extension.Status.PENDING).exists():
        raise Conflict(_("An extension request is already waiting."), code="workorder.extension_pending")
    ext = Extension.objects.create(order=order, days=days, reason=reason, requested_by=by, requested_at=now())
    _event(order, "extension_request", by, note=reason, data={"days": days, "extension": ext.pk})
    notify_dispatchers(order, "workorder.extension", _("Order %(code)s: more time requested."))
    return ext


@transaction.atomic
def extension_decide(*, extension: Extension, by: Any, approve: bool, note: str = "") -> Extension:
    ext = Extension.objects.select_for_update().get(pk=extension.pk)
    EXTENSION.check(ext, "approve" if approve else "refuse")
    order = _locked(ext.order)
    t = now()
    EXTENSION.move(
        ext, "approve" if approve else "refuse", fields={"decided_by": by, "decided_at": t, "decision_note": note}
    )
    if approve and order.due_at is not None:
        old_due = order.due_at
        limits = deadlines.order_limits(order)
        order.due_at = deadlines.extend_by_working_days(order.due_at, ext.days)
        # The rule's own warning share (it was a fixed 75 %).
        order.warn_at = deadlines.warn_time(t, order.due_at, limits.warn_percent)
        order.warned = False
        # The request was made in time (extension_request refuses late ones); if the worker flagged
        # the order overdue while the dispatcher was deciding, the approved deadline is what counts.
        order.overdue = order.overdue and order.due_at <= t
        order.next_check_at = deadlines.next_check(order)
        WorkOrder.objects.filter(pk=order.pk).update(
            due_at=order.due_at,
            warn_at=order.warn_at,
            warned=False,
            overdue=order.overdue,
            next_check_at=order.next_check_at,
            updated_at=t,
        )
        _event(
            order,
            "extension_approved",
            by,
            note=note,
            public=True,
            data={"days": ext.days, "old_due": old_due.isoformat(), "new_due": order.due_at.isoformat()},
        )
        notify_owner(
            order,
            "workorder.extended",
            _("The time limit of your appeal %(code)s was extended to %(due)s."),
            due=order.due_at,
        )
    else:
        _event(order, "extension_refused", by, note=note, data={"days": ext.days})
    notify_handlers(order, "workorder.extension_decided", _("Order %(code)s: your extension request was decided."))
    return ext


@transaction.atomic
def workorder_exclude(*, order: WorkOrder, by: Any, note: str) -> WorkOrder:
    """Leave the order out of the assessment rates (甄别, on an approved appeal); its log says why. The
    order's state does not change: what it counts for does."""
    t = now()
    WorkOrder.objects.filter(pk=order.pk).update(excluded=True, updated_at=t)
    order.excluded, order.updated_at = True, t
    _event(order, "excluded", by, note=note, public=False, at=t)
    return order


@transaction.atomic
def workorder_supervise(*, order: WorkOrder, by: Any, level: str, note: str = "") -> Event:
    """催办 (urge) or 督办 (formal supervision) of work in hand."""
    if level not in ("urge", "supervise"):
        raise ValidationFailed(fields={"level": [_("Choose urge or supervise.")]})
    if order.state not in HANDLING_STATES | {State.SUSPENDED}:
        raise Conflict(_("Only work in hand can be urged."), code="workorder.transition_not_allowed")
    event = _event(order, level, by, note=note, data={"unit": _unit_label(order)})
    template = (
        _("Order %(code)s: please speed up (催办).")
        if level == "urge"
        else _("Order %(code)s is under supervision (督办). Please report progress.")
    )
    notify_handlers(order, f"workorder.{level}", template)
    return event


@transaction.atomic
def workorder_note(*, order: WorkOrder, by: Any, note: str, public: bool = False) -> Event:
    note = (note or "").strip()
    if not note:
        raise ValidationFailed(fields={"note": [_("The note is empty.")]})
    return _event(order, "note", by, note=note, public=public)
