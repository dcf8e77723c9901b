"""Keeping the tallies: apply changed orders (the worker), recount everything (the check), rebuild."""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import F, Q

from core.worker import skip_locked
from dashboards.facts import N, facts_for
from dashboards.models import COUNTERS, Dirty, Fact, Period, Tally, Volume, WorkerLock
from org.models import Level, Node

log = logging.getLogger("gongzhi.dashboards")

TallyKey = tuple[str, dt.date, str]  # (period, start, "n12" | "d3")
VolumeKey = tuple[dt.date, str, str, str]  # (day, unit, dim, value)


def _add(
    tallies: dict[TallyKey, list[int]], volumes: dict[VolumeKey, int], fact: dict[str, Any] | None, sign: int
) -> None:
    if fact is None:
        return
    day = dt.date.fromisoformat(fact["day"])
    month = day.replace(day=1)
    for unit, counters in fact["units"].items():
        for key in ((Period.DAY, day, unit), (Period.MONTH, month, unit)):
            row = tallies[key]
            for i, v in enumerate(counters):
                if v:
                    row[i] += sign * v
    for unit in fact["units"]:
        for dim, value in fact["vol"]:
            volumes[(day, unit, dim, value)] += sign


def _levels(units: set[str]) -> dict[str, tuple[int, str]]:
    ids = [int(u[1:]) for u in units if u[0] == "n"]
    return {
        f"n{pk}": (lvl, path) for pk, lvl, path in Node.objects.filter(pk__in=ids).values_list("id", "level", "path")
    }


def _unit_q(unit: str) -> dict[str, Any]:
    return {"node_id": int(unit[1:]), "department_id": None} if unit[0] == "n" else {
        "node_id": None, "department_id": int(unit[1:])
    }  # fmt: skip


def _write(tallies: dict[TallyKey, list[int]], volumes: dict[VolumeKey, int]) -> None:
    """Add the deltas to the stored rows, read under their row locks (another shard's pass may add to the
    same rows: it waits for this one's commit and then reads what this one wrote)."""
    tallies = {k: v for k, v in tallies.items() if any(v)}
    volumes = {k: v for k, v in volumes.items() if v}
    units = {k[2] for k in tallies} | {k[1] for k in volumes}
    levels = _levels(units)
    if tallies:
        existing: dict[TallyKey, Tally] = {}
        starts = {k[1] for k in tallies}
        nodes = [int(u[1:]) for u in units if u[0] == "n"]
        depts = [int(u[1:]) for u in units if u[0] == "d"]
        rows = Tally.objects.filter(start__in=starts).filter(Q(node_id__in=nodes) | Q(department_id__in=depts))
        for stored in rows.select_for_update().order_by("id"):  # locked in one order: passes queue, never cross
            unit = f"n{stored.node_id}" if stored.node_id else f"d{stored.department_id}"
            existing[(stored.period, stored.start, unit)] = stored
        adds: list[tuple[int, list[int]]] = []
        new: list[Tally] = []
        for key, delta in tallies.items():
            t = existing.get(key)
            if t is None:
                lvl, path = levels.get(key[2], (0, ""))
                t = Tally(period=key[0], start=key[1], level=lvl, path=path, **_unit_q(key[2]))
                for name, d in zip(COUNTERS, delta, strict=True):
                    setattr(t, name, getattr(t, name) + d)
                new.append(t)
            else:
                adds.append((t.pk, delta))
        _add_to_rows(Tally._meta.db_table, COUNTERS, sorted(adds))
        if new:
            Tally.objects.bulk_create(new, batch_size=500)
    if volumes:
        vol_units = {k[1] for k in volumes}
        keep = {u for u in vol_units if u[0] == "d" or levels.get(u, (0, ""))[0] < Level.GRID}
        volumes = {k: v for k, v in volumes.items() if k[1] in keep}
        nodes = [int(u[1:]) for u in keep if u[0] == "n"]
        depts = [int(u[1:]) for u in keep if u[0] == "d"]
        have: dict[VolumeKey, Volume] = {}
        vrows = Volume.objects.filter(start__in={k[0] for k in volumes}).filter(
            Q(node_id__in=nodes) | Q(department_id__in=depts)
        )
        for row in vrows.select_for_update().order_by("id"):
            unit = f"n{row.node_id}" if row.node_id else f"d{row.department_id}"
            have[(row.start, unit, row.dim, row.value)] = row
        adds_v: list[tuple[int, list[int]]] = []
        new_v: list[Volume] = []
        for vkey, d in volumes.items():
            v = have.get(vkey)
            if v is None:
                new_v.append(Volume(start=vkey[0], dim=vkey[2], value=vkey[3], n=d, **_unit_q(vkey[1])))
            else:
                adds_v.append((v.pk, [d]))
        _add_to_rows(Volume._meta.db_table, ("n",), sorted(adds_v))
        if new_v:
            Volume.objects.bulk_create(new_v, batch_size=500)


GLOBAL = 1  # the lock row of the hot-topic scan and of rebuild
SHARD_BASE = 100  # shard k's lock row is SHARD_BASE + k; an order belongs to shard order_id % shards()
RETRIES = 5


def shards() -> int:
    return max(1, int(settings.GONGZHI.get("ROLLUP_SHARDS", 8)))


def _add_to_rows(table: str, columns: tuple[str, ...], adds: list[tuple[int, list[int]]]) -> None:
    """Add each row's deltas to what it stores, in SQL (`c = c + %s`; only the columns that change): one
    statement sent many times, where bulk_update's CASE per row and column cost the worker ~25 ms of CPU per
    order folded when the orders' days were spread over months (each day its own tally rows)."""
    if not adds:
        return
    by_shape: dict[tuple[int, ...], list[list[int]]] = defaultdict(list)
    for pk, delta in adds:
        which = tuple(i for i, d in enumerate(delta) if d)
        by_shape[which].append([*(delta[i] for i in which), pk])
    with connection.cursor() as cur:
        for which, rows in by_shape.items():
            sets = ", ".join(f"{columns[i]} = {columns[i]} + %s" for i in which)
            cur.executemany(f"UPDATE {table} SET {sets} WHERE id = %s", rows)  # noqa: S608


def lock() -> WorkerLock:
    """The rollup workers' global lock row (the hot-topic scan, rebuild), locked until the caller's
    transaction ends."""
    WorkerLock.objects.get_or_create(pk=GLOBAL)
    return WorkerLock.objects.select_for_update().get(pk=GLOBAL)


_lock = lock


def _shard_rows() -> list[int]:
    ids = [SHARD_BASE + k for k in range(shards())]
    have = set(WorkerLock.objects.filter(pk__in=ids).values_list("pk", flat=True))
    if len(have) < len(ids):
        WorkerLock.objects.bulk_create([WorkerLock(pk=i) for i in ids if i not in have], ignore_conflicts=True)
    return ids


def lock_all() -> None:
    """Every lock row, in one order (rebuild: no worker folds while the tallies are rebuilt)."""
    ids = [GLOBAL, *_shard_rows()]
    WorkerLock.objects.get_or_create(pk=GLOBAL)
    list(WorkerLock.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk", flat=True))


def _claim_shard(peek: list[int], *, wait: bool = False) -> tuple[WorkerLock, int] | None:
    """Lock the row of a shard that has waiting orders and that no other worker holds: (row, k), or None.

    Orders are split among `shards()` shards by id; a worker folds one shard's orders per pass under that
    shard's row lock, so two workers never fold the same order at once (an order's old fact and its new one
    are read and written by one pass) while workers on different shards compute their facts side by side.
    On PostgreSQL a held row is passed over (SKIP LOCKED); on SQLite the pass's write transaction holds
    the database's one write lock from its BEGIN, so passes are one at a time there anyway."""
    n = shards()
    counts: dict[int, int] = defaultdict(int)
    for order_id in peek:
        counts[order_id % n] += 1
    start = random.randrange(n)  # workers that peeked the same rows start at different shards
    wanted = sorted(counts, key=lambda k: (-counts[k], (k - start) % n))
    _shard_rows()
    if wait:  # apply_all: the first shard with waiting orders, waiting for a worker that holds it
        k = wanted[0]
        return WorkerLock.objects.select_for_update().get(pk=SHARD_BASE + k), k
    for k in wanted:
        row = skip_locked(WorkerLock.objects.filter(pk=SHARD_BASE + k)).first()
        if row is not None:
            return row, k
    return None


def _fold(batch: int, *, wait: bool = False) -> int:
    peek = list(Dirty.objects.order_by("order_id").values_list("order_id", flat=True)[: batch * 2])
    if not peek:
        return 0  # the idle poll takes no lock
    with transaction.atomic():
        claimed = _claim_shard(peek, wait=wait)
        if claimed is None:
            return 0  # every shard with waiting orders is being folded by another worker
        shard, k = claimed
        n = shards()
        pending = list(
            Dirty.objects.annotate(shard=F("order_id") % n)
            .filter(shard=k)
            .order_by("order_id")
            .values_list("order_id", "seq")[:batch]
        )
        if not pending:
            return 0
        ids = [i for i, _ in pending]
        new = facts_for(ids)
        old = {f.order_id: f.data for f in Fact.objects.filter(order_id__in=ids)}
        tallies: dict[TallyKey, list[int]] = defaultdict(lambda: [0] * N)
        volumes: dict[VolumeKey, int] = defaultdict(int)
        for i in ids:
            if old.get(i) == new[i]:
                continue
            _add(tallies, volumes, old.get(i), -1)
            _add(tallies, volumes, new[i], +1)
        changed = [i for i in ids if old.get(i) != new[i]]
        Fact.objects.filter(order_id__in=changed).delete()
        Fact.objects.bulk_create([Fact(order_id=i, data=new[i]) for i in changed if new[i] is not None], batch_size=500)
        # Only the changes read: an order changed again meanwhile keeps its mark (its seq moved on).
        with connection.cursor() as cur:
            cur.executemany(
                f"DELETE FROM {Dirty._meta.db_table} WHERE order_id = %s AND seq = %s",  # noqa: S608
                pending,
            )
        # Last, so that the shared rows (a county's tally gets every order) stay locked for the shortest time.
        _write(tallies, volumes)
        shard.passes += 1
        shard.save(update_fields=["passes"])
        return len(pending)


def apply_pending(batch: int = 500, *, wait: bool = False) -> int:
    """Fold up to `batch` changed orders of one shard into the tallies; the number folded (0: nothing
    waiting, or every waiting shard taken by another worker).

    Workers on different shards may add to the same tally row (the county's) at once: `_write` locks the
    rows it adds to in id order and adds to what is stored, so the adds queue instead of overwriting. Two
    passes creating the same new row (a unit's first order of a day) or a deadlock PostgreSQL broke: the
    pass is rolled back whole and run again."""
    for attempt in range(RETRIES):
        try:
            return _fold(batch, wait=wait)
        except (IntegrityError, OperationalError) as exc:
            if attempt == RETRIES - 1 or not _retryable(exc):
                raise
            log.info("rollup pass retried after %s", type(exc).__name__)
    return 0


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, IntegrityError):
        return True
    code = getattr(getattr(exc, "__cause__", None), "sqlstate", None)
    return code in ("40P01", "40001")  # deadlock detected, serialization failure


def apply_all(batch: int = 500) -> int:
    """Fold everything waiting, shard by shard, waiting for a worker that holds a shard rather than passing it
    over (the month's scoring and the nightly check must see every change made before they began). Call it
    outside a transaction: inside one, each pass's locks would be held until the caller commits."""
    total = 0
    while Dirty.objects.exists():
        total += apply_pending(batch, wait=True)
    return total


def _all_ids(chunk: int = 2000) -> Iterator[list[int]]:
    from workorders.models import WorkOrder

    last = 0
    while True:
        ids = list(WorkOrder.objects.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:chunk])
        if not ids:
            return
        yield ids
        last = ids[-1]


def recount() -> tuple[dict[TallyKey, list[int]], dict[VolumeKey, int], dict[int, dict[str, Any]]]:
    """Every tally and volume as the orders say now, computed afresh."""
    tallies: dict[TallyKey, list[int]] = defaultdict(lambda: [0] * N)
    volumes: dict[VolumeKey, int] = defaultdict(int)
    facts: dict[int, dict[str, Any]] = {}
    for ids in _all_ids():
        for i, f in facts_for(ids).items():
            if f is not None:
                facts[i] = f
                _add(tallies, volumes, f, +1)
    return tallies, volumes, facts


def stored() -> tuple[dict[TallyKey, list[int]], dict[VolumeKey, int]]:
    tallies = {}
    for t in Tally.objects.all().iterator(chunk_size=5000):
        unit = f"n{t.node_id}" if t.node_id else f"d{t.department_id}"
        tallies[(t.period, t.start, unit)] = [getattr(t, c) for c in COUNTERS]
    volumes = {}
    for v in Volume.objects.all().iterator(chunk_size=5000):
        unit = f"n{v.node_id}" if v.node_id else f"d{v.department_id}"
        volumes[(v.start, unit, v.dim, v.value)] = v.n
    return tallies, volumes


def differences() -> list[str]:
    """Where the stored tallies differ from a full recount (after folding in what is waiting)."""
    apply_all()
    want_t, want_v, _facts = recount()
    have_t, have_v = stored()
    grids = {f"n{pk}" for pk in Node.objects.filter(level=Level.GRID).values_list("pk", flat=True)}
    out = []
    for key in sorted(set(want_t) | set(have_t), key=str):
        w = want_t.get(key, [0] * N)
        h = have_t.get(key, [0] * N)
        if w != h:
            diff = {c: (h[i], w[i]) for i, c in enumerate(COUNTERS) if w[i] != h[i]}
            out.append(f"tally {key[0]} {key[1]} {key[2]}: stored→recount {diff}")
    want_v = {k: v for k, v in want_v.items() if v and k[1] not in grids}
    for vkey in sorted(set(want_v) | set(have_v), key=str):
        if want_v.get(vkey, 0) != have_v.get(vkey, 0):
            out.append(f"volume {vkey}: stored {have_v.get(vkey, 0)}, recount {want_v.get(vkey, 0)}")
    return out


@transaction.atomic
def rebuild() -> int:
    """Throw the tallies away and count every order again (after a restore, or for the benchmark)."""
    lock_all()
    Tally.objects.all().delete()
    Volume.objects.all().delete()
    Fact.objects.all().delete()
    Dirty.objects.all().delete()
    n = 0
    for ids in _all_ids(5000):
        tallies: dict[TallyKey, list[int]] = defaultdict(lambda: [0] * N)
        volumes: dict[VolumeKey, int] = defaultdict(int)
        facts = facts_for(ids)
        for f in facts.values():
            _add(tallies, volumes, f, +1)
        _write(tallies, volumes)
        Fact.objects.bulk_create([Fact(order_id=i, data=f) for i, f in facts.items() if f], batch_size=1000)
        n += len(ids)
    return n
