"""Shared helpers for the work-order tests: API calls, a controlled clock, and orders put into any state
through the services (never by writing columns), so that each test starts from a state the real code
can reach."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from django.test import Client

from core import clock
from core.clock import SHANGHAI
from gongzhi.test import WorkWorld
from workorders import services
from workorders.models import Channel, Event, Kind, WorkOrder
from workorders.services import Unit
from workorders.states import State

A1_POINT = (Decimal("31.180100"), Decimal("115.020200"))


def at(s: str) -> dt.datetime:
    """An Asia/Shanghai wall-clock time."""
    return dt.datetime.fromisoformat(s).replace(tzinfo=SHANGHAI)


def post(client: Client, url: str, body: Any = None, **extra: Any) -> Any:
    return client.post(url, data=json.dumps(body if body is not None else {}), content_type="application/json", **extra)


def intake_body(**extra: Any) -> dict[str, Any]:
    """A street-light complaint as the API takes it, with `extra` fields."""
    b = {"kind": "complaint", "category": "010101", "text": "村口路灯坏了三天，晚上看不见路", "channel": "mobile"}
    b.update(extra)
    return b


def error_code(response: Any) -> str:
    return response.json()["error"]["code"]


class Clock:
    """`core.clock.now()` under the test's control (services, deadlines and the outbox all ask it)."""

    def __init__(self) -> None:
        self._first: Any = None
        self.t: dt.datetime | None = None

    def set(self, t: dt.datetime | str) -> dt.datetime:
        if isinstance(t, str):
            t = at(t)
        token = clock._frozen.set(t)
        if self._first is None:
            self._first = token
        self.t = t
        return t

    def advance(self, **kw: float) -> dt.datetime:
        assert self.t is not None, "set the clock first"
        return self.set(self.t + dt.timedelta(**kw))

    def reset(self) -> None:
        if self._first is not None:
            clock._frozen.reset(self._first)
            self._first = None


def fresh(order: WorkOrder) -> WorkOrder:
    return WorkOrder.objects.select_related("category", "item", "grid", "department", "unit_node").get(pk=order.pk)


def events(order: WorkOrder) -> list[tuple[str, str, str]]:
    return list(Event.objects.filter(order=order).order_by("id").values_list("action", "from_state", "to_state"))


_STREETLIGHT: Any = object()


def submit(
    world: WorkWorld, *, by: Any = None, category: Any = _STREETLIGHT, text: str = "村口路灯坏了三天", **kw: Any
):
    """An order filed by 张阿姨 (by default) about a street light in her grid (category=None for a
    service order, whose item names it)."""
    kw.setdefault("kind", Kind.COMPLAINT)
    kw.setdefault("channel", Channel.MOBILE)
    if category is _STREETLIGHT:
        category = world.streetlight
    return services.workorder_submit(by=by or world.c.u_zhang, category=category, text=text, **kw).order


def housing(world: WorkWorld) -> Unit:
    return Unit(department=world.housing)


def civil(world: WorkWorld) -> Unit:
    return Unit(department=world.c.civil_affairs)


def order_in(world: WorkWorld, state: str, **submit_kw: Any) -> WorkOrder:
    """A street-light order of 张阿姨's brought to `state` by the people who would do it."""
    c = world.c
    o = submit(world, **submit_kw)
    if state == State.SUBMITTED:
        return fresh(o)
    if state == State.CANCELLED:
        services.workorder_cancel(order=o, by=c.u_zhang, reason="已自行解决")
        return fresh(o)
    if state == State.DUPLICATE:
        primary = submit(world, text="村口路灯不亮")
        services.workorder_mark_duplicate(order=fresh(o), primary=primary, by=c.u_zhao)
        return fresh(o)
    services.workorder_dispatch(order=fresh(o), to=housing(world), by=c.u_zhao)
    if state == State.DISPATCHED:
        return fresh(o)
    if state == State.RETURNED:
        services.workorder_return(order=fresh(o), by=world.u_feng, reason="不属于本单位")
        return fresh(o)
    services.workorder_accept(order=fresh(o), by=world.u_feng)
    if state == State.ACCEPTED:
        return fresh(o)
    services.workorder_start(order=fresh(o), by=world.u_feng)
    if state == State.IN_PROGRESS:
        return fresh(o)
    if state == State.SUSPENDED:
        services.workorder_suspend(order=fresh(o), by=world.u_feng, reason="等待居民提供照片")
        return fresh(o)
    services.workorder_resolve(order=fresh(o), by=world.u_feng, reply="已更换灯泡")
    if state == State.RESOLVED:
        return fresh(o)
    if state == State.REOPENED:
        services.workorder_rate(order=fresh(o), by=c.u_zhang, solved=False, satisfaction=1, comment="还是不亮")
        return fresh(o)
    services.workorder_rate(order=fresh(o), by=c.u_zhang, solved=True, satisfaction=5)
    if state == State.RATED:
        return fresh(o)
    if state == State.CLOSED:
        services.workorder_close(order=fresh(o), by=c.u_zhao)
        return fresh(o)
    raise AssertionError(f"no recipe for {state}")
