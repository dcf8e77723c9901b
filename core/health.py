"""Is the system alive: the workers' states from their heartbeats (core.worker), GET /health for
monitors and load balancers, and the workers table of the admin index and the command centre
(templates/core/_workers.html, fed by the `workers_context` context processor).

A worker is "ok" while its last beat is younger than WORKER_LATE_AFTER × its interval (the longer of the
heartbeat period and its idle sleep), "late" after that, and "dead" after WORKER_DEAD_AFTER × its
interval, when it said it stopped, or when it was never heard from. The workers expected are
settings.WORKER_COMMANDS (what `manage.py serve` starts); others that beat are listed too.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_safe

from core import clock
from core.models import WorkerBeat

if TYPE_CHECKING:
    from prometheus_client.core import Metric

log = logging.getLogger("gongzhi.health")

State = Literal["ok", "late", "dead"]
STATE_LABELS = {"ok": _("Running"), "late": _("Late"), "dead": _("Not responding")}


@dataclass(frozen=True)
class WorkerState:
    name: str
    state: State
    age: int | None  # whole seconds since the last beat; None: never heard from
    beat: WorkerBeat | None

    @property
    def label(self) -> str:
        return str(STATE_LABELS[self.state])


def _state(beat: WorkerBeat, now: dt.datetime) -> tuple[State, int]:
    age = max(0.0, (now - beat.last_beat).total_seconds())
    if beat.stopped_at is not None or age > settings.WORKER_DEAD_AFTER * beat.interval:
        return "dead", int(age)
    if age > settings.WORKER_LATE_AFTER * beat.interval:
        return "late", int(age)
    return "ok", int(age)


def worker_states() -> list[WorkerState]:
    """Every expected worker and every worker that beats, by name. One query."""
    now = clock.now()
    beats = {b.name: b for b in WorkerBeat.objects.all()}
    names = list(settings.WORKER_COMMANDS) + sorted(set(beats) - set(settings.WORKER_COMMANDS))
    states = []
    for name in names:
        beat = beats.get(name)
        if beat is None:
            states.append(WorkerState(name, "dead", None, None))
        else:
            state, age = _state(beat, now)
            states.append(WorkerState(name, state, age, beat))
    return states


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except DatabaseError:
        log.warning("health: the database does not answer", exc_info=True)
        return False


@require_safe
def health(request: HttpRequest) -> JsonResponse:
    """200 when the database answers and no expected worker is dead, else 503. No login: it says only whether
    the parts are alive, never who uses them, where they run or what went wrong (that is in the logs and
    in the admin's workers table)."""
    database = _database_ok()
    workers: dict[str, dict[str, Any]] = {}
    if database:
        try:
            workers = {w.name: {"state": w.state, "last_beat_age": w.age} for w in worker_states()}
        except DatabaseError:  # answers SELECT 1 but not this: not migrated, or half there
            log.warning("health: worker heartbeats unreadable", exc_info=True)
            database = False
    # 503 only for what stops the service: the database, or a worker that should run here and is dead. A
    # late one (a long step) and one not expected here (run elsewhere, or by hand) are reported, not failed.
    expected = set(settings.WORKER_COMMANDS)
    ok = database and not any(w["state"] == "dead" and name in expected for name, w in workers.items())
    body = {"status": "ok" if ok else "fail", "database": "ok" if database else "unreachable", "workers": workers}
    response = JsonResponse(body, status=200 if ok else 503)
    response["Cache-Control"] = "no-store"
    return response


def samples(now: dt.datetime) -> Iterable[Metric]:
    """The workers' heartbeats for Prometheus (core.metrics, settings.METRICS_PROBES)."""
    from core.metrics import gauge

    age = gauge("gongzhi_worker_heartbeat_age_seconds", "Seconds since the worker's last heartbeat.", labels=["worker"])
    up = gauge("gongzhi_worker_up", "1 while the worker's heartbeat is fresh (core.health: ok).", labels=["worker"])
    for w in worker_states():
        if w.age is not None:
            age.add_metric([w.name], w.age)
        up.add_metric([w.name], 1 if w.state == "ok" else 0)
    yield age
    yield up


@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """200 while this process answers: nothing is asked of the database (liveness; a load balancer's
    check, systemd's watchdog)."""
    response = JsonResponse({"status": "ok"})
    response["Cache-Control"] = "no-store"
    return response


_migrated = False  # once true, for the life of the process: its code does not change under it


def _migrations_applied() -> bool:
    global _migrated
    if not _migrated:
        executor = MigrationExecutor(connection)
        _migrated = not executor.migration_plan(executor.loader.graph.leaf_nodes())
    return _migrated


@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    """200 when the database answers, every migration of this code is applied, and every expected worker's
    heartbeat is fresh; else 503, saying which by name. A late worker counts: something is wrong even if the
    site still serves (load balancers should ask /healthz; monitors ask this)."""
    checks: dict[str, Any] = {"database": "ok" if _database_ok() else "unreachable"}
    workers: dict[str, dict[str, Any]] = {}
    if checks["database"] == "ok":
        try:
            checks["migrations"] = "ok" if _migrations_applied() else "pending"
            workers = {w.name: {"state": w.state, "last_beat_age": w.age} for w in worker_states()}
        except DatabaseError:
            log.warning("readyz: the schema is unreadable", exc_info=True)
            checks["migrations"] = "pending"
    expected = set(settings.WORKER_COMMANDS)
    stale = sorted(name for name, w in workers.items() if name in expected and w["state"] != "ok")
    ok = checks["database"] == "ok" and checks.get("migrations") == "ok" and not stale
    body = {"status": "ok" if ok else "fail", **checks, "workers": workers, "stale_workers": stale}
    response = JsonResponse(body, status=200 if ok else 503)
    response["Cache-Control"] = "no-store"
    return response


def workers_context(request: HttpRequest) -> dict[str, Any]:
    """`gongzhi_workers` for templates/core/_workers.html: a callable, so that the query runs only on
    the pages that show the table (Django's templates call it when it is used)."""
    return {"gongzhi_workers": worker_states}
