"""Scoped reads of work orders: the queues, one order's detail and timeline, similar open orders."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet

from catalog.models import Category
from core.clock import now
from core.masking import mask_name, mask_phone
from org.access import path_range
from workorders.access import orders_for, work_scope
from workorders.deadlines import setting
from workorders.models import Event, WorkOrder
from workorders.states import DISPATCH_QUEUE, FINAL_STATES, HANDLING_STATES, OPEN_STATES, State


@dataclass
class QueueFilter:
    state: str | None = None
    states: frozenset[str] | None = None
    category: Category | None = None
    department_id: int | None = None
    unit_node_id: int | None = None
    overdue: bool | None = None
    channel: str | None = None
    kind: str | None = None
    node_path: str | None = None
    q: str = ""
    mine: bool = False  # only what the user owns or submitted
    queue: str = ""  # dispatch | handle | callback | ""


def category_q(category: Category) -> Q:
    """The category and everything under it (three levels at most)."""
    return Q(category=category) | Q(category__parent=category) | Q(category__parent__parent=category)


def order_list(*, user: Any, f: QueueFilter) -> QuerySet[WorkOrder]:
    qs = orders_for(user)
    ws = work_scope(user)
    if f.mine:
        qs = qs.filter(Q(owner_user=user) | Q(submitted_by=user))
    if f.queue == "dispatch":
        qs = qs.filter(state__in=DISPATCH_QUEUE)
    elif f.queue == "handle":
        handle = Q(pk__in=[])
        if ws.department_ids:
            handle |= Q(department_id__in=ws.department_ids)
        for p in ws.handler_paths:
            handle |= path_range(p, "unit_path")
        qs = qs.filter(handle, state__in=HANDLING_STATES | {State.SUSPENDED})
    elif f.queue == "callback":
        qs = qs.filter(Q(state__in=[State.RESOLVED, State.RATED], callback_required=True))
    if f.state:
        qs = qs.filter(state=f.state)
    if f.states:
        qs = qs.filter(state__in=f.states)
    if f.category is not None:
        qs = qs.filter(category_q(f.category))
    if f.department_id:
        qs = qs.filter(department_id=f.department_id)
    if f.unit_node_id:
        qs = qs.filter(unit_node_id=f.unit_node_id)
    if f.overdue is not None:
        qs = (
            qs.filter(overdue=f.overdue) if f.overdue is False else qs.filter(Q(overdue=True) | Q(respond_overdue=True))
        )
    if f.channel:
        qs = qs.filter(channel=f.channel)
    if f.kind:
        qs = qs.filter(kind=f.kind)
    if f.node_path:
        qs = qs.filter(path_range(f.node_path, "path"))
    if f.q:
        qs = qs.filter(Q(tracking_code=f.q.upper()) | Q(title__contains=f.q))
    return qs.select_related("category", "department", "unit_node", "grid").order_by("-id")


def time_colour(order: WorkOrder, at: dt.datetime | None = None) -> str:
    """red: overdue · amber: past the warning point · green: in time · grey: no clock running."""
    t = at or now()
    if order.state not in HANDLING_STATES:
        return "grey"
    if order.overdue or (order.due_at and t >= order.due_at):
        return "red"
    if order.respond_overdue or (order.warn_at and t >= order.warn_at):
        return "amber"
    return "green"


def timeline(order: WorkOrder, *, public: bool) -> QuerySet[Event]:
    qs = Event.objects.filter(order=order).select_related("actor")
    if public:
        qs = qs.filter(public=True)
    return qs.order_by("id")


def public_actor(event: Event, order: WorkOrder) -> str:
    """Who did it, as the public timeline says it: a unit or role, never a clerk's name."""
    from django.utils.translation import gettext as _

    if event.action in ("submit", "rate", "cancel"):
        return _("Resident")
    unit = event.data.get("unit") or event.data.get("to")
    if event.action in ("dispatch", "reassign", "mark_duplicate", "answer", "callback", "reopen", "close"):
        return _("Dispatch centre")
    return str(unit or _("Handling unit"))


def reporter_name(order: WorkOrder, *, viewer: Any) -> str:
    if work_scope(viewer).sees_person(order):
        return order.contact_name
    return "" if order.anonymous else mask_name(order.contact_name)


def reporter_phone(order: WorkOrder, *, viewer: Any) -> str:
    ws = work_scope(viewer)
    if ws.is_owner(order) or order.submitted_by_id == getattr(viewer, "pk", None):
        return order.contact_phone
    if ws.covers(ws.scope.phone_paths, order.path) or ws.can_dispatch(order):
        return order.contact_phone
    return mask_phone(order.contact_phone)


def similar_open_orders(
    *, category: Category, lat: Decimal | None, lng: Decimal | None, grid_id: int | None, exclude_id: int | None = None
) -> list[tuple[WorkOrder, float | None]]:
    """Open orders of the same category, near the place and recent: probably the same problem."""
    since = now() - dt.timedelta(days=setting("DUPLICATE_WINDOW_DAYS"))
    radius_km = setting("DUPLICATE_RADIUS_M") / 1000
    qs = WorkOrder.objects.filter(
        category=category, created_at__gte=since, state__in=OPEN_STATES | {State.RESOLVED}
    ).exclude(state__in=FINAL_STATES)
    if exclude_id:
        qs = qs.exclude(pk=exclude_id)
    out: list[tuple[WorkOrder, float | None]] = []
    if lat is not None and lng is not None:
        dlat = Decimal(radius_km / 111.0)
        dlng = Decimal(radius_km / (111.0 * max(0.1, math.cos(math.radians(float(lat))))))
        near = qs.filter(lat__gte=lat - dlat, lat__lte=lat + dlat, lng__gte=lng - dlng, lng__lte=lng + dlng)
        from workorders.services import _distance_km

        for o in near.order_by("-id")[:50]:
            d = _distance_km(float(lat), float(lng), float(o.lat), float(o.lng))
            if d <= radius_km:
                out.append((o, round(d * 1000)))
        out.sort(key=lambda x: x[1] or 0)
    elif grid_id is not None:
        out = [(o, None) for o in qs.filter(grid_id=grid_id).order_by("-id")[:10]]
    return out[:10]
