"""What every work-order service shares: labels, the event row and the notifications, and the one state
mover (`_move`, on core.fsm) with the row lock that side effects decide under."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.utils import formats
from django.utils.translation import gettext_lazy

from accounts.models import RoleAssignment, User
from core.clock import now
from core.errors import NotFound
from core.fastinsert import insert
from notify import webhooks
from notify.services import message_queue
from org.models import path_prefixes
from org.policy import Cap, holders
from workorders import deadlines
from workorders.models import (
    Channel,
    Event,
    WorkOrder,
)
from workorders.states import (
    MACHINE,
    State,
)

TRACKING_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read out over the phone
TRACKING_LENGTH = 10
# Where residents file their own appeals (and apps for them: a civic app speaking Open311 is one).
RESIDENT_CHANNELS = frozenset({Channel.WEB, Channel.MOBILE, Channel.API, Channel.OPEN311})


def _label(user: User | None) -> str:
    return str(user) if user is not None else str(gettext_lazy("system"))


def _unit_label(order: WorkOrder) -> str:
    if order.department is not None:
        return order.department.name
    if order.unit_node is not None:
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
    by: User | None,
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


_recipients: ContextVar[dict[tuple[str, object], Any] | None] = ContextVar("recipients", default=None)


@contextmanager
def recipients_memo() -> Iterator[None]:
    """Within the block, who is told of an order is looked up once per unit and per place (a worker acting
    on a batch of orders in one transaction: the people cannot change under it)."""
    token = _recipients.set({})
    try:
        yield
    finally:
        _recipients.reset(token)


def _memo(key: tuple[str, object], compute: Callable[[], Any]) -> Any:
    memo = _recipients.get()
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]


def handler_users(order: WorkOrder) -> list[Any]:
    """The people of the current main handling unit."""
    if order.department_id:
        dept = order.department_id
        return _memo(("handlers-dept", dept), lambda: _users(RoleAssignment.objects.filter(department_id=dept)))
    if order.unit_node_id:
        prefixes = path_prefixes(order.unit_path)
        return _memo(
            ("handlers-node", order.unit_path),
            lambda: _users(RoleAssignment.objects.filter(holders(Cap.ORDERS_HANDLE), node__path__in=prefixes)),
        )
    return []


def _users(qs: Any) -> list[Any]:
    return list({a.user for a in qs.select_related("user")})


def notify_handlers(order: WorkOrder, kind: str, template: str, **kw: Any) -> None:
    text = _text(template, order, **kw)
    for user in handler_users(order):
        message_queue(user=user, kind=kind, text=text, link=_link(order))


def notify_dispatchers(order: WorkOrder, kind: str, template: str, **kw: Any) -> None:
    text = _text(template, order, **kw)
    prefixes = path_prefixes(order.path)
    users = _memo(
        ("dispatchers", order.path),
        lambda: _users(RoleAssignment.objects.filter(holders(Cap.ORDERS_TRIAGE), node__path__in=prefixes)),
    )
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


# Which moves other systems hear of (notify.webhooks): the event type a move to a state (or an action) is.
HOOKED_STATES: dict[str, str] = {
    State.DISPATCHED: "workorder.dispatched",
    State.RESOLVED: "workorder.resolved",
    State.CLOSED: "workorder.closed",
}
HOOKED_ACTIONS = {"rate": "workorder.rated"}


def hook_payload(order: WorkOrder) -> dict[str, Any]:
    """What a subscribed system is told of an order: where it is in the loop, never who the resident is.
    `reference` is the order's key in the system that sent it ("<source>:<number>" for a 12345 hotline's)."""
    return {
        "id": order.pk,
        "tracking_code": order.tracking_code,
        "kind": order.kind,
        "channel": order.channel,
        "category": order.category.code if order.category_id else None,
        "grid": order.grid.code if order.grid_id else None,
        "state": order.state,
        "round": order.round,
        "department": order.department.code if order.department is not None else None,
        "unit_node": order.unit_node.code if order.unit_node is not None else None,
        "reply": order.reply,
        "reference": order.idempotency_key if order.channel == Channel.HOTLINE else "",
        # Times as datetimes: notify.webhooks writes them as ISO 8601 with their offset.
        "created_at": order.created_at,
        "due_at": order.due_at,
        "resolved_at": order.resolved_at,
        "closed_at": order.closed_at,
        "updated_at": order.updated_at,
    }


def publish(order: WorkOrder, event_type: str) -> None:
    """Tell subscribed systems, in the caller's transaction (nothing is told of a change that rolled back).
    Without a subscription for the type this costs no query (notify.webhooks)."""
    if webhooks.wanted(event_type):
        webhooks.publish(event_type, hook_payload(order), path=order.path)


def _move(
    order: WorkOrder,
    action: str,
    to_state: str,
    by: User | None,
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
    hooked = HOOKED_ACTIONS.get(action) or HOOKED_STATES.get(moved.to_state)
    if hooked is not None:
        publish(order, hooked)
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
