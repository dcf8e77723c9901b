#!/usr/bin/env python
"""Soak: the whole system as a county runs it, under an open-loop mixed load for an hour, with the checks
that a long run must pass (issue 23, points 3 and 4).

    .venv/bin/python bench/soak.py [--rate 120] [--minutes 60] [--listeners 5] [--var-dir DIR]
        [--web-workers 2] [--drain-seconds 30] [--sos-ack-seconds 60] [--max-backlog 60]
    .venv/bin/python bench/soak.py --postgres postgres://postgres@127.0.0.1:5432/ [--keep] [...]
    .venv/bin/python bench/soak.py --rate 30 --minutes 3          # a trial

1. Seeds the small demo county as `make run` does (`seed_demo --scale small`: its people, a year's orders and
   one-key calls, residents registered for one-key call), on SQLite in a fresh var dir by default, or on
   PostgreSQL with `--postgres URL`: the URL's database, gz_bench_soak when the URL names none (the name
   must hold "bench"), created afresh and dropped at the end unless `--keep`. On PostgreSQL a server with
   autovacuum off gets its ANALYZEs from the benchmark (common.autoanalyze).
2. Starts `manage.py serve` (what `make run` runs, DEBUG off): granian with gongzhi.asgi's one-port app in
   GONGZHI_WEB_WORKERS=2 processes, the one-key-call live stream on the same port, and every worker of
   settings.WORKER_COMMANDS (run_deadlines, run_outbox, run_sos, run_points, run_rollups, run_mediation,
   run_webhooks, run_imports) as its children. Logs go to VAR/serve.log.
3. `--listeners` responder screens (grid, village, town, dispatcher, leader, then round again: nested
   sights of the county, two of them the whole county) connect, wait at a barrier, and all ask for
   /sos/stream/ at the same moment; each records the id it starts from and every event id it receives.
4. The load, open loop: `--rate` slots a second on a fixed timetable for `--minutes` (fractional for
   trials), each slot a request of a class drawn by MIX's weights, latency counted from when it was due
   (common.paced's rule: a server that falls behind shows it instead of being sent less):
   - intake: POST /api/v1/workorders as the demo resident (common.INTAKE_BODY, a key of its own);
     intake_resend: a submission sent again with its key, half of them together with a new submission
     (a retry after a timeout: the two race, and either may be the one that makes the order), half of a
     recent one, later: the key must make one order, and every answer must name it;
   - the lifecycle, by staff over the API: dispatch (the dispatcher: 80 % to the demo department, 20 % to
     the demo grid), accept and resolve (that unit's clerk or grid worker), rate (the resident; 5 % bad,
     which reopens the order for dispatch again). A step takes the oldest order ready for it (a second
     after the step before); with none ready its slot is that person's page instead (console, queue,
     their list);
   - reads by every role: the resident's list (page and API), the dispatch console, the department's
     queue, the grid worker's list, an order's page (its handler or the dispatcher), the leader's
     dashboard page and board API, the command centre's one-key-call board;
   - sos_raise: one-key calls, half pressed by the resident, half raised by the dispatcher as a hotline
     operator for any registered resident. Then, at fixed times after each: 10 % of the resident's presses
     taken back within seconds; the rest acknowledged (sos_ack) after 2-15 s, a quarter only after the
     first rung's time (the run_sos worker climbs the ladder meanwhile), three in ten of the resident's
     by her grid worker and village staff at once (one wins; the other's 409 is a state race); then on
     the way / arrived / resolved (sos_step).
5. Every 30 s: a line per process (the serve supervisor, the granian master, each web worker, each worker
   command; found by pid): RSS (VmRSS), open file descriptors and CPU; the database's size (SQLite file +
   WAL, or pg_database_size), the rollup changes waiting, one-key calls past their escalation time, the
   requests in flight, the web processes' CPU per request and the machine's load average; and per class
   what was answered in the last 30 s: rate, errors, p50 and p99.
6. At the end the load stops, the responders finish every open call at once, and the checks, each PASS or
   FAIL with its figures (exit status 1 when any fails):
   - rows: the orders made with this run's keys equal the 201 answers (intake and re-sends);
   - tracking codes: none twice in the table;
   - re-sends: no key answered 201 twice or made two rows, and every answer named the key's first order;
   - one-key calls: every call raised reached resolved or cancelled, none was seen waiting in `raised` more
     than GRACE seconds past its escalation time (sampled every 5 s), none left waiting;
   - rollups: the dashboards' pending changes (dashboards.models.Dirty) back to 0 within `--drain-seconds`
     of the load's last answer, and `manage.py rollups_check` (a recount) finds the tallies right;
   - listeners: each received every event it may see (sos.selectors.call_gate on the CallEvent rows after
     its starting id) exactly once, in order: none twice, none missing, none it may not see; and listeners
     whose sights hold the same events received the same ids;
   - errors: none but state-race 409s (RACE_CODES), and no traceback in the server's or workers' log (a
     request that met a kept connection the server had just closed is sent again once, and counted);
   - p99 of the last 5 minutes within 1.5x of the first 5, per class (windows of a third of a shorter run;
     classes with fewer than 50 requests in a window are shown, not judged);
   - RSS drift of each web worker over the last 30 minutes (the last half of a shorter run) under 5 MiB
     (median of 3 samples 5 s apart at each end), and no process restarted;
   - the server kept up: never more than `--max-backlog` seconds of the timetable in flight.

The clients (asyncio, keep-alive connections) share the 2 cores with the server: their own lag behind the
timetable is printed with the figures. A server that cannot keep up with `--rate` falls behind for good (open
loop: the requests in flight grow, every latency with them): once more than `--max-backlog` seconds of the
timetable are in flight the load stops there and a check fails (the server kept up). The web processes' CPU
per request, printed each 30 s and for the first and last windows, says what the mix costs whatever else the
machine runs: the rate a box can take is about its cores / that cost, less the workers' and the clients'.
"""

from __future__ import annotations

import argparse
import asyncio
import codecs
import contextlib
import datetime as dt
import json
import random
import signal
import sqlite3
import statistics
import subprocess
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import common
from common import (
    INTAKE_BODY,
    autoanalyze,
    bench_env,
    child_processes,
    drop_postgres,
    free_port,
    percentile,
    read_http_response,
    rss_fds_cpu,
    run,
    shell,
    wait_up,
)

DEFAULT_DB = "gz_bench_soak"
# Slots per 100, by class. The four lifecycle steps weigh a little more than intake, so that orders move on
# (a step with nothing ready is its person's page instead: see FALLBACK).
MIX = {
    "intake": 9.0,
    "intake_resend": 1.5,
    "dispatch": 9.5,
    "accept": 9.5,
    "resolve": 9.5,
    "rate": 9.0,
    "sos_raise": 0.5,
    "resident_list": 5.0,
    "resident_api": 4.0,
    "console": 7.0,
    "dept_queue": 7.0,
    "grid_list": 5.0,
    "order_page": 9.0,
    "dashboard": 3.0,
    "board_api": 3.0,
    "sos_board": 2.0,
}
FALLBACK = {"dispatch": "console", "accept": "dept_queue", "resolve": "dept_queue", "rate": "resident_list"}
READS = {  # class: (session of, path)
    "resident_list": ("resident", "/workorders/mine/"),
    "console": ("dispatcher", "/workorders/console/"),
    "dept_queue": ("dept", "/workorders/queue/"),
    "grid_list": ("grid", "/workorders/queue/?tab=area"),
    "dashboard": ("leader", "/dashboard/"),
    "sos_board": ("dispatcher", "/sos/board/"),
}
API_READS = {"resident_api": ("resident", "/api/v1/workorders"), "board_api": ("leader", "/api/v1/dashboard/board")}
CLASSES = [*MIX, "sos_ack", "sos_step"]
TOKENS = ("resident", "dispatcher", "dept", "grid", "village", "leader")
SESSIONS = ("resident", "dispatcher", "dept", "grid", "leader")
LISTENER_USERS = ("grid", "village", "town", "dispatcher", "leader")
# 409s that say someone else moved the call or order first: what concurrent responders meet, not a fault.
RACE_CODES = {"sos.already_acknowledged", "sos.state_changed", "workorder.state_changed"}
GRACE = 10.0  # seconds past its escalation time before a waiting call counts as stuck
REPORT_EVERY = 30.0
MAX_IN_FLIGHT = 256
IDLE_MAX = 20.0  # seconds a kept connection may idle before the clients drop it (granian's limit is 30 s)

SETUP = r"""
import json
from accounts.models import RoleAssignment, User
from accounts.services import token_create
from django.contrib.sessions.backends.db import SessionStore
from org.models import Resident
from sos.models import CareProfile
def session(name):
    u = User.objects.get(username=name); s = SessionStore()
    s["_auth_user_id"] = str(u.pk); s["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    s["_auth_user_hash"] = u.get_session_auth_hash(); s.create()
    return s.session_key
g = Resident.objects.select_related("household__grid").get(user__username="resident").household.grid
print(json.dumps({
    "tokens": {u: token_create(user=User.objects.get(username=u), name="soak")[1] for u in TOKENS},
    "screens": [token_create(user=User.objects.get(username=u), name="screen")[1] for u in LISTENERS],
    "sessions": {u: session(u) for u in SESSIONS},
    "grid": RoleAssignment.objects.get(user__username="grid", role="grid_worker").node_id,
    "dept": RoleAssignment.objects.get(user__username="dept", role="dept_staff").department_id,
    "profiles": list(CareProfile.objects.filter(is_active=True).exclude(resident__user__username="resident")
                     .values_list("resident_id", flat=True)),
    "place": [float(g.lat), float(g.lng)],
}))
"""

# What each listener may see of the events after its starting id, up to the last event: the stream's own
# predicate (sos.selectors.call_gate, as sos.stream.viewer_for) on the rows as sos.stream._rows shapes them.
EXPECTED = r"""
import json
from accounts.models import User
from sos.models import CallEvent
from sos.selectors import call_gate
specs, upto = json.loads(SPECS)
lo = min(s for _, s in specs)
rows = list(CallEvent.objects.filter(id__gt=lo, id__lte=upto).order_by("id")
            .values_list("id", "call__path", "call__profile_id", "call__profile__resident__user_id"))
out = []
for name, start in specs:
    gate = call_gate(User.objects.get(username=name))
    out.append([i for i, p, prof, owner in rows
                if i > start and gate.sees({"path": p, "profile_id": prof, "owner_user_id": owner})])
print(json.dumps(out))
"""

RESULTS = r"""
import json
from django.db.models import Count
from sos.models import Call, CallEvent
from workorders.models import WorkOrder
run = RUN
mine = WorkOrder.objects.filter(idempotency_key__startswith=f"s{run}-")
calls = Call.objects.filter(idempotency_key__startswith=f"c{run}-")
late = [x for x in CallEvent.objects.filter(call__in=calls, action="alert", level__gt=0)
        .values_list("data__late_ms", flat=True) if x is not None]
print(json.dumps({
    "rows": mine.count(),
    "keys_twice": mine.values("idempotency_key").annotate(n=Count("id")).filter(n__gt=1).count(),
    "codes_twice": WorkOrder.objects.values("tracking_code").annotate(n=Count("id")).filter(n__gt=1).count(),
    "orders": WorkOrder.objects.count(),
    "states": dict(mine.values_list("state").annotate(n=Count("id"))),
    "calls": dict(calls.values_list("state").annotate(n=Count("id"))),
    "escalations": late,
}))
"""


class Stat:
    def __init__(self) -> None:
        self.rows: list[tuple[float, float, int]] = []  # (due, from t0; latency s; status, 0: no answer)
        self.errors: dict[tuple[int, str], int] = {}
        self.races = 0

    def window(self, lo: float, hi: float, *, done: bool = False) -> tuple[int, int, list[float]]:
        """Requests due in [lo, hi) (answered in it, with `done`): how many, errors, latencies."""
        rows = [r for r in self.rows if lo <= (r[0] + r[1] if done else r[0]) < hi]
        return len(rows), sum(1 for r in rows if r[2] == 0 or r[2] >= 400), [r[1] for r in rows]


class Db:
    """Reads of the database from the benchmark's own process, without Django: sizes and a few counts."""

    def __init__(self, url: str | None, var: str) -> None:
        self.url = url
        self.path = Path(var) / "gongzhi.sqlite3"
        self.conn: Any = None
        self.lock = threading.Lock()  # used from the event loop's worker threads, one at a time

    def _connect(self) -> Any:
        if self.conn is None:
            if self.url:
                import psycopg

                self.conn = psycopg.connect(self.url.replace("postgres://", "postgresql://", 1), autocommit=True)
            else:
                self.conn = sqlite3.connect(
                    f"file:{self.path}?mode=ro", uri=True, timeout=10, isolation_level=None, check_same_thread=False
                )
        return self.conn

    def scalar(self, sql: str, args: tuple = ()) -> Any:
        if not self.url:
            sql = sql.replace("%s", "?")
        with self.lock:
            return self._connect().execute(sql, args).fetchone()[0]

    def size(self) -> str:
        if self.url:
            return f"{self.scalar('SELECT pg_database_size(current_database())') / 2**20:.1f} MiB"
        main = self.path.stat().st_size if self.path.exists() else 0
        wal = Path(f"{self.path}-wal")
        return f"{main / 2**20:.1f} MiB + WAL {(wal.stat().st_size if wal.exists() else 0) / 2**20:.1f} MiB"

    def pending_rollups(self) -> int:
        return self.scalar("SELECT count(*) FROM dashboards_dirty")

    def stuck_calls(self, run_id: str) -> int:
        """Calls of this run still waiting for a responder more than GRACE seconds past their escalation time."""
        limit = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=GRACE)
        value: Any = limit if self.url else limit.strftime("%Y-%m-%d %H:%M:%S.%f")
        return self.scalar(
            "SELECT count(*) FROM sos_call WHERE state = 'raised' AND escalate_at IS NOT NULL AND escalate_at < %s "
            "AND idempotency_key LIKE %s",
            (value, f"c{run_id}-%"),
        )

    def last_event(self) -> int:
        return self.scalar("SELECT coalesce(max(id), 0) FROM sos_callevent")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Processes:
    """The serve supervisor's tree, looked up by pid: its children (the server and each worker command) and
    the server's (granian's web workers). Names are given on first sight; a pid that goes is remembered."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.names: dict[int, str] = {root: "serve (supervisor)"}
        self.seen: dict[str, list[int]] = {}
        self.samples: dict[int, list[tuple[float, float, int, float]]] = {}  # pid: (t, rss MiB, fds, CPU s)

    def current(self) -> list[tuple[str, int]]:
        out = [(self.names[self.root], self.root)]
        for pid, argv in child_processes(self.root):
            if "--server-only" in argv:
                out.append(self._name(pid, "web master"))
                for k, (wpid, _argv) in enumerate(child_processes(pid)):
                    out.append(self._name(wpid, f"web worker {k + 1}"))
            else:
                name = next((a for a in argv if a.startswith("run_")), " ".join(argv[-2:]))
                out.append(self._name(pid, name))
        return out

    def _name(self, pid: int, name: str) -> tuple[str, int]:
        if pid not in self.names:
            if name in self.seen:
                name = f"{name} (again)"
            self.names[pid] = name
            self.seen.setdefault(name.removesuffix(" (again)"), []).append(pid)
        return self.names[pid], pid

    def sample(self, t: float) -> list[tuple[str, int, float, int]]:
        out = []
        for name, pid in self.current():
            got = rss_fds_cpu(pid)
            if got is not None:
                self.samples.setdefault(pid, []).append((t, *got))
                out.append((name, pid, got[0], got[1]))
        return out

    def cpu_since(self, pid: int, t: float, until: float = float("inf")) -> float:
        """CPU seconds the process used between its samples nearest `t` and `until` (its last one)."""
        rows = self.samples.get(pid, [])
        if not rows:
            return 0.0
        before = [r for r in rows if r[0] <= t] or rows[:1]
        upto = [r for r in rows if r[0] <= until] or rows[:1]
        return upto[-1][3] - before[-1][3]

    def web_cpu(self, lo: float, hi: float) -> float:
        return sum(self.cpu_since(pid, lo, hi) for pid, name in self.names.items() if name.startswith("web"))

    def restarted(self) -> list[str]:
        return [f"{name}: pids {pids}" for name, pids in self.seen.items() if len(pids) > 1]


class Listener:
    def __init__(self, n: int, user: str, token: str) -> None:
        self.n, self.user, self.token = n, user, token
        self.start: int | None = None
        self.ids: list[int] = []
        self.reconnects = 0
        self.revoked = 0


class Soak:
    def __init__(self, args: argparse.Namespace, port: int, ids: dict[str, Any], db: Db, procs: Processes) -> None:
        self.args, self.port, self.ids, self.db, self.procs = args, port, ids, db, procs
        self.run_id = f"{int(time.time())}"
        self.rng = random.Random(1)
        self.stats = {c: Stat() for c in CLASSES}
        self.pools: dict[str, list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]]] = {}
        self.stale_retries = 0
        self.sem = asyncio.Semaphore(MAX_IN_FLIGHT)
        self.loop = asyncio.get_running_loop()
        self.t0 = 0.0
        self.tasks: set[asyncio.Task] = set()
        # intake and its re-sends
        self.n = 0
        self.recent: deque[str] = deque(maxlen=2000)
        self.bodies: dict[str, str] = {}
        self.first: dict[str, int] = {}  # key: order id, from its first success
        self.created: dict[str, int] = {}  # key: 201 answers
        self.resend_bad: list[str] = []
        self.resends = 0
        # the lifecycle: (ready at, order id, unit)
        self.queues: dict[str, deque[tuple[float, int, str]]] = {s: deque() for s in FALLBACK}
        self.pages: deque[tuple[int, str]] = deque(maxlen=300)
        # one-key calls
        self.calls: dict[int, str] = {}  # call id: what the clients last made of it
        self.pending: dict[int, tuple[asyncio.TimerHandle, Callable[[float], Awaitable[None]]]] = {}
        self.timer_n = 0
        self.sos_tasks: set[asyncio.Task] = set()
        self.draining = False
        self.stuck_max = 0
        self.lag: list[tuple[float, float]] = []  # (due from t0, how late the client was to send)
        self.listeners: list[Listener] = []
        self.rollup_peak = 0
        self.in_flight = 0
        self.in_flight_max = 0
        self.saturated: float | None = None  # when the load stopped early, the server far behind
        self.tail = 0.0  # seconds from the timetable's end to the last answer
        self.duration = 0.0  # of the load, seconds
        self.drained_after: float | None = None  # seconds from the load's end to no rollup change waiting
        self.last_event = 0  # the last CallEvent id when the listeners hung up

    # --- HTTP ---------------------------------------------------------------------------------------------
    def _headers(self, ident: str) -> str:
        kind, user = ident.split(":")
        if kind == "t":
            return f"Authorization: Bearer {self.ids['tokens'][user]}\r\n"
        return f"Cookie: sessionid={self.ids['sessions'][user]}\r\n"

    async def request(
        self, cls: str, ident: str, method: str, path: str, body: str | None, due: float, *, want: bool = False
    ) -> tuple[int, Any]:
        """One request on a keep-alive connection of `ident` ("t:user" a token, "s:user" a session);
        recorded under `cls` with its latency from `due`. The JSON answer comes back when `want`."""
        data = (body or "").encode()
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{self._headers(ident)}"
        if body is not None:
            head += "Content-Type: application/json\r\n"
        head += f"Content-Length: {len(data)}\r\n\r\n"
        status, payload, code = 0, None, "no answer"
        self.in_flight += 1
        self.in_flight_max = max(self.in_flight_max, self.in_flight)
        async with self.sem:
            pool = self.pools.setdefault(ident, [])
            conn = None
            while pool and conn is None:
                reader, writer, used = pool.pop()
                if reader.at_eof() or writer.is_closing() or self.loop.time() - used > IDLE_MAX:
                    writer.close()
                else:
                    conn = reader, writer
            for attempt in (1, 2):
                reused = conn is not None
                try:
                    if conn is None:
                        conn = await asyncio.open_connection("127.0.0.1", self.port)
                    conn[1].write(head.encode() + data)
                    status, headers, raw = await read_http_response(conn[0])
                except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as e:
                    if conn is not None:
                        conn[1].close()
                    conn = None
                    # A kept connection the server closed just as it was reused (granian ends one idle for its
                    # header-read timeout, 30 s), before any byte of an answer: sent again on a new one, as
                    # browsers and HTTP libraries do. Counted, and shown with the errors.
                    if reused and attempt == 1 and not getattr(e, "partial", b""):
                        self.stale_retries += 1
                        continue
                    status, code = 0, type(e).__name__
                    break
                if headers.get("connection", "").lower() == "close":
                    conn[1].close()
                else:
                    pool.append((conn[0], conn[1], self.loop.time()))
                if (want or status >= 400) and headers.get("content-type", "").startswith("application/json"):
                    payload = json.loads(raw)
                code = (payload or {}).get("error", {}).get("code", "") if status >= 400 else ""
                break
        self.in_flight -= 1
        st = self.stats[cls]
        st.rows.append((due - self.t0, self.loop.time() - due, status))
        if status == 0 or status >= 400:
            if status == 409 and code in RACE_CODES:
                st.races += 1
            else:
                st.errors[(status, code)] = st.errors.get((status, code), 0) + 1
        return status, payload

    def spawn(self, coro: Awaitable[None], group: set[asyncio.Task] | None = None) -> None:
        task = asyncio.ensure_future(coro)
        group = self.tasks if group is None else group
        group.add(task)
        task.add_done_callback(group.discard)

    # --- the mix --------------------------------------------------------------------------------------------
    async def mix(self, seconds: float) -> None:
        names, weights = list(MIX), list(MIX.values())
        total = int(self.args.rate * seconds)
        for i in range(total):
            due = self.t0 + i / self.args.rate
            delay = due - self.loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if self.in_flight > self.args.rate * self.args.max_backlog:
                # Open loop past saturation only piles up requests: every figure after this is the queue's.
                self.saturated = due - self.t0
                print(f"# SATURATED: {self.in_flight} requests in flight at {self.saturated:.0f}s (over "
                      f"{self.args.max_backlog:g}s of the timetable): the load stops here", flush=True)  # fmt: skip
                return
            self.lag.append((due - self.t0, self.loop.time() - due))
            self.spawn(self.slot(self.rng.choices(names, weights)[0], due))

    async def slot(self, cls: str, due: float) -> None:
        if cls in READS:
            user, path = READS[cls]
            await self.request(cls, f"s:{user}", "GET", path, None, due)
        elif cls in API_READS:
            user, path = API_READS[cls]
            await self.request(cls, f"t:{user}", "GET", path, None, due)
        elif cls == "intake":
            await self.intake(due)
        elif cls == "intake_resend":
            await self.resend(due)
        elif cls in FALLBACK:
            await self.step(cls, due)
        elif cls == "order_page":
            await self.order_page(due)
        elif cls == "sos_raise":
            await self.sos_raise(due)

    def submission(self) -> str:
        """A new submission's key (its body kept for re-sends)."""
        self.n += 1
        key = f"s{self.run_id}-{self.n}"
        lat, lng = self.ids["place"]
        self.bodies[key] = (
            INTAKE_BODY.replace('"KEY"', f'"{key}"')
            .replace('"LAT"', f'"{lat + self.rng.uniform(-0.002, 0.002):.6f}"')
            .replace('"LNG"', f'"{lng + self.rng.uniform(-0.002, 0.002):.6f}"')
        )
        return key

    async def intake(self, due: float, key: str | None = None) -> None:
        key = key or self.submission()
        body = self.bodies[key]
        status, payload = await self.request("intake", "t:resident", "POST", "/api/v1/workorders", body, due, want=True)
        self.recent.append(key)
        self._submitted(key, status, payload)

    async def resend(self, due: float, key: str | None = None) -> None:
        """Half of the re-sends go while the first is in flight (a retry after a timeout: the new submission
        and its re-send leave together), half later, of a recent submission."""
        if key is None:
            if self.rng.random() < 0.5 or not self.recent:
                key = self.submission()
                await asyncio.gather(self.intake(due, key), self.resend(due, key))
                return
            key = self.rng.choice(self.recent)
        self.resends += 1
        body = self.bodies[key]
        status, payload = await self.request(
            "intake_resend", "t:resident", "POST", "/api/v1/workorders", body, due, want=True
        )
        if status in (200, 201) and payload:
            oid = payload["order"]["id"]
            if status == 201 and self.created.get(key):
                self.resend_bad.append(f"{key}: a second 201")
            elif key in self.first and self.first[key] != oid:
                self.resend_bad.append(f"{key}: order {oid}, first {self.first[key]}")
        elif status != 0 and status < 400:
            self.resend_bad.append(f"{key}: HTTP {status}")
        self._submitted(key, status, payload)

    def _submitted(self, key: str, status: int, payload: Any) -> None:
        if status not in (200, 201) or not payload:
            return
        if status == 201:
            self.created[key] = self.created.get(key, 0) + 1
        oid = payload["order"]["id"]
        if key not in self.first:
            self.first[key] = oid
            self.queues["dispatch"].append((self.loop.time() + 1, oid, ""))

    async def step(self, cls: str, due: float) -> None:
        q = self.queues[cls]
        if not q or q[0][0] > self.loop.time():
            fallback = FALLBACK[cls]
            if cls in ("accept", "resolve") and q and q[0][2] == "grid":
                fallback = "grid_list"
            user, path = READS[fallback]
            await self.request(fallback, f"s:{user}", "GET", path, None, due)
            return
        _, oid, unit = q.popleft()
        base = f"/api/v1/workorders/{oid}"
        handler = "t:grid" if unit == "grid" else "t:dept"
        if cls == "dispatch":
            unit = "grid" if self.rng.random() < 0.2 else "dept"
            to = {"node_id": self.ids["grid"]} if unit == "grid" else {"department_id": self.ids["dept"]}
            status, _ = await self.request(cls, "t:dispatcher", "POST", f"{base}/dispatch", json.dumps({"to": to}), due)
            nxt = "accept"
            if status == 200:
                self.pages.append((oid, unit))
        elif cls == "accept":
            status, _ = await self.request(cls, handler, "POST", f"{base}/accept", None, due)
            nxt = "resolve"
        elif cls == "resolve":
            reply = json.dumps({"reply": "路灯已修复，感谢您的反映"}, ensure_ascii=False)
            status, _ = await self.request(cls, handler, "POST", f"{base}/resolve", reply, due)
            nxt = "rate"
        else:
            bad = self.rng.random() < 0.05
            body = {"solved": not bad, "satisfaction": 2 if bad else self.rng.choice((4, 5))}
            status, _ = await self.request(cls, "t:resident", "POST", f"{base}/rate", json.dumps(body), due)
            nxt = "dispatch" if bad else ""
        if status == 200 and nxt:
            self.queues[nxt].append((self.loop.time() + 1, oid, unit))

    async def order_page(self, due: float) -> None:
        if not self.pages:
            user, path = READS["console"]
            await self.request("console", f"s:{user}", "GET", path, None, due)
            return
        oid, unit = self.rng.choice(self.pages)
        user = "dispatcher" if self.rng.random() < 0.5 else ("grid" if unit == "grid" else "dept")
        await self.request("order_page", f"s:{user}", "GET", f"/workorders/{oid}/", None, due)

    # --- one-key calls --------------------------------------------------------------------------------------
    def later(self, delay: float, fn: Callable[[float], Awaitable[None]]) -> None:
        """Run fn(due) at a fixed time from now (at once while draining)."""
        due = self.loop.time() + (0 if self.draining else delay)
        self.timer_n += 1
        n = self.timer_n

        def fire() -> None:
            self.pending.pop(n, None)
            self.spawn(fn(due), self.sos_tasks)

        self.pending[n] = (self.loop.call_at(due, fire), fn)

    async def sos_raise(self, due: float) -> None:
        self.n += 1
        key = f"c{self.run_id}-{self.n}"
        kind = "emergency" if self.rng.random() < 0.8 else "service"
        own = self.rng.random() < 0.5
        body: dict[str, Any] = {"kind": kind, "idempotency_key": key}
        if not own:
            body |= {"resident_id": self.rng.choice(self.ids["profiles"]), "channel": "hotline"}
        ident = "t:resident" if own else "t:dispatcher"
        status, payload = await self.request(
            "sos_raise", ident, "POST", "/api/v1/sos/calls", json.dumps(body), due, want=True
        )
        if status != 201 or not payload:
            return
        cid = payload["call"]["id"]
        self.calls[cid] = "raised"
        if own and self.rng.random() < 0.1:
            self.later(self.rng.uniform(1, 4), lambda d: self.sos_cancel(cid, d))
            return
        late = self.rng.random() < 0.25
        delay = self.args.sos_ack_seconds + self.rng.uniform(3, 20) if late else self.rng.uniform(2, 15)
        who = ["t:dispatcher"]
        if own:
            who = ["t:grid", "t:village"] if self.rng.random() < 0.3 else ["t:grid"]
        self.later(delay, lambda d: self.sos_ack(cid, who, d))

    async def sos_cancel(self, cid: int, due: float) -> None:
        body = json.dumps({"note": "误按"}, ensure_ascii=False)
        status, _ = await self.request("sos_step", "t:resident", "POST", f"/api/v1/sos/calls/{cid}/cancel", body, due)
        if status == 200:
            self.calls[cid] = "cancelled"
        else:  # too late to take back: the grid worker comes
            self.later(self.rng.uniform(2, 10), lambda d: self.sos_ack(cid, ["t:grid"], d))

    async def sos_ack(self, cid: int, who: list[str], due: float) -> None:
        path = f"/api/v1/sos/calls/{cid}/acknowledge"
        got = await asyncio.gather(*(self.request("sos_ack", w, "POST", path, None, due) for w in who))
        winner = next((w for w, (status, _) in zip(who, got, strict=True) if status == 200), None)
        if winner is None:
            self.calls[cid] = "not acknowledged"
            return
        self.calls[cid] = "acknowledged"
        steps = ["depart", "arrive", "resolve"] if self.rng.random() < 0.5 else ["resolve"]
        self.later(self.rng.uniform(2, 8), lambda d: self.sos_steps(cid, winner, steps, d))

    async def sos_steps(self, cid: int, who: str, steps: list[str], due: float) -> None:
        step, rest = steps[0], steps[1:]
        body = None
        if step == "resolve":
            body = json.dumps({"outcome": "已上门查看，老人安好", "minutes_spent": 15}, ensure_ascii=False)
        status, _ = await self.request("sos_step", who, "POST", f"/api/v1/sos/calls/{cid}/{step}", body, due)
        if status != 200:
            self.calls[cid] = f"{step} failed"
            return
        self.calls[cid] = {"depart": "on the way", "arrive": "arrived", "resolve": "resolved"}[step]
        if rest:
            self.later(self.rng.uniform(2, 8), lambda d: self.sos_steps(cid, who, rest, d))

    async def drain_calls(self, limit: float = 60) -> None:
        """The responders finish what they have: every step still to come happens now."""
        self.draining = True
        for n, (handle, fn) in list(self.pending.items()):
            handle.cancel()
            self.pending.pop(n, None)
            self.spawn(fn(self.loop.time()), self.sos_tasks)
        end = self.loop.time() + limit
        while (self.pending or self.sos_tasks) and self.loop.time() < end:
            await asyncio.sleep(0.1)

    # --- the live stream ------------------------------------------------------------------------------------
    async def listen(self, who: Listener, go: asyncio.Event, ready: list[int]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        ready.append(who.n)
        await go.wait()
        last: int | None = None
        while True:
            resume = f"Last-Event-ID: {last}\r\n" if last is not None else ""
            writer.write(
                f"GET /sos/stream/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {who.token}\r\n"
                f"Accept: text/event-stream\r\n{resume}\r\n".encode()
            )
            try:
                head = await reader.readuntil(b"\r\n\r\n")
                if b" 200 " not in head.split(b"\r\n", 1)[0]:
                    raise SystemExit(f"listener {who.user}: {head[:200]!r}")
                chunked = b"chunked" in head.lower()
                decoder = codecs.getincrementaldecoder("utf-8")()
                buf = ""
                while True:
                    if chunked:
                        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                        data = (await reader.readexactly(size + 2))[:-2]
                        if size == 0:
                            break
                    else:
                        data = await reader.read(65536)
                        if not data:
                            break
                    buf += decoder.decode(data)
                    while "\n\n" in buf:
                        frame, buf = buf.split("\n\n", 1)
                        fields = dict(
                            line.split(": ", 1) for line in frame.split("\n") if ": " in line and line[0] != ":"
                        )
                        if fields.get("event") == "revoked":
                            who.revoked += 1
                        elif "id" in fields:
                            if fields.get("event") == "call":
                                who.ids.append(int(fields["id"]))
                            elif who.start is None:
                                who.start = int(fields["id"])
                            last = int(fields["id"])
            except (OSError, asyncio.IncompleteReadError, ValueError):
                pass
            except asyncio.CancelledError:
                writer.close()
                raise
            writer.close()
            who.reconnects += 1
            await asyncio.sleep(2)  # the stream's retry
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)

    # --- reporting -------------------------------------------------------------------------------------------
    async def watch(self, stop: asyncio.Event) -> None:
        """Every 5 s: each process's RSS and descriptors, calls past their escalation time, waiting rollups;
        every REPORT_EVERY the lines."""
        next_report = self.t0 + REPORT_EVERY
        while not stop.is_set():
            t = self.loop.time() - self.t0
            procs = await asyncio.to_thread(self.procs.sample, t)
            stuck = await asyncio.to_thread(self.db.stuck_calls, self.run_id)
            self.stuck_max = max(self.stuck_max, stuck)
            if self.loop.time() >= next_report:
                next_report += REPORT_EVERY
                size, waiting = await asyncio.to_thread(lambda: (self.db.size(), self.db.pending_rollups()))
                self.rollup_peak = max(self.rollup_peak, waiting)
                self.report(t, procs, size, waiting, stuck)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 5)

    def report(self, t: float, procs: list[tuple[str, int, float, int]], size: str, waiting: int, stuck: int) -> None:
        lo = t - REPORT_EVERY
        lags = [lag for due, lag in self.lag if lo <= due < t]
        events = [len(x.ids) for x in self.listeners]
        web = sum(self.procs.cpu_since(pid, lo) for name, pid, _, _ in procs if name.startswith("web"))
        done = sum(self.stats[c].window(lo, t, done=True)[0] for c in CLASSES)
        with open("/proc/loadavg") as f:
            load = f.read().split()[0]
        print(
            f"[{t:6.0f}s] database {size}; rollup changes waiting {waiting}; calls past escalation {stuck}; "
            f"in flight {self.in_flight}; client lag max {max(lags, default=0) * 1000:.0f} ms; "
            f"listeners' events {events}; web CPU {web / REPORT_EVERY * 100:.0f}% of a core, "
            f"{web * 1000 / max(1, done):.1f} ms/request; machine load {load}",
            flush=True,
        )
        for name, pid, rss, fds in procs:
            cpu = self.procs.cpu_since(pid, lo) / REPORT_EVERY * 100
            print(f"    {name:20} pid {pid:7}  RSS {rss:7.1f} MiB  fds {fds:4}  CPU {cpu:5.1f}%", flush=True)
        for cls in CLASSES:
            n, errors, lat = self.stats[cls].window(lo, t, done=True)
            if n:
                print(
                    f"    {cls:14} {n / REPORT_EVERY:6.1f}/s  errors {errors:4}  "
                    f"p50 {percentile(lat, 0.5) * 1000:7.1f} ms  p99 {percentile(lat, 0.99) * 1000:7.1f} ms",
                    flush=True,
                )


def database(url: str | None) -> str | None:
    """The database to make: the URL's, or DEFAULT_DB on the URL's server when it names none."""
    if not url:
        return None
    return url if urlparse(url).path.strip("/") else url.rstrip("/") + "/" + DEFAULT_DB


def listener_users(n: int) -> list[str]:
    return [LISTENER_USERS[i % len(LISTENER_USERS)] for i in range(n)]


async def load(args: argparse.Namespace, port: int, ids: dict[str, Any], db: Db, procs: Processes) -> Soak:
    soak = Soak(args, port, ids, db, procs)
    # Warm-up (not counted): every read once, each must answer 200.
    for cls, (user, path) in {**READS, **API_READS}.items():
        ident = f"{'t' if cls in API_READS else 's'}:{user}"
        status, _ = await soak.request(cls, ident, "GET", path, None, soak.loop.time())
        if status != 200:
            raise SystemExit(f"warm-up: {path} as {user} answered {status}")
    soak.stats = {c: Stat() for c in CLASSES}
    # The listeners connect, wait at the barrier, and ask for the stream together.
    go, ready = asyncio.Event(), []
    users = listener_users(args.listeners)
    soak.listeners = [Listener(i, u, tok) for i, (u, tok) in enumerate(zip(users, ids["screens"], strict=True))]
    listen_tasks = [asyncio.ensure_future(soak.listen(x, go, ready)) for x in soak.listeners]
    while len(ready) < len(soak.listeners):
        await asyncio.sleep(0.05)
    go.set()
    end = soak.loop.time() + 30
    while any(x.start is None for x in soak.listeners) and soak.loop.time() < end:
        await asyncio.sleep(0.05)
    print(f"# listeners joined together: {[(x.user, x.start) for x in soak.listeners]}", flush=True)

    seconds = args.minutes * 60
    soak.t0 = soak.loop.time() + 0.2
    stop_watch = asyncio.Event()
    watcher = asyncio.ensure_future(soak.watch(stop_watch))
    await soak.mix(seconds)
    soak.duration = soak.loop.time() - soak.t0
    while soak.tasks and soak.loop.time() < soak.t0 + soak.duration + 600:
        await asyncio.sleep(0.1)
    # The rollups' time to catch up counts from the last answer: a server that fell behind is still writing.
    load_end = soak.loop.time()
    soak.tail = load_end - soak.t0 - soak.duration
    print(f"# the timetable ended after {soak.duration:.0f}s; the last answer came {soak.tail:.1f}s later "
          f"({len(soak.tasks)} never came); the responders finish the open calls", flush=True)  # fmt: skip
    await soak.drain_calls()
    # Rollups: the waiting changes back to 0, timed from the load's end.
    soak.drained_after = None
    while soak.loop.time() < load_end + args.drain_seconds + 30:
        if await asyncio.to_thread(db.pending_rollups) == 0:
            soak.drained_after = soak.loop.time() - load_end
            break
        await asyncio.sleep(0.5)
    # Listeners: wait until the last event has been out for a few polls, then hang up.
    last, since = -1, soak.loop.time()
    while soak.loop.time() - since < 3:
        now_last = await asyncio.to_thread(db.last_event)
        if now_last != last:
            last, since = now_last, soak.loop.time()
        await asyncio.sleep(0.5)
    soak.last_event = last
    for t in listen_tasks:
        t.cancel()
    stop_watch.set()
    await watcher
    return soak


soak_env: dict[str, str] = {}


def check(results: list[tuple[str, bool, str]], name: str, ok: bool, figures: str) -> None:
    results.append((name, ok, figures))
    print(f"{'PASS' if ok else 'FAIL'}  {name}: {figures}", flush=True)


def checks(soak: Soak, args: argparse.Namespace, var: str) -> bool:
    res = json.loads(shell(RESULTS.replace("RUN", repr(soak.run_id)), soak_env))
    results: list[tuple[str, bool, str]] = []
    st = soak.stats
    made_201 = sum(1 for c in ("intake", "intake_resend") for r in st[c].rows if r[2] == 201)
    print("\n# checks", flush=True)
    check(results, "rows created equal the 201s", res["rows"] == made_201,
          f"{res['rows']} orders with this run's keys, {made_201} answers 201 "
          f"({res['orders']} orders in the table)")  # fmt: skip
    check(results, "no duplicate tracking codes", res["codes_twice"] == 0, f"{res['codes_twice']} codes twice")
    resend_ok = [r for r in st["intake_resend"].rows if r[2] == 200]
    check(results, "re-sends made no row",
          not soak.resend_bad and res["keys_twice"] == 0 and all(v == 1 for v in soak.created.values()),
          f"{soak.resends} re-sent, {len(resend_ok)} answered 200 with the first order; keys with two rows "
          f"{res['keys_twice']}; wrong answers {len(soak.resend_bad)} {soak.resend_bad[:3]}")  # fmt: skip
    calls = res["calls"]
    open_calls = {k: v for k, v in calls.items() if k not in ("resolved", "cancelled")}
    late = res["escalations"]
    late_txt = (
        f"; {len(late)} escalations fired, late p50 {statistics.median(late):.0f} ms "
        f"p99 {percentile(late, 0.99):.0f} ms max {max(late)} ms"
        if late
        else "; no escalation fired"
    )
    check(results, "one-key calls: none stuck", not open_calls and soak.stuck_max == 0,
          f"{sum(calls.values())} calls: {calls}; most seen waiting >{GRACE:.0f}s past escalation: "
          f"{soak.stuck_max}{late_txt}")  # fmt: skip
    drained = soak.drained_after is not None and soak.drained_after <= args.drain_seconds
    waited = (
        f"pending changes 0 after {soak.drained_after:.1f}s (limit {args.drain_seconds:.0f}s)"
        if soak.drained_after is not None
        else f"still waiting after {args.drain_seconds + 30:.0f}s"
    )
    check(results, "rollups drained", drained, f"{waited}; most waiting at a 30 s mark {soak.rollup_peak}")
    t0 = time.monotonic()
    rc = subprocess.run([common.PY, "manage.py", "rollups_check"], cwd=common.ROOT, env=soak_env,
                        capture_output=True, text=True)  # fmt: skip
    tail = (rc.stdout + rc.stderr).strip().splitlines()[-1:] or [""]
    check(results, "rollups_check (a recount) finds the tallies right", rc.returncode == 0,
          f"{tail[0]} ({time.monotonic() - t0:.0f}s)")  # fmt: skip
    # Listeners: each against what it may see, then against its peers of the same sight.
    specs = [[x.user, x.start if x.start is not None else 10**12] for x in soak.listeners]
    code = EXPECTED.replace("SPECS", repr(json.dumps([specs, soak.last_event])))
    expected = json.loads(shell(code, soak_env))
    bad = []
    for x, want in zip(soak.listeners, expected, strict=True):
        got = [i for i in x.ids if i <= soak.last_event]
        twice = len(got) - len(set(got))
        missing = sorted(set(want) - set(got))
        extra = sorted(set(got) - set(want))
        after = len(x.ids) - len(got)
        line = (f"{x.user} from id {x.start}: {len(got)} events, expected {len(want)}; twice {twice}, "
                f"missing {len(missing)} {missing[:5]}, not theirs {len(extra)} {extra[:5]}, "
                f"after the last {after}, reconnects {x.reconnects}, revoked {x.revoked}")  # fmt: skip
        print(f"      {line}", flush=True)
        if twice or missing or extra or x.start is None or got != sorted(got):
            bad.append(x.user)
    # Peers: listeners whose sight holds the same events (after the latest start of them all).
    lo = max(x.start or 0 for x in soak.listeners)
    sights: dict[frozenset[int], list[tuple[str, set[int]]]] = {}
    for x, want in zip(soak.listeners, expected, strict=True):
        got = {i for i in x.ids if lo < i <= soak.last_event}
        sights.setdefault(frozenset(i for i in want if i > lo), []).append((x.user, got))
    peers = [[u for u, _ in group] for group in sights.values() if any(got != group[0][1] for _, got in group)]
    events = sum(len(x.ids) for x in soak.listeners)
    missed = sorted({i for x, want in zip(soak.listeners, expected, strict=True) for i in set(want) - set(x.ids)})
    if missed:
        around = shell(
            "import json; from sos.models import CallEvent;"
            f"print(json.dumps([[e.id, e.call_id, e.action, e.actor_label, e.at.isoformat()] for e in "
            f"CallEvent.objects.filter(id__gte={missed[0] - 2}, id__lte={missed[-1] + 2}).order_by('id')]))",
            soak_env,
        )
        print(f"      missed events and their neighbours (id, call, action, by, at): {around}", flush=True)
    check(results, "every listener got every event exactly once", not bad and not peers,
          f"{len(soak.listeners)} listeners, {events} events in all; wrong: {bad or 'none'}; peers of the same "
          f"sight disagreeing: {peers or 'none'}")  # fmt: skip
    errors = {(c, s, code): n for c in CLASSES for (s, code), n in st[c].errors.items()}
    races = {c: st[c].races for c in CLASSES if st[c].races}
    log = Path(var) / "serve.log"
    tracebacks = log.read_text(errors="replace").count("Traceback") if log.exists() else 0
    check(results, "no errors but state-race 409s", not errors and tracebacks == 0,
          f"errors {sum(errors.values())} {dict(list(errors.items())[:8])}; state races {races}; "
          f"tracebacks in serve.log {tracebacks}; requests sent again on a new connection (a kept one closed "
          f"under them) {soak.stale_retries}")  # fmt: skip
    # p99: the first window against the last.
    w = min(300.0, soak.duration / 3)
    worse = []
    print(f"      p99 per class, first {w:.0f}s vs last {w:.0f}s:", flush=True)
    for c in CLASSES:
        n1, _, a = st[c].window(0, w)
        n2, _, b = st[c].window(soak.duration - w, soak.duration + 1)
        if not n1 or not n2:
            continue
        p1, p2 = percentile(a, 0.99) * 1000, percentile(b, 0.99) * 1000
        judged = n1 >= 50 and n2 >= 50
        flag = "" if judged else " (too few to judge)"
        if judged and p2 > 1.5 * p1:
            worse.append(c)
            flag = " WORSE"
        print(f"      {c:14} {p1:8.1f} ms ({n1:5}) -> {p2:8.1f} ms ({n2:5}) x{p2 / p1:4.2f}{flag}", flush=True)
    n1 = sum(st[c].window(0, w, done=True)[0] for c in CLASSES)
    n2 = sum(st[c].window(soak.duration - w, soak.duration, done=True)[0] for c in CLASSES)
    cpu1 = soak.procs.web_cpu(0, w) * 1000 / max(1, n1)
    cpu2 = soak.procs.web_cpu(soak.duration - w, soak.duration) * 1000 / max(1, n2)
    check(results, "p99 of the last window within 1.5x of the first", not worse,
          f"worse: {worse or 'none'}; the web processes' CPU per request {cpu1:.1f} -> {cpu2:.1f} ms "
          "(the server's own cost, whatever else the machine runs)")  # fmt: skip
    # RSS drift of the web workers.
    span = 1800.0 if soak.duration >= 3600 else soak.duration / 2
    drifts, lines = [], []
    for pid, samples in soak.procs.samples.items():
        name = soak.procs.names.get(pid, str(pid))
        if not name.startswith("web worker"):
            continue
        start = [r for t, r, _, _ in samples if t >= soak.duration - span][:3]
        end = [r for t, r, _, _ in samples if t <= soak.duration][-3:]
        if not start or not end:
            continue
        d = statistics.median(end) - statistics.median(start)
        drifts.append(d)
        lines.append(f"{name} (pid {pid}) {samples[0][1]:.1f} -> {statistics.median(start):.1f} -> "
                     f"{statistics.median(end):.1f} MiB, drift {d:+.1f}")  # fmt: skip
    restarted = soak.procs.restarted()
    check(results, f"web workers' RSS drift over the last {span / 60:.1f} min under 5 MiB, no process restarted",
          bool(drifts) and all(d < 5 for d in drifts) and not restarted,
          "; ".join(lines) + (f"; restarted: {restarted}" if restarted else ""))  # fmt: skip
    check(results, "the server kept up with the timetable", soak.saturated is None,
          f"requests in flight at most {soak.in_flight_max} (limit {args.rate * args.max_backlog:.0f}, "
          f"{args.max_backlog:g}s of the timetable); the last answer {soak.tail:.1f}s after the timetable's end"
          + (f"; the load was stopped at {soak.saturated:.0f}s" if soak.saturated is not None else ""))  # fmt: skip
    failed = [n for n, ok, _ in results if not ok]
    print(
        f"\n# {len(results) - len(failed)} of {len(results)} checks passed" + (f"; FAILED: {failed}" if failed else "")
    )
    return not failed


def summary(soak: Soak) -> None:
    n = max(1, sum(len(soak.stats[c].rows) for c in CLASSES))
    print(f"\n# the whole run ({soak.duration:.0f}s at {soak.args.rate:g} slots/s; client lag p99 "
          f"{percentile([lag for _, lag in soak.lag], 0.99) * 1000:.0f} ms, max "
          f"{max((lag for _, lag in soak.lag), default=0) * 1000:.0f} ms; the last answer {soak.tail:.1f}s after the "
          f"timetable's end; the web processes' CPU {soak.procs.web_cpu(0, soak.duration + soak.tail) * 1000 / n:.1f} "
          "ms per request)", flush=True)  # fmt: skip
    for c in CLASSES:
        s = soak.stats[c]
        if not s.rows:
            continue
        lat = [r[1] for r in s.rows]
        statuses: dict[int, int] = {}
        for r in s.rows:
            statuses[r[2]] = statuses.get(r[2], 0) + 1
        print(f"  {c:14} {len(s.rows):7} requests {len(s.rows) / soak.duration:6.2f}/s  p50 "
              f"{percentile(lat, 0.5) * 1000:7.1f} ms  p99 {percentile(lat, 0.99) * 1000:7.1f} ms  max "
              f"{max(lat) * 1000:7.1f} ms  statuses {dict(sorted(statuses.items()))}", flush=True)  # fmt: skip
    print("# one-key calls as the clients left them: "
          + str({v: sum(1 for x in soak.calls.values() if x == v) for v in sorted(set(soak.calls.values()))}),
          flush=True)  # fmt: skip


def serve_and_check(args: argparse.Namespace, url: str | None, var: str, env: dict[str, str], ids: dict) -> bool:
    port = free_port()
    log = open(Path(var) / "serve.log", "w")  # noqa: SIM115 - open while serve runs
    serve = subprocess.Popen(
        [common.PY, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=common.ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    db = Db(url, var)
    try:
        wait_up(port, timeout=120)
        procs = Processes(serve.pid)
        deadline = time.monotonic() + 60
        while sum(1 for n, _ in procs.current() if n.startswith("web worker")) < args.web_workers:
            if time.monotonic() > deadline:
                raise SystemExit("the web workers did not start")
            time.sleep(0.5)
        with autoanalyze(url):
            soak = asyncio.run(load(args, port, ids, db, procs))
        summary(soak)
    finally:
        # SIGTERM to `serve`: it stops the server and every worker (SIGKILL for any still there after 10 s).
        serve.send_signal(signal.SIGTERM)
        try:
            serve.wait(timeout=30)
        except subprocess.TimeoutExpired:
            serve.kill()
            serve.wait()
        log.close()
        db.close()
    return checks(soak, args, var)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=120, help="requests a second of the mix (open loop)")
    ap.add_argument("--minutes", type=float, default=60)
    ap.add_argument("--listeners", type=int, default=5, help="responder screens on /sos/stream/")
    ap.add_argument("--postgres", help="a PostgreSQL server (or database) URL; default: SQLite in a fresh var dir")
    ap.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    ap.add_argument("--var-dir", help="where the SQLite database and the logs go (a fresh temporary folder)")
    ap.add_argument("--web-workers", type=int, default=2)
    ap.add_argument("--drain-seconds", type=float, default=30, help="how soon the rollups must have caught up")
    ap.add_argument(
        "--max-backlog", type=float, default=60,
        help="stop the load when more than this many seconds of the timetable are in flight (saturated)",
    )  # fmt: skip
    ap.add_argument(
        "--sos-ack-seconds", type=int, default=60,
        help="a one-key call's first rung (GONGZHI_SOS_ACK_SECONDS; the village's is twice it)",
    )  # fmt: skip
    args = ap.parse_args()

    url = database(args.postgres)
    env, var = bench_env(postgres=url, var_dir=args.var_dir, reuse=False)
    env.update(
        DEBUG="0",
        GONGZHI_WEB_WORKERS=str(args.web_workers),
        GONGZHI_SOS_ACK_SECONDS=str(args.sos_ack_seconds),
        GONGZHI_SOS_VILLAGE_SECONDS=str(2 * args.sos_ack_seconds),
    )
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    soak_env.update(env)
    backend = f"PostgreSQL ({url.rsplit('/', 1)[1]})" if url else "SQLite"
    commit = subprocess.run(["git", "-C", str(common.ROOT), "describe", "--always", "--dirty"],
                            capture_output=True, text=True).stdout.strip()  # fmt: skip
    print(f"# bench/soak.py on {backend}, code {commit}, var={var}: {args.rate:g} requests/s for {args.minutes:g} min, "
          f"{args.web_workers} web workers, {args.listeners} listeners", flush=True)  # fmt: skip
    try:
        t = time.monotonic()
        run(["migrate", "-v0"], env)
        run(["seed_demo", "--scale", "small", "--seed", "1", "--if-empty"], env)
        ids = json.loads(
            shell(
                SETUP.replace("TOKENS", repr(TOKENS))
                .replace("SESSIONS", repr(SESSIONS))
                .replace("LISTENERS", repr(listener_users(args.listeners))),
                env,
            )
        )
        print(f"# migrated and seeded in {time.monotonic() - t:.0f}s", flush=True)
        ok = serve_and_check(args, url, var, env, ids)
    finally:
        if url and not args.keep:
            drop_postgres(url)
            print(f"# dropped {url.rsplit('/', 1)[1]}", flush=True)
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
