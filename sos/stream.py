"""The live feed of one-key calls as Server-Sent Events (ARCHITECTURE.md: an async view under ASGI,
fed from the CallEvent table by id, so it works whichever process raised the call or fired the
escalation).

One poller per server process reads new events (every POLL_SECONDS while anyone listens) and hands
each to the listeners allowed to see it; a client that reconnects sends Last-Event-ID (or ?after=) and
first gets what it missed (a stream states its starting id on connecting, so this holds for a screen
that has had no event yet). Each event carries the call as it now is, so a screen needs no second trip;
its id is the CallEvent's, and a page acts on an id once (static/js/gongzhi.js).

A stream lives for hours, so who watches is asked again while it runs, as every request asks it: each
second a stream compares the change counters of tokens and users, roles and the tree, and chains
(core.memo's generations: one query a second per process, shared by its streams); when one moved, or
every RECHECK_SECONDS whatever happened, it resolves its token or session again and rebuilds the
viewer's gate. A viewer who may no longer log in, or who lost sight of any call, gets `event: revoked`
and the stream ends (a screen that still may watch reconnects under its new rights); a gate that only
grew is taken over in place.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import weakref
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from importlib import import_module
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, load_backend
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _

from core.clock import now
from core.errors import error_body
from core.memo import memo
from core.models import Generation
from sos.models import Call, CallEvent
from sos.selectors import GATE_GENERATION, CallGate, call_gate
from sos.states import State

if TYPE_CHECKING:
    from accounts.models import User

log = logging.getLogger(__name__)

POLL_SECONDS = 0.2
HEARTBEAT_SECONDS = 15
BACKLOG_MAX = 200
# Who watches is looked at again this often (core.clock time): the second in which a revoked token, a
# role taken away or a switched-off account stops working everywhere else (core.memo).
REVALIDATE_SECONDS = 1.0
# ...and resolved again from scratch this often even when no counter moved: a session that expired or
# was logged out elsewhere, a token past its expiry.
RECHECK_SECONDS = 15.0
# The generations whose change may take sight away: tokens and users (accounts), roles, residents and
# the tree (org), chains and logouts (sos).
WATCHED = ("auth", "org", GATE_GENERATION)


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


def _marker() -> tuple[int, ...]:
    values = dict(Generation.objects.filter(name__in=WATCHED).values_list("name", "value"))
    return tuple(values.get(name, 0) for name in WATCHED)


def _within(since: dt.datetime, at: dt.datetime, seconds: float) -> bool:
    return 0 <= (at - since).total_seconds() < seconds


@dataclass(eq=False)
class _Listener:
    sees: Callable[[dict[str, Any]], bool]
    after: int = 0  # the last id handed to this listener (or its starting point): only newer ones follow
    # Rows, then None when the poller that fed it died: the stream ends and the screen reconnects.
    queue: asyncio.Queue[dict[str, Any] | None] = field(default_factory=asyncio.Queue)


class Hub:
    """The one poller of this process's event loop, and its reading of the change counters.

    One poller, however joins and leaves interleave: it is started only under `starting`, which a join
    takes only when none runs, and `task` is set in the same step as it is created (a join that waited
    finds it running); a poller clears `task` in the very step in which it sees nobody left, so a join
    either keeps it going or starts the next one. A poller that dies ends the streams it fed (they
    reconnect from their Last-Event-ID and get what they missed) and leaves its place to the next join."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.listeners: set[_Listener] = set()
        self.last_id: int | None = None
        self.task: asyncio.Task | None = None
        self.starting = asyncio.Lock()
        self.loop = weakref.ref(loop) if loop is not None else None
        self.seen: tuple[int, ...] | None = None  # the change counters as last read
        self.seen_at: dt.datetime | None = None

    async def marker(self, at: dt.datetime, *, fresh: bool = False) -> tuple[int, ...]:
        """The change counters, read at most once per REVALIDATE_SECONDS for all this process's streams.

        When one has moved, this process's in-memory copies of it are dropped at once (core.memo would
        drop them within its own second): whoever re-checks a viewer after seeing the move reads what
        is now true, not a copy made before it."""
        if fresh or self.seen is None or self.seen_at is None or not _within(self.seen_at, at, REVALIDATE_SECONDS):
            value = await sync_to_async(_marker)()
            for i, name in enumerate(WATCHED):
                if self.seen is None or self.seen[i] != value[i]:
                    memo(name).forget()
            self.seen, self.seen_at = value, at
        assert self.seen is not None
        return self.seen

    def _polling(self) -> bool:
        return self.task is not None and not self.task.done()

    async def join(self, sees: Callable[[dict[str, Any]], bool]) -> tuple[_Listener, int]:
        """Listen from now on; returns the listener and the last id the hub has read (the backlog runs up
        to it, the hub delivers after it: nothing is missed or sent twice)."""
        if not self._polling():
            # Screens reconnecting together after a restart all get here at once: the first starts the
            # poller, the others wait and find it running (two would read the same ids: each event twice).
            async with self.starting:
                if not self._polling():
                    self._orphan()  # any left by a poller cancelled before it ran: nobody feeds them
                    self.last_id = await sync_to_async(_last_id)()
                    self.task = asyncio.get_running_loop().create_task(self._run())
        # From here to the return nothing awaits: the listener is in the set at the id it is told.
        assert self.last_id is not None
        listener = _Listener(sees, after=self.last_id)
        self.listeners.add(listener)
        return listener, self.last_id

    def leave(self, listener: _Listener) -> None:
        self.listeners.discard(listener)

    def _orphan(self) -> None:
        """Streams no poller will feed again (it died): ended, they reconnect (retry: 2000) from their
        Last-Event-ID, get what they missed, and their join starts the next poller."""
        for listener in self.listeners:
            listener.queue.put_nowait(None)
        self.listeners.clear()

    async def _run(self) -> None:
        try:
            while self.listeners:
                try:
                    rows = await sync_to_async(_rows)(self.last_id or 0)
                except Exception:  # the database went away for a moment: keep listening
                    await asyncio.sleep(1)
                    continue
                for row in rows:
                    self.last_id = row["id"]
                    for listener in list(self.listeners):
                        if row["id"] > listener.after:
                            listener.after = row["id"]
                            if listener.sees(row):
                                listener.queue.put_nowait(row)
                if not rows:
                    await asyncio.sleep(POLL_SECONDS)
        except Exception:
            log.exception("sos stream: the poller died; its %d streams are ended", len(self.listeners))
            self._orphan()
        except BaseException:  # cancelled: its loop is closing
            self._orphan()
            raise
        finally:
            if self.task is asyncio.current_task():
                self.task = None


_hubs: dict[int, Hub] = {}


def hub() -> Hub:
    """One hub per event loop (granian runs one loop per worker process; tests may start several)."""
    loop = asyncio.get_running_loop()
    h = _hubs.get(id(loop))
    if h is None or h.loop is None or h.loop() is not loop:  # a new loop under a dead one's id
        h = _hubs[id(loop)] = Hub(loop)
    return h


def _frame(row: dict[str, Any]) -> str:
    data = json.dumps({"event": row["event"], "call": row["call"]}, cls=DjangoJSONEncoder, ensure_ascii=False)
    return f"id: {row['id']}\nevent: call\ndata: {data}\n\n"


REVOKED = "event: revoked\ndata: {}\n\n"


@dataclass(frozen=True)
class _Credential:
    """What let the viewer in: a bearer token, or their login session. Resolved again while they watch."""

    token: str = ""
    session_key: str = ""


def _session_user(key: str) -> User | None:
    """The user a login session still stands for, as django.contrib.auth.get_user decides it (an active
    user, the password unchanged since login), without touching the session itself."""
    from accounts.models import User

    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=key)
    try:
        user_id = User._meta.pk.to_python(store[SESSION_KEY])
        backend_path = store[BACKEND_SESSION_KEY]
    except (KeyError, ValueError):  # logged out, expired, or never a login
        return None
    if backend_path not in settings.AUTHENTICATION_BACKENDS:
        return None
    user = load_backend(backend_path).get_user(user_id)  # None for a user switched off
    if user is None:
        return None
    given = store.get(HASH_SESSION_KEY) or ""
    hashes = [user.get_session_auth_hash(), *user.get_session_auth_fallback_hash()]
    return user if given and any(constant_time_compare(given, h) for h in hashes) else None


def _resolve(credential: _Credential) -> User | None:
    if credential.token:
        from accounts.services import token_authenticate

        return token_authenticate(credential.token)
    if credential.session_key:
        return _session_user(credential.session_key)
    return None


def _recheck(credential: _Credential, gate: CallGate) -> CallGate | None:
    """The viewer's gate as it now is; None once they may not log in, or see less than before."""
    user = _resolve(credential)
    if user is None or user.pk != gate.user_id:
        return None
    fresh = viewer_for(user)
    return fresh if fresh.covers(gate) else None


class _Watch:
    """Whether the viewer of one stream may still watch, and what: looked at once per REVALIDATE_SECONDS
    against the hub's change counters, resolved again when they moved and every RECHECK_SECONDS."""

    def __init__(self, h: Hub, credential: _Credential, gate: CallGate, marker: tuple[int, ...]) -> None:
        self.hub, self.credential, self.marker = h, credential, marker
        self.gate: CallGate | None = gate
        self.looked_at = self.checked_at = now()

    async def current(self) -> CallGate | None:
        at = now()
        if self.gate is None or _within(self.looked_at, at, REVALIDATE_SECONDS):
            return self.gate
        self.looked_at = at
        try:
            marker = await self.hub.marker(at)
            if marker == self.marker and _within(self.checked_at, at, RECHECK_SECONDS):
                return self.gate
            gate = await sync_to_async(_recheck)(self.credential, self.gate)
        except DatabaseError:
            # The database went away for a moment (the hub keeps listening, and reads nothing new
            # meanwhile): the viewer stands as last checked for up to RECHECK_SECONDS, and is checked
            # from scratch once it is back.
            self.marker = ()
            if _within(self.checked_at, at, RECHECK_SECONDS):
                return self.gate
            self.gate = None
            return None
        self.gate, self.marker, self.checked_at = gate, marker, at
        return self.gate


async def _authenticate(request: HttpRequest) -> tuple[User | None, _Credential]:
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        from accounts.services import token_authenticate

        raw = auth[7:].strip()
        return await sync_to_async(token_authenticate)(raw), _Credential(token=raw)
    user = await request.auser()
    if not user.is_authenticated:
        return None, _Credential()
    return user, _Credential(session_key=request.session.session_key or "")


async def events(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """GET /sos/stream: text/event-stream of the calls this user may see, for as long as they may."""
    h = hub()
    marker = await h.marker(now(), fresh=True)  # before the viewer is resolved: any later change is seen
    user, credential = await _authenticate(request)
    if user is None:
        # The API's error shape: the stream is read by API clients with a token as well as by pages.
        return JsonResponse(error_body("auth.required", _("Please log in or send a valid API token.")), status=401)
    given = request.headers.get("Last-Event-ID") or request.GET.get("after")
    try:
        after = int(given) if given is not None else None  # given: first send what came after it
    except ValueError:
        return JsonResponse(
            error_body(
                "malformed_request",
                _("Last-Event-ID must be a number."),
                {"Last-Event-ID": [_("Enter a whole number.")]},
            ),
            status=400,
        )
    viewer = await sync_to_async(viewer_for)(user)
    watch = _Watch(h, credential, viewer, marker)

    async def stream() -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        listener, upto = await h.join(viewer.sees)
        try:
            # A screen that has seen no event yet resumes from here too when the stream is cut.
            yield "retry: 2000\n\n" if after is not None else f"retry: 2000\nid: {upto}\n\n"
            if after is not None and after >= 0:
                for row in await sync_to_async(_rows)(after, upto, BACKLOG_MAX):
                    if (gate := await watch.current()) is None:
                        break
                    if gate.sees(row):
                        yield _frame(row)
            sent_at = loop.time()
            while (gate := await watch.current()) is not None:
                listener.sees = gate.sees  # a gate that grew: the hub hands over what it now lets through
                try:
                    got = await asyncio.wait_for(listener.queue.get(), REVALIDATE_SECONDS)
                except TimeoutError:
                    if loop.time() - sent_at >= HEARTBEAT_SECONDS:
                        sent_at = loop.time()
                        yield ": keep-alive\n\n"
                    continue
                if got is None:  # the hub's poller died: ended, the screen reconnects and resumes
                    return
                row = got
                # The row may have waited in the queue past a change: asked again before it goes out.
                if (gate := await watch.current()) is None:
                    break
                if gate.sees(row):
                    sent_at = loop.time()
                    yield _frame(row)
            yield REVOKED
        finally:
            h.leave(listener)

    response = StreamingHttpResponse(stream(), content_type="text/event-stream; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response
