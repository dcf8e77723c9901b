"""The live feed of one-key calls as Server-Sent Events (ARCHITECTURE.md: an async view under ASGI,
fed from the CallEvent table by id, so it works whichever process raised the call or fired the
escalation).

One poller per server process reads new events (every POLL_SECONDS while anyone listens) and hands
each to the listeners allowed to see it; a client that reconnects sends Last-Event-ID (or ?after=) and
first gets what it missed. Each event carries the call as it now is, so a screen needs no second trip.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils.translation import gettext as _

from sos.models import Call, CallEvent
from sos.selectors import CallGate, call_gate
from sos.states import State

if TYPE_CHECKING:
    from accounts.models import User

POLL_SECONDS = 0.2
HEARTBEAT_SECONDS = 15
BACKLOG_MAX = 200


def viewer_for(user: User) -> CallGate:
    """The gate of sos.selectors.calls_for, held in memory for a stream's life (the same predicate)."""
    return call_gate(user)


def _rows(after: int, upto: int | None = None, limit: int = 500) -> list[dict[str, Any]]:
    qs = CallEvent.objects.filter(id__gt=after).select_related("call__profile__resident", "call__responder")
    if upto is not None:
        qs = qs.filter(id__lte=upto)
    out = []
    for e in qs.order_by("id")[:limit]:
        c = e.call
        out.append(
            {
                "id": e.pk,
                "path": c.path,
                "profile_id": c.profile_id,
                "owner_user_id": c.profile.resident.user_id,
                "event": {
                    "id": e.pk,
                    "action": e.action,
                    "level": e.level,
                    "at": e.at,
                    "actor": e.actor_label,
                    "note": e.note,
                    "to_users": e.to_users,
                },
                "call": {
                    "id": c.pk,
                    "resident_name": c.profile.resident.name,
                    "kind": c.kind,
                    "kind_label": str(Call.Kind(c.kind).label),
                    "state": c.state,
                    "state_label": str(State(c.state).label),
                    "stage": c.stage,
                    "level": c.level,
                    "raised_at": c.raised_at,
                    "responder_name": str(c.responder) if c.responder_id else None,
                },
            }
        )
    return out


def _last_id() -> int:
    return CallEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


@dataclass(eq=False)
class _Listener:
    sees: Callable[[dict[str, Any]], bool]
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)


class Hub:
    """The one poller of this process's event loop."""

    def __init__(self) -> None:
        self.listeners: set[_Listener] = set()
        self.last_id: int | None = None
        self.task: asyncio.Task | None = None

    async def join(self, sees: Callable[[dict[str, Any]], bool]) -> tuple[_Listener, int]:
        """Listen from now on; returns the listener and the last id the hub has read (the backlog runs up
        to it, the hub delivers after it: nothing is missed or sent twice)."""
        if self.last_id is None or self.task is None or self.task.done():
            self.last_id = await sync_to_async(_last_id)()
            self.task = asyncio.get_running_loop().create_task(self._run())
        listener = _Listener(sees)
        self.listeners.add(listener)
        return listener, self.last_id

    def leave(self, listener: _Listener) -> None:
        self.listeners.discard(listener)

    async def _run(self) -> None:
        while self.listeners:
            try:
                rows = await sync_to_async(_rows)(self.last_id or 0)
            except Exception:  # the database went away for a moment: keep listening
                await asyncio.sleep(1)
                continue
            for row in rows:
                self.last_id = row["id"]
                for listener in list(self.listeners):
                    if listener.sees(row):
                        listener.queue.put_nowait(row)
            if not rows:
                await asyncio.sleep(POLL_SECONDS)
        self.task = None


_hubs: dict[int, Hub] = {}


def hub() -> Hub:
    """One hub per event loop (uvicorn runs one loop per worker process; tests may start several)."""
    loop = asyncio.get_running_loop()
    h = _hubs.get(id(loop))
    if h is None:
        h = _hubs[id(loop)] = Hub()
    return h


def _frame(row: dict[str, Any]) -> str:
    data = json.dumps({"event": row["event"], "call": row["call"]}, cls=DjangoJSONEncoder, ensure_ascii=False)
    return f"id: {row['id']}\nevent: call\ndata: {data}\n\n"


async def _authenticate(request: HttpRequest) -> User | None:
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        from accounts.services import token_authenticate

        return await sync_to_async(token_authenticate)(auth[7:].strip())
    user = await request.auser()
    return user if user.is_authenticated else None


async def events(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """GET /sos/stream: text/event-stream of the calls this user may see."""
    user = await _authenticate(request)
    if user is None:
        return HttpResponse(_("Please log in."), status=401, content_type="text/plain; charset=utf-8")
    given = request.headers.get("Last-Event-ID") or request.GET.get("after")
    try:
        after = int(given) if given is not None else None  # given: first send what came after it
    except ValueError:
        return HttpResponse(_("Last-Event-ID must be a number."), status=400, content_type="text/plain; charset=utf-8")
    viewer = await sync_to_async(viewer_for)(user)

    async def stream() -> AsyncIterator[str]:
        h = hub()
        listener, upto = await h.join(viewer.sees)
        try:
            yield "retry: 2000\n\n"
            if after is not None and after >= 0:
                for row in await sync_to_async(_rows)(after, upto, BACKLOG_MAX):
                    if viewer.sees(row):
                        yield _frame(row)
            while True:
                try:
                    row = await asyncio.wait_for(listener.queue.get(), HEARTBEAT_SECONDS)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                yield _frame(row)
        finally:
            h.leave(listener)

    response = StreamingHttpResponse(stream(), content_type="text/event-stream; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response
