"""The shape of every worker command (run_deadlines, run_outbox, run_sos, run_points, run_rollups): call
`handle_one()` until it finds nothing, sleep a little, repeat; stop cleanly between steps on SIGTERM or
SIGINT.

Work lives in database rows with deadline columns, claimed by compare-and-set, so a worker holds no
state worth losing: kill it at any point and the next one picks up where it stopped.

A running worker beats: at most every WORKER_HEARTBEAT_SECONDS (and at least every idle sleep) it writes
the time into its core.WorkerBeat row, so /health and the admin see one that hangs or died (core.health),
and `manage.py serve` restarts it. `--once` runs (cron, tests) do not beat: nothing waits for them.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.db import connection, connections, models, transaction
from django.db.models import QuerySet

from core import clock
from core.models import WorkerBeat

log = logging.getLogger("gongzhi.worker")

M = TypeVar("M", bound=models.Model)

# --once gives up after this many failed steps in a row (the database is down, not one bad row).
MAX_FAILURES_IN_A_ROW = 10


def heartbeat_seconds() -> float:
    return float(getattr(settings, "WORKER_HEARTBEAT_SECONDS", 5.0))


def close_old_connections() -> None:
    """Django's close_old_connections, but never a connection inside a transaction: a worker is in none
    between steps, and a loop run inside one (a test's) would have its transaction broken under it."""
    for conn in connections.all(initialized_only=True):
        if not conn.in_atomic_block:
            conn.close_if_unusable_or_obsolete()


def claim_due(model: type[models.Model], lease: dt.timedelta, field: str = "next_check_at") -> int | None:
    """Claim the row most overdue by its `field` (a time the worker must look at it again): its id, 0 when
    another worker claimed it first, None when nothing is due. On PostgreSQL it is claim_batch's claim of one row
    (FOR UPDATE SKIP LOCKED); elsewhere the claim is a compare-and-set that moves `field`
    `lease` ahead, so a worker killed before it acts leaves the row to be picked up once the lease runs out; the
    caller acts under the row's lock and sets `field` to the next time (work-order deadlines, dispute time
    limits)."""
    if connection.features.has_select_for_update_skip_locked:
        # PostgreSQL: workers polling at once take different rows instead of racing for the head one.
        ids = claim_batch(model, lease, field, size=1)
        return ids[0] if ids else None
    t = clock.now()
    manager = model._default_manager
    row = manager.filter(**{f"{field}__lte": t}).order_by(field, "id").values_list("id", field).first()
    if row is None:
        return None
    pk, seen = row
    return pk if manager.filter(pk=pk, **{field: seen}).update(**{field: t + lease}) else 0


def skip_locked(qs: QuerySet[M], *, of: tuple[str, ...] = ()) -> QuerySet[M]:
    """`qs` locking the rows it reads and passing over rows another transaction holds (PostgreSQL's FOR UPDATE
    SKIP LOCKED), so that workers reading the due rows at the same moment take different ones; as it is on
    SQLite, whose write transactions hold the database's one write lock from their BEGIN (IMMEDIATE)
    anyway. Use inside transaction.atomic()."""
    if connection.features.has_select_for_update_skip_locked:
        return qs.select_for_update(skip_locked=True, of=of)
    return qs


def claim_batch(
    model: type[models.Model], lease: dt.timedelta, field: str = "next_check_at", size: int | None = None
) -> list[int]:
    """Claim up to `size` (settings.WORKER_BATCH) due rows at once, most overdue first: their ids, [] when
    nothing is due. Each claimed row's `field` moves `lease` ahead, as claim_due does, so a worker killed
    before it acts leaves them to be picked up once the lease runs out; the caller acts on each under its
    row lock and sets `field` to the next time.

    On PostgreSQL the rows are picked FOR UPDATE SKIP LOCKED: workers claiming at the same moment take
    different rows, instead of all racing for the head row and all but one finding it gone (deadlines
    falling due at midnight come in thousands). On SQLite a write transaction holds the database's one
    write lock from its BEGIN (IMMEDIATE), so claims are one at a time there anyway."""
    size = size or int(getattr(settings, "WORKER_BATCH", 100))
    t = clock.now()
    manager = model._default_manager
    if not manager.filter(**{f"{field}__lte": t}).exists():
        return []  # the idle poll takes no lock (on SQLite, BEGIN IMMEDIATE would take the write lock)
    with transaction.atomic():
        due = skip_locked(manager.filter(**{f"{field}__lte": t}).order_by(field, "id"), of=("self",))
        ids = list(due.values_list("id", flat=True)[:size])
        if ids:
            manager.filter(pk__in=ids).update(**{field: t + lease})
    return ids


class BatchFailed(Exception):
    """Some rows of a batch failed and were logged; `done` others were handled. The first failure is the
    cause (`raise … from`). The loop counts `done` and records the failure in the heartbeat; the failed rows
    stay claimed until their lease runs out."""

    def __init__(self, done: int, failed: int, first: Exception) -> None:
        super().__init__(f"{failed} row(s) of the batch failed; first: {type(first).__name__}: {first}")
        self.done = done


def act_on_each(ids: list[int], act: Callable[[int], object], name: str) -> int:
    """Call act(id) for each claimed id; one that raises is logged and the rest still done. Returns how
    many were handled; raises BatchFailed after the last one when any failed."""
    failures: list[Exception] = []
    for pk in ids:
        try:
            act(pk)
        except Exception as exc:
            log.exception("%s: row %s failed", name, pk)
            failures.append(exc)
    if failures:
        raise BatchFailed(len(ids) - len(failures), len(failures), failures[0]) from failures[0]
    return len(ids)


class Loop:
    def __init__(self, name: str, handle_one: Callable[[], bool | int], idle_sleep: float = 1.0) -> None:
        self.name = name
        self.handle_one = handle_one
        self.idle_sleep = idle_sleep
        self.stopping = False
        self.beats = True
        # The longest a healthy worker goes without beating, give or take one step.
        self.interval = max(heartbeat_seconds(), idle_sleep)
        self._last_beat: dt.datetime | None = None  # None: this process has not beaten yet
        self._error: tuple[str, dt.datetime] | None = None  # a failed step not yet written down

    def _stop(self, signum: int, frame: object) -> None:
        log.info("%s: stopping after the current step (signal %s)", self.name, signum)
        self.stopping = True

    def run(self, *, once: bool = False) -> int:
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        self.beats = not once
        if not once:
            self._step_back()
        try:
            return self._loop(once=once)
        finally:
            if self.beats:
                self._stopped()
            # Give the signals back: run from a test or embedded in another program, the worker kept
            # Ctrl-C for a loop that had already ended, and nothing could be interrupted any more.
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _step_back(self) -> None:
        """Lower this process's CPU priority by settings.WORKER_NICE[name] (a running worker, not --once)."""
        n = int(getattr(settings, "WORKER_NICE", {}).get(self.name, 0))
        if n > 0:
            try:
                os.nice(n)
            except OSError as exc:  # pragma: no cover - lowering one's own priority is always allowed on Linux
                log.warning("%s: priority not lowered: %s", self.name, exc)

    def tick(self) -> bool | int:
        """One step, then a heartbeat if one is due; never sleeps. Raises what the step raised."""
        close_old_connections()
        try:
            worked = self.handle_one()
        except Exception as exc:
            self._error = (f"{type(exc).__name__}: {exc}"[:300], clock.now())
            self.beat()
            raise
        self.beat()
        return worked

    def _loop(self, *, once: bool) -> int:
        done = 0
        failures = 0  # in a row
        while not self.stopping:
            try:
                worked = self.tick()
                failures = 0
            except Exception as exc:
                # One bad row must not stop the county's deadlines; the row stays due and is logged.
                log.exception("%s: step failed", self.name)
                done += getattr(exc, "done", 0)  # a batch's rows handled beside the ones that failed
                failures += 1
                time.sleep(self.idle_sleep)
                # The failed row was claimed (leased) before its step failed, so the next step takes the
                # next row: --once still works off everything else that is due (it used to stop at the
                # first bad row). Failing again and again is no longer about one row: stop then.
                if once and failures < MAX_FAILURES_IN_A_ROW:
                    continue
                worked = False
            if worked:
                done += int(worked)  # True: one row; a number: a batch's rows
                continue
            if once:
                break
            slept = 0.0
            while slept < self.idle_sleep and not self.stopping:
                time.sleep(0.1)
                slept += 0.1
        return done

    def beat(self) -> None:
        """Write the heartbeat if the last one is WORKER_HEARTBEAT_SECONDS old. A beat that cannot be
        written (the database is down) is logged and skipped: the worker goes on, and shows as late."""
        if not self.beats:
            return
        now = clock.now()
        if self._last_beat is not None and (now - self._last_beat).total_seconds() < heartbeat_seconds():
            return
        try:
            self._write(now)
        except Exception:
            log.warning("%s: heartbeat not written", self.name, exc_info=True)
            return
        self._last_beat = now
        self._error = None

    def _write(self, now: dt.datetime) -> None:
        fields: dict[str, object] = {
            "pid": os.getpid(),
            "host": socket.gethostname()[:100],
            "interval": self.interval,
            "last_beat": now,
            "stopped_at": None,
        }
        if self._error is not None:
            fields["last_error"], fields["last_error_at"] = self._error
        if self._last_beat is not None and WorkerBeat.objects.filter(name=self.name).update(**fields):
            return
        # This process's first beat (or its row was deleted): it started now.
        WorkerBeat.objects.update_or_create(name=self.name, defaults={**fields, "started_at": now})

    def _stopped(self) -> None:
        try:
            WorkerBeat.objects.filter(name=self.name, pid=os.getpid()).update(stopped_at=clock.now())
        except Exception:
            log.warning("%s: could not record the stop", self.name, exc_info=True)
