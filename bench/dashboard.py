#!/usr/bin/env python
"""Dashboard reads with 10,000,000 work orders behind them: the three rates (response, resolution,
satisfaction) of the county, a town and a grid, and the ranking of every village, over a month and a
year, timed in-process (dashboards.indicators.for_unit / for_units) and through the HTTP API.

    .venv/bin/python bench/dashboard.py [--orders 10000000] [--scale county|small]
        [--postgres postgres://postgres@127.0.0.1:5432/gz_bench_dash] [--var-dir DIR] [--reuse]
        [--repeat 40] [--no-http] [--verify | --no-verify]

Try it small first (`--orders 100000`); `--orders 20000` also checks the tallies against a recount.
Time a seeded database again without reseeding: `--var-dir DIR --reuse` (SQLite) or `--postgres URL
--reuse` (the database is otherwise dropped and recreated; its name must contain "bench").

Seeding (once; a reused database that already holds `--orders` orders is not touched):
1. `seed_demo --scale county` (204 villages, 3,260 grids, 42 departments: the ranking of all villages
   means something only at that size; `--scale small` has 10 villages).
2. `--orders` work orders over the two years before now, bulk-inserted straight into the tables — outside
   the services, for speed: no events, no notifications, no photos, no Fact rows. Each order lives a
   simulated life (dispatch, sign-for, resolution, rating, callback; returns, reopenings, suspensions,
   cancellations, duplicates, 直接答复 answers and 甄别 exclusions in realistic proportions) cut off at
   now, so the last weeks hold the open ones. Its main-handler assignments, ratings and callbacks go in
   as rows too. SQLite: executemany in transactions of ~500,000 orders; PostgreSQL: COPY.
   For the load the secondary indexes of the order, assignment, rating, callback and tally tables are
   dropped and recreated afterwards (the primary keys and unique constraints stay); the dashboards_dirty
   triggers (migration dashboards/0002) are dropped with the migration's own `backwards` and recreated
   with its `forwards`, and dashboards_dirty is emptied. SQLite loads with foreign_keys=OFF and
   synchronous=OFF; PostgreSQL with session_replication_role=replica (no foreign-key triggers).
3. The tallies (dashboards_tally, daily and monthly rows for every node on each order's path and for
   every department) are not built by `rollups.rebuild()` (Python per order: hours at 10 M) but by SQL
   GROUP BY statements over those rows that write out facts.contribution() — the grid×day sums, rolled
   up the tree a level at a time, the departments' from the orders and their assignments, the months from
   the days. Working hours need the holiday calendar (core.workcal), so the loader computes each
   resolved order's hours in Python as it generates it (the same calendar, a per-day cumulative table)
   into a scratch table the SQL joins. A check that the SQL's counters are the model's COUNTERS stops
   the run when a counter is added; `--verify` (on by default up to 50,000 orders) compares every
   counter of every tally with `rollups.recount()` and prints the result. The volumes (dashboards_volume)
   and the per-order Fact rows are not written: the timed reads do not use them. Do not run the rollup
   worker on the seeded database (without Fact rows it would count changed orders twice);
   `manage.py rollups_check --rebuild` puts it right.
4. ANALYZE (SQLite: with analysis_limit, as PRAGMA optimize would; PostgreSQL: VACUUM ANALYZE the tally).

Timing: each read `--repeat` times after two warm-up calls, p50/p95/max in ms; the town and the grid
change at every call (every town, a sample of grids). Ranges end on the day of the newest order:
the last whole calendar month, the last 30 days, the last 12 whole months, the last 365 days (the
rolling ranges add daily rows at their edges). Over HTTP (granian, one worker, one request at a time, as
the demo leader): GET /api/v1/dashboard/nodes/{id} (which also reads the node's children) and
/api/v1/dashboard/ranking?group=village. Target: under 200 ms for any node and range.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import http.client
import importlib
import itertools
import multiprocessing
import os
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from common import ROOT, bench_env, make_token, run, server, timed

TARGET_MS = 200.0
BATCH = 50_000  # orders generated at a time
COMMIT_EVERY = 500_000  # orders per load transaction
DAY = 86400
HOUR = 3600
LOCAL = 8 * HOUR  # Asia/Shanghai: UTC+8 all year (no summer time since 1991)

# Tables the load writes, whose secondary indexes are dropped during it.
TABLES = ("workorders_workorder", "workorders_assignment", "workorders_rating", "workorders_callback",
          "dashboards_tally")  # fmt: skip

ORDER_COLS = (
    "id", "tracking_code", "kind", "channel", "urgency", "title", "text", "form_data", "path", "address",
    "contact_name", "contact_phone", "anonymous", "idempotency_key", "state", "close_reason", "round", "unit_path",
    "reply", "callback_required", "created_at", "dispatched_at", "accepted_at", "resolved_at", "closed_at",
    "suspended_at", "updated_at", "respond_by", "due_at", "warned", "respond_overdue", "overdue", "next_check_at",
    "category_id", "department_id", "grid_id", "excluded",
)  # fmt: skip
ASSIGN_COLS = ("order_id", "role", "department_id", "active", "assigned_at", "ended_at", "returned")
RATING_COLS = ("order_id", "round", "solved", "satisfaction", "comment", "at", "department_id")
CALLBACK_COLS = ("order_id", "kind", "round", "reached", "solved", "satisfaction", "note", "at", "by_id")

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # the tracking codes' alphabet, in ASCII order


_LOW = ["".join(ALPHABET[(j >> (5 * k)) & 31] for k in (2, 1, 0)) for j in range(1 << 15)]


@functools.lru_cache(maxsize=4)
def _high(h: int) -> str:
    return "Z" + "".join(ALPHABET[(h >> (5 * k)) & 31] for k in range(5, -1, -1))


def code(i: int) -> str:
    """The letter Z and nine characters, most significant first: codes grow with ids, so the unique index on
    tracking_code (kept during the load) is appended to, not written all over."""
    return _high(i >> 15) + _LOW[i & 32767]


# --- the simulated orders ---------------------------------------------------------------------------


class WorkClock:
    """Working seconds on the official calendar as a running total, so that the working hours between
    two instants are a subtraction: the same windows and working days as core.workcal, in whole
    seconds (working_hours_between sums the same intervals; the --verify run compares)."""

    def __init__(self, first: dt.date, last: dt.date) -> None:
        from django.conf import settings

        from core import workcal

        cal = workcal.Calendar(first, last)
        self.windows = [
            (int(a[:2]) * HOUR + int(a[3:5]) * 60, int(b[:2]) * HOUR + int(b[3:5]) * 60)
            for a, b in settings.GONGZHI["WORK_HOURS"]
        ]
        per_day = sum(b - a for a, b in self.windows)
        self.d0 = (first - dt.date(1970, 1, 1)).days
        self.work: list[bool] = []
        self.before: list[int] = []
        total = 0
        d = first
        while d <= last:
            w = cal.is_workday(d)
            self.work.append(w)
            self.before.append(total)
            total += per_day if w else 0
            d += dt.timedelta(days=1)

    def at(self, t: int) -> int:
        local = t + LOCAL
        i = local // DAY - self.d0
        v = self.before[i]
        if self.work[i]:
            s = local % DAY
            for a, b in self.windows:
                if s > a:
                    v += (s if s < b else b) - a
        return v

    def hours_x10(self, a: int, b: int) -> int:
        secs = self.at(b) - self.at(a) if b > a else 0
        return round(secs / 3600 * 10)


def weighted(rng: random.Random, items: list[Any], lo: float = 0.3, hi: float = 1.7) -> tuple[list[Any], list[float]]:
    """Items with a random weight each (some grids and departments busier than others): cum weights."""
    cum, s = [], 0.0
    for _ in items:
        s += rng.uniform(lo, hi)
        cum.append(s)
    return items, cum


def pick(rng: random.Random, table: dict[Any, float]) -> Any:
    r = rng.random() * sum(table.values())
    for k, w in table.items():
        r -= w
        if r < 0:
            return k
    return k


SAT_GOOD = {5: 0.76, 4: 0.17, 3: 0.07}
SAT_BAD = {3: 0.2, 2: 0.45, 1: 0.35}
SAT_CALLBACK = {5: 0.6, 4: 0.25, 3: 0.1, 2: 0.03, 1: 0.02}
CHANNELS = {"mobile": 35, "hotline": 25, "patrol": 15, "web": 8, "window": 7, "party": 4, "proxy": 4, "api": 2}
KINDS = {"complaint": 25, "help": 20, "consult": 20, "report": 15, "service": 15, "suggestion": 5}
TITLES = ("路灯不亮", "道路破损", "垃圾清运不及时", "噪音扰民", "低保咨询", "自来水停水", "占道经营")


class Generator:
    """Work orders and their rows, deterministic for a seed; times are whole seconds (UTC epoch)."""

    def __init__(self, *, n: int, t_end: int, days: int, grids: list[tuple[int, str]], cats: list[int],
                 depts: list[int], staff: int, clock: WorkClock, seed: int) -> None:  # fmt: skip
        self.n, self.t_end, self.t0 = n, t_end, t_end - days * DAY
        self.span = days * DAY
        rng = random.Random(seed)
        self.grids, self.grid_cum = weighted(rng, grids)
        self.depts, self.dept_cum = weighted(rng, depts)
        self.cats = cats
        self.staff = staff
        self.clock = clock
        self.channels, self.channel_w = list(CHANNELS), list(CHANNELS.values())
        self.kinds, self.kind_w = list(KINDS), list(KINDS.values())
        # Timestamps as Django stores them (UTC, "YYYY-MM-DD HH:MM:SS"): strings from two tables.
        first = self.t0 // DAY - 2
        self.day0 = first
        self.days = [
            (dt.date(1970, 1, 1) + dt.timedelta(days=d)).isoformat() + " " for d in range(first, t_end // DAY + 60)
        ]
        self.tod = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(DAY)]

    def ts(self, t: int | None) -> str | None:
        if t is None:
            return None
        return self.days[t // DAY - self.day0] + self.tod[t % DAY]

    def batches(self, start: int, seed: int) -> Iterator[tuple[list, list, list, list, list]]:
        rng = random.Random(seed * 1_000_003 + start)
        for i0 in range(start, self.n, BATCH):
            yield self.batch(rng, i0, min(self.n, i0 + BATCH))

    def batch(self, rng: random.Random, i0: int, i1: int) -> tuple[list, list, list, list, list]:
        k = i1 - i0
        grids = rng.choices(self.grids, cum_weights=self.grid_cum, k=k)
        depts = rng.choices(self.depts, cum_weights=self.dept_cum, k=k)
        others = rng.choices(self.depts, cum_weights=self.dept_cum, k=k)
        channels = rng.choices(self.channels, self.channel_w, k=k)
        kinds = rng.choices(self.kinds, self.kind_w, k=k)
        cats = rng.choices(self.cats, k=k)
        orders, assigns, ratings, callbacks, hours = [], [], [], [], []
        ts, t_end, n, t0, span = self.ts, self.t_end, self.n, self.t0, self.span
        random_, randint, expo = rng.random, rng.randint, rng.expovariate
        for j in range(k):
            i = i0 + j
            oid = i + 1
            c = t0 + (i * span) // n  # ids grow with time, as in life
            gid, gpath = grids[j]
            dept = depts[j]
            r = random_()
            state = "submitted"
            close_reason = ""
            rnd = 1
            excluded = 0
            disp = acc = res = closed = susp = None
            department = None
            respond_by = due = None
            urged = False
            my_ratings: list[tuple] = []
            my_callbacks: list[tuple] = []
            if r < 0.08:  # answered directly by the dispatcher (直接答复)
                t = c + randint(300, 4 * HOUR)
                if t <= t_end:
                    state, res = "resolved", t
                    rt = t + int(expo(1 / (20 * HOUR)))
                    if random_() < 0.3 and rt <= t_end:
                        state = "rated"
                        my_ratings.append((oid, 1, 1, pick(rng, SAT_GOOD), "", ts(rt), None))
                        t = rt
                    if t + DAY <= t_end:
                        state, closed = "closed", t + DAY
                        close_reason = "rated" if my_ratings else "not_rated"
            elif r < 0.085:  # withdrawn by the resident
                if c + 2 * HOUR <= t_end:
                    state, closed = "cancelled", c + 2 * HOUR
            elif r < 0.095:  # the same problem as another order: closed with it
                if c + 1800 <= t_end:
                    state = "duplicate"
                if c + 3 * DAY <= t_end:
                    state, closed, close_reason, department = "closed", c + 3 * DAY, "duplicate", dept
            else:  # dispatched to a department
                returned = r < 0.125
                reopens = 0.125 <= r < 0.16
                exclude = 0.16 <= r < 0.17
                suspends = 0.17 <= r < 0.20
                d = c + randint(300, 4 * HOUR)
                if returned and d <= t_end:  # 退单: the first department sends it back
                    back = d + int(expo(1 / (6 * HOUR))) + 600
                    if back <= t_end:
                        assigns.append((oid, "main", others[j], 0, ts(d), ts(back), 1))
                        state, disp = "returned", d  # a return keeps dispatched_at, clears the deadlines
                        d = back + randint(1800, 6 * HOUR)
                    else:
                        assigns.append((oid, "main", others[j], 1, ts(d), None, 0))
                        state, disp, department = "dispatched", d, others[j]
                        respond_by, due = d + DAY, d + 10 * DAY
                        urged = t_end > respond_by
                        d = t_end + 1
                if d <= t_end:
                    disp, department, state = d, dept, "dispatched"
                    respond_by, due = d + DAY, d + 10 * DAY
                    assigned_at = d
                    a = d + int(expo(1 / (5 * HOUR))) + 300
                    if a <= t_end:
                        acc, state = a, "accepted"
                        urged = a > respond_by
                        if a + 1800 <= t_end:
                            state = "in_progress"
                        rs = a + min(int(expo(1 / (2.5 * DAY))), 40 * DAY) + HOUR
                        if exclude and a + DAY <= t_end:  # 甄别: ruled unreasonable
                            state, closed, close_reason, excluded = "closed", a + DAY, "unreasonable", 1
                        elif suspends and a + (rs - a) // 3 <= t_end < a + 2 * (rs - a) // 3:
                            state, susp = "suspended", a + (rs - a) // 3
                        elif not exclude and rs <= t_end:
                            res, state = rs, "resolved"
                            rt = rs + int(expo(1 / (20 * HOUR)))
                            if reopens and rt <= t_end:  # a bad rating: reopened, handled again
                                bad = random_() < 0.6
                                my_ratings.append(
                                    (oid, 1, 0 if bad else 1, pick(rng, SAT_BAD) if bad else randint(1, 2), "",
                                     ts(rt), dept)
                                )  # fmt: skip
                                rnd, state, res = 2, "reopened", None
                                d2 = rt + randint(HOUR, 8 * HOUR)
                                if d2 <= t_end:
                                    assigns.append((oid, "main", dept, 0, ts(d), ts(d2), 0))
                                    assigned_at, disp, state, acc = d2, d2, "dispatched", None
                                    respond_by, due = d2 + DAY, d2 + 10 * DAY
                                    a2 = d2 + int(expo(1 / (5 * HOUR))) + 300
                                    urged = t_end > respond_by
                                    if a2 <= t_end:
                                        acc, state, urged = a2, "in_progress", a2 > respond_by
                                        rs = a2 + min(int(expo(1 / (2 * DAY))), 40 * DAY) + HOUR
                                        if rs <= t_end:
                                            res, state = rs, "resolved"
                                            rt = rs + int(expo(1 / (20 * HOUR)))
                                            rated = random_() < 0.7 and rt <= t_end
                                            if rated:
                                                good = random_() < 0.9
                                                my_ratings.append(
                                                    (oid, 2, 1 if good else 0,
                                                     pick(rng, SAT_GOOD) if good else pick(rng, SAT_BAD), "",
                                                     ts(rt), dept)
                                                )  # fmt: skip
                                                state = "rated"
                                            end = rt + DAY if rated else rs + 5 * DAY
                                            if end <= t_end:
                                                state, closed = "closed", end
                                                close_reason = "rated" if rated else "not_rated"
                            else:
                                rated = random_() < 0.78 and rt <= t_end
                                if rated:
                                    my_ratings.append((oid, 1, 1, pick(rng, SAT_GOOD), "", ts(rt), dept))
                                    state = "rated"
                                end = rt + DAY if rated else rs + 5 * DAY
                                if end <= t_end:
                                    state, closed = "closed", end
                                    close_reason = "rated" if rated else "not_rated"
                                if random_() < 0.08:  # a callback or spot check
                                    cb = (rt if rated else rs) + randint(DAY, 5 * DAY)
                                    if cb <= t_end and state in ("resolved", "rated", "closed"):
                                        kind = "callback" if random_() < 0.7 else "spot_check"
                                        if random_() < 0.85:
                                            ok = random_() < 0.9
                                            sat = pick(rng, SAT_CALLBACK) if ok else pick(rng, SAT_BAD)
                                            my_callbacks.append((oid, kind, rnd, 1, ok, sat, "", ts(cb), self.staff))
                                        else:
                                            my_callbacks.append((oid, kind, rnd, 0, None, None, "", ts(cb), self.staff))
                    assigns.append((oid, "main", dept, 1, ts(assigned_at), None, 0))
            overdue = 0
            if due is not None:
                overdue = int(res > due if res is not None else (state not in ("closed", "cancelled") and t_end > due))
            if res is not None and disp is not None and not excluded:
                hours.append((oid, self.clock.hours_x10(disp, res)))
            open_ = state not in ("resolved", "rated", "closed", "cancelled", "duplicate")
            last = max(x for x in (c, disp, acc, res, closed, susp) if x is not None)
            orders.append((
                oid, code(i), kinds[j], channels[j], "normal", TITLES[i % 7], "bench", "{}", gpath, "", "测试", "", 0,
                "", state, close_reason, rnd, "", "", 1 if rnd > 1 and not closed else 0, ts(c), ts(disp), ts(acc),
                ts(res), ts(closed), ts(susp), ts(last), ts(respond_by), ts(due), 0, int(urged), overdue,
                ts(due) if open_ and due is not None else None, cats[j], department, gid, excluded,
            ))  # fmt: skip
            ratings += my_ratings
            callbacks += my_callbacks
        return orders, assigns, ratings, callbacks, hours


# --- the tallies in SQL -----------------------------------------------------------------------------

OPEN = "('submitted','dispatched','accepted','in_progress','suspended','returned','reopened')"
# One order's contribution to its node units (facts.contribution), per counter: o = the order, v = its
# latest verdict, a = its main assignments, h = its working hours. Rates leave excluded orders out.
EXPR = {
    "total": "1",
    "excluded": "CASE WHEN o.excluded THEN 1 ELSE 0 END",
    "resp_due": "CASE WHEN o.excluded THEN 0 WHEN o.dispatched_at IS NOT NULL THEN "
    "(CASE WHEN o.accepted_at IS NOT NULL OR o.respond_overdue THEN 1 ELSE 0 END) "
    "WHEN o.resolved_at IS NOT NULL THEN 1 ELSE 0 END",
    "resp_ok": "CASE WHEN o.excluded THEN 0 WHEN o.dispatched_at IS NOT NULL THEN "
    "(CASE WHEN o.accepted_at IS NOT NULL AND NOT o.respond_overdue THEN 1 ELSE 0 END) "
    "WHEN o.resolved_at IS NOT NULL THEN 1 ELSE 0 END",
    "sign_due": "CASE WHEN NOT o.excluded AND o.dispatched_at IS NOT NULL "
    "AND (o.accepted_at IS NOT NULL OR o.respond_overdue) THEN 1 ELSE 0 END",
    "sign_ok": "CASE WHEN NOT o.excluded AND o.dispatched_at IS NOT NULL "
    "AND o.accepted_at IS NOT NULL AND NOT o.respond_overdue THEN 1 ELSE 0 END",
    "verdicts": "CASE WHEN NOT o.excluded AND v.solved IS NOT NULL THEN 1 ELSE 0 END",
    "solved": "CASE WHEN NOT o.excluded AND v.solved = 1 THEN 1 ELSE 0 END",
    "rated": "CASE WHEN NOT o.excluded AND v.sat IS NOT NULL THEN 1 ELSE 0 END",
    **{f"sat{k}": f"CASE WHEN NOT o.excluded AND v.sat = {k} THEN 1 ELSE 0 END" for k in range(1, 6)},
    "handled": "CASE WHEN NOT o.excluded AND (o.resolved_at IS NOT NULL OR o.round > 1) THEN 1 ELSE 0 END",
    "done": "CASE WHEN NOT o.excluded AND o.resolved_at IS NOT NULL THEN 1 ELSE 0 END",
    "on_time": "CASE WHEN NOT o.excluded AND o.resolved_at IS NOT NULL AND NOT o.overdue THEN 1 ELSE 0 END",
    "assigned": "CASE WHEN o.excluded THEN 0 ELSE COALESCE(a.n, 0) END",
    "returned": "CASE WHEN o.excluded THEN 0 ELSE COALESCE(a.r, 0) END",
    "reopened": "CASE WHEN NOT o.excluded AND o.round > 1 THEN 1 ELSE 0 END",
    "overdue": "CASE WHEN NOT o.excluded AND o.overdue THEN 1 ELSE 0 END",
    "timed": "CASE WHEN NOT o.excluded AND h.hours_x10 IS NOT NULL THEN 1 ELSE 0 END",
    "hours_x10": "CASE WHEN o.excluded THEN 0 ELSE COALESCE(h.hours_x10, 0) END",
    "open": f"CASE WHEN o.state IN {OPEN} THEN 1 ELSE 0 END",
    "open_overdue": f"CASE WHEN o.state IN {OPEN} AND o.overdue THEN 1 ELSE 0 END",
    "urged": f"CASE WHEN o.state IN {OPEN} AND o.respond_overdue THEN 1 ELSE 0 END",
}
# What a main assignment adds to its department (the current department's are counted this way too).
ASSIGN_EXPR = {"assigned": "1", "returned": "CASE WHEN x.returned THEN 1 ELSE 0 END"}


def check_counters() -> tuple[str, ...]:
    from dashboards.models import COUNTERS
    from workorders.states import OPEN_STATES

    if set(COUNTERS) != set(EXPR):
        raise SystemExit(
            f"dashboards.models.COUNTERS changed: the bench's SQL knows {sorted(EXPR)}, the model has "
            f"{sorted(COUNTERS)}: write the new counters' SQL in bench/dashboard.py (EXPR)"
        )
    if set(OPEN[1:-1].replace("'", "").split(",")) != set(OPEN_STATES):
        raise SystemExit(f"workorders.states.OPEN_STATES changed: {sorted(OPEN_STATES)}; update OPEN")
    return COUNTERS


def tally_statements(vendor: str, counters: tuple[str, ...], nodes_depth: int) -> list[tuple[str, str]]:
    """(label, SQL) to run in order, after the orders, their rows and bench_hours are in."""
    if vendor == "sqlite":
        day = "date(o.created_at, '+8 hours')"
        month = "date(t.start, 'start of month')"
        scratch = "CREATE TABLE"
        ipk = "INTEGER PRIMARY KEY"
    else:
        day = "(o.created_at AT TIME ZONE 'Asia/Shanghai')::date"
        month = "date_trunc('month', t.start)::date"
        scratch = "CREATE UNLOGGED TABLE"
        ipk = "bigint PRIMARY KEY"
    cols = ", ".join(counters)
    tsums = ", ".join(f"SUM(t.{c})" for c in counters)
    per_order_dept = ", ".join(f"{EXPR[c] if c not in ('assigned', 'returned') else '0'} AS {c}" for c in counters)
    per_assign = ", ".join(f"{ASSIGN_EXPR.get(c, '0')} AS {c}" for c in counters)
    joins = (
        "LEFT JOIN bench_v v ON v.order_id = o.id LEFT JOIN bench_a a ON a.order_id = o.id "
        "LEFT JOIN bench_hours h ON h.order_id = o.id"
    )
    # PostgreSQL plans each step on statistics: without them a table just filled looks empty (a nested loop
    # over the tally took 22 minutes at 1 M orders), so a step that reads what the last one wrote analyzes it.
    fresh = [("statistics", "ANALYZE dashboards_tally")] if vendor == "postgresql" else []
    into = f"INSERT INTO dashboards_tally (period, start, node_id, department_id, level, path, {cols})"
    out = [
        # The latest word on each order: a rating or a reached callback, the later one (a callback wins a
        # tie, as in facts.extras_for). The seed's reached callbacks carry both answers (checked below),
        # so the latest row gives both the verdict and the satisfaction level.
        *(
            [
                (
                    "statistics",
                    "ANALYZE bench_node, bench_hours, workorders_workorder, workorders_assignment, "
                    "workorders_rating, workorders_callback",
                )
            ]
            if vendor == "postgresql"
            else []
        ),
        ("verdicts table", f"{scratch} bench_v (order_id {ipk}, solved integer, sat integer)"),
        (
            "verdicts",
            "INSERT INTO bench_v (order_id, solved, sat) SELECT order_id, "
            "CASE WHEN solved THEN 1 ELSE 0 END, satisfaction FROM ("
            "SELECT order_id, solved, satisfaction, "
            "ROW_NUMBER() OVER (PARTITION BY order_id ORDER BY at DESC, k DESC) AS rn FROM ("
            "SELECT order_id, at, 0 AS k, solved, satisfaction FROM workorders_rating UNION ALL "
            "SELECT order_id, at, 1 AS k, solved, satisfaction FROM workorders_callback WHERE reached) u) w "
            "WHERE rn = 1",
        ),
        ("assignments table", f"{scratch} bench_a (order_id {ipk}, n integer, r integer)"),
        (
            "assignments",
            "INSERT INTO bench_a (order_id, n, r) SELECT order_id, COUNT(*), "
            "SUM(CASE WHEN returned THEN 1 ELSE 0 END) FROM workorders_assignment WHERE role = 'main' "
            "GROUP BY order_id",
        ),
        *([("statistics", "ANALYZE bench_v, bench_a")] if vendor == "postgresql" else []),
        # Grids by day, straight from the orders.
        (
            "grids by day",
            f"{into} SELECT 'd', g.day, g.grid_id, NULL, n.level, n.path, {cols} FROM ("  # noqa: S608
            f"SELECT o.grid_id AS grid_id, {day} AS day, "
            + ", ".join(f"SUM({EXPR[c]}) AS {c}" for c in counters)
            + f" FROM workorders_workorder o {joins} GROUP BY o.grid_id, {day}) g JOIN org_node n ON n.id = g.grid_id",
        ),
    ]
    # Every other node: the sum of its children, deepest first (a node's rows are complete before its
    # parent's are summed; the grids are the leaves that hold orders).
    for depth in range(nodes_depth - 1, 0, -1):
        out += fresh
        out.append(
            (
                f"nodes at depth {depth}",
                f"{into} SELECT 'd', t.start, p.id, NULL, p.level, p.path, {tsums} FROM dashboards_tally t "  # noqa: S608
                "JOIN bench_node ch ON ch.id = t.node_id JOIN bench_node p ON p.id = ch.parent_id "
                f"WHERE t.period = 'd' AND p.depth = {depth} AND p.is_grid = 0 "
                "GROUP BY p.id, t.start, p.level, p.path",
            )
        )
    out += fresh
    out += [
        # Departments: the current department gets the whole contribution but its assignments, and every
        # department its main assignments (returned or not) on orders that count.
        (
            "departments by day",
            f"{into} SELECT 'd', x.day, NULL, x.department_id, 0, '', {', '.join(f'SUM(x.{c})' for c in counters)} "  # noqa: S608
            f"FROM (SELECT o.department_id AS department_id, {day} AS day, {per_order_dept} "
            f"FROM workorders_workorder o {joins} WHERE o.department_id IS NOT NULL "
            f"UNION ALL SELECT x.department_id, {day}, {per_assign} FROM workorders_assignment x "
            "JOIN workorders_workorder o ON o.id = x.order_id "
            "WHERE x.role = 'main' AND x.department_id IS NOT NULL AND NOT o.excluded) x "
            "GROUP BY x.department_id, x.day",
        ),
        *fresh,
        (
            "months",
            f"{into} SELECT 'm', {month}, t.node_id, t.department_id, t.level, t.path, {tsums} "  # noqa: S608
            f"FROM dashboards_tally t WHERE t.period = 'd' "
            f"GROUP BY t.node_id, t.department_id, {month}, t.level, t.path",
        ),
    ]
    return out


# --- the databases ------------------------------------------------------------------------------------


class Loader:
    """A connection of its own for the load, outside Django's."""

    vendor = ""

    def __init__(self) -> None:
        self.saved: list[str] = []

    def sql(self, statement: str, params: Any = ()) -> list[tuple]:
        raise NotImplementedError

    def index_definitions(self) -> list[tuple]:
        """(name, CREATE statement) of the secondary indexes on the loaded tables."""
        raise NotImplementedError

    def drop_indexes(self) -> None:
        for name, statement in self.index_definitions():
            self.saved.append(statement)
            self.sql(f'DROP INDEX "{name}"')
        self.commit()

    def insert(self, table: str, cols: tuple[str, ...], rows: list[tuple]) -> None:
        raise NotImplementedError

    def commit(self) -> None:
        self.conn.commit()

    def recreate_indexes(self) -> None:
        for statement in self.saved:
            self.sql(statement)
        self.commit()


class SqliteLoader(Loader):
    vendor = "sqlite"

    def __init__(self, path: Path) -> None:
        import sqlite3

        super().__init__()
        self.conn = sqlite3.connect(path, isolation_level=None)
        for pragma in ("foreign_keys=OFF", "synchronous=OFF", "cache_size=-1000000", "temp_store=MEMORY", "threads=2"):
            self.conn.execute(f"PRAGMA {pragma}")
        self.conn.execute("BEGIN")

    def sql(self, statement: str, params: Any = ()) -> list[tuple]:
        return self.conn.execute(statement, params).fetchall()

    def commit(self) -> None:
        self.conn.execute("COMMIT")
        self.conn.execute("BEGIN")

    def index_definitions(self) -> list[tuple]:
        marks = ",".join("?" * len(TABLES))
        return self.sql(
            f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name IN ({marks}) "  # noqa: S608
            "AND sql IS NOT NULL",
            TABLES,
        )

    def insert(self, table: str, cols: tuple[str, ...], rows: list[tuple]) -> None:
        if rows:
            marks = ",".join("?" * len(cols))
            self.conn.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})", rows)  # noqa: S608

    def close(self) -> None:
        self.conn.execute("COMMIT")
        self.conn.close()


class PostgresLoader(Loader):
    vendor = "postgresql"

    def __init__(self, url: str) -> None:
        import psycopg

        super().__init__()
        self.conn = psycopg.connect(url)
        for setting in ("TIME ZONE 'UTC'", "session_replication_role = replica", "maintenance_work_mem = '1GB'",
                        "work_mem = '512MB'", "synchronous_commit = off"):  # fmt: skip
            self.conn.execute(f"SET {setting}")

    def sql(self, statement: str, params: Any = ()) -> list[tuple]:
        cur = self.conn.execute(statement.replace("?", "%s"), params or None)
        return cur.fetchall() if cur.description else []

    def index_definitions(self) -> list[tuple]:
        return self.sql(
            "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
            "JOIN pg_class t ON t.oid = x.indrelid WHERE t.relname = ANY(%s) AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)",
            (list(TABLES),),
        )

    def insert(self, table: str, cols: tuple[str, ...], rows: list[tuple]) -> None:
        if rows:
            with self.conn.cursor().copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as cp:
                for row in rows:
                    cp.write_row(row)

    def close(self) -> None:
        self.conn.commit()
        self.conn.close()


def _produce(gen: Generator, seed: int, q: Any) -> None:
    for b in gen.batches(0, seed):
        q.put(b)
    q.put(None)


def generated(gen: Generator, seed: int) -> Iterator[tuple[list, list, list, list, list]]:
    """The batches, generated in a child process while this one writes the previous ones (two cores:
    Python generation and the database's inserts overlap)."""
    import queue as stdqueue

    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue(maxsize=3)
    child = ctx.Process(target=_produce, args=(gen, seed, q), daemon=True)
    child.start()
    while True:
        try:
            b = q.get(timeout=10)
        except stdqueue.Empty:
            if not child.is_alive():
                raise SystemExit(f"the generator process died (exit code {child.exitcode})") from None
            continue
        if b is None:
            break
        yield b
    child.join()


def dirty_triggers(action: str) -> None:
    """Drop or recreate the dashboards_dirty triggers with migration dashboards/0002's own functions."""
    from django.db import connection

    mig = importlib.import_module("dashboards.migrations.0002_dirty_triggers")
    with connection.schema_editor() as editor:
        (mig.backwards if action == "drop" else mig.forwards)(None, editor)
    connection.close()


# --- seeding ------------------------------------------------------------------------------------------


def seed(args: argparse.Namespace, vendor: str) -> None:
    from django.conf import settings
    from django.db import connection

    from accounts.models import User
    from catalog.models import Category
    from core.clock import now
    from org.models import Department, Level, Node, path_ids

    counters = check_counters()
    t_start = time.perf_counter()
    t_end = int(now().timestamp())
    grids = list(Node.objects.filter(level=Level.GRID).order_by("id").values_list("id", "path"))
    cats = list(Category.objects.filter(level=3).order_by("id").values_list("id", flat=True))
    depts = list(Department.objects.order_by("id").values_list("id", flat=True))
    staff = User.objects.get(username="dispatcher").pk
    first = dt.date.fromtimestamp(t_end - (args.days + 3) * DAY)
    clock = WorkClock(first, dt.date.fromtimestamp(t_end) + dt.timedelta(days=60))
    gen = Generator(n=args.orders, t_end=t_end, days=args.days, grids=grids, cats=cats, depts=depts, staff=staff,
                    clock=clock, seed=args.seed)  # fmt: skip
    nodes = list(Node.objects.values_list("id", "parent_id", "path", "level"))
    connection.close()

    dirty_triggers("drop")
    batches = generated(gen, args.seed)
    first_batch = next(batches)  # the child forks before this process opens its own connection
    loader: Loader = SqliteLoader(settings.SQLITE_PATH) if vendor == "sqlite" else PostgresLoader(args.postgres)
    loader.drop_indexes()
    print(f"dropped {len(loader.saved)} secondary indexes and the dashboards_dirty triggers for the load", flush=True)
    for t in ("bench_hours", "bench_v", "bench_a", "bench_node"):
        loader.sql(f"DROP TABLE IF EXISTS {t}")
    scratch = "CREATE TABLE" if vendor == "sqlite" else "CREATE UNLOGGED TABLE"
    loader.sql(f"{scratch} bench_hours (order_id bigint, hours_x10 bigint)")
    if vendor == "sqlite":  # a rowid table: the tally SQL looks orders up in it
        loader.sql("DROP TABLE bench_hours")
        loader.sql("CREATE TABLE bench_hours (order_id INTEGER PRIMARY KEY, hours_x10 integer)")
    loader.sql(f"{scratch} bench_node (id bigint PRIMARY KEY, parent_id bigint, depth integer, level integer, "
               "path varchar(255), is_grid integer)")  # fmt: skip
    tree = [(i, p, len(path_ids(path)), lvl, path, int(lvl == Level.GRID)) for i, p, path, lvl in nodes]
    loader.insert("bench_node", ("id", "parent_id", "depth", "level", "path", "is_grid"), tree)
    loader.commit()

    counts = [0, 0, 0, 0]
    t_load = time.perf_counter()
    since_commit = 0
    for orders, assigns, ratings, callbacks, hours in itertools.chain([first_batch], batches):
        loader.insert("workorders_workorder", ORDER_COLS, orders)
        loader.insert("workorders_assignment", ASSIGN_COLS, assigns)
        loader.insert("workorders_rating", RATING_COLS, ratings)
        loader.insert("workorders_callback", CALLBACK_COLS, callbacks)
        loader.insert("bench_hours", ("order_id", "hours_x10"), hours)
        for k, rows in enumerate((orders, assigns, ratings, callbacks)):
            counts[k] += len(rows)
        since_commit += len(orders)
        if since_commit >= COMMIT_EVERY:
            loader.commit()
            since_commit = 0
            done = counts[0]
            rate = done / (time.perf_counter() - t_load)
            print(f"  {done:,} orders ({rate:,.0f}/s, {(args.orders - done) / rate / 60:.1f} min to go)", flush=True)
    loader.commit()
    load_s = time.perf_counter() - t_load
    print(
        f"inserted {counts[0]:,} orders, {counts[1]:,} assignments, {counts[2]:,} ratings, {counts[3]:,} callbacks "
        f"in {load_s:.0f}s (bulk, outside the services)",
        flush=True,
    )
    bad = loader.sql(
        "SELECT COUNT(*) FROM workorders_callback WHERE reached AND (solved IS NULL OR satisfaction IS NULL)"
    )
    if bad[0][0]:
        raise SystemExit("the tally SQL assumes reached callbacks carry both answers")

    t_tally = time.perf_counter()
    depth = max(len(path_ids(p)) for _i, _p, p, _l in nodes)
    for label, statement in tally_statements(vendor, counters, depth):
        t = time.perf_counter()
        loader.sql(statement)
        print(f"  tallies: {label} {time.perf_counter() - t:.1f}s", flush=True)
    loader.commit()
    for t in ("bench_hours", "bench_v", "bench_a", "bench_node"):
        loader.sql(f"DROP TABLE {t}")
    loader.commit()
    tally_s = time.perf_counter() - t_tally
    n_tally = loader.sql("SELECT COUNT(*) FROM dashboards_tally")[0][0]
    print(f"built {n_tally:,} tally rows with SQL in {tally_s:.0f}s", flush=True)

    t = time.perf_counter()
    loader.recreate_indexes()
    if vendor == "postgresql":
        loader.sql("SELECT setval(pg_get_serial_sequence('workorders_workorder', 'id'), "
                   "(SELECT MAX(id) FROM workorders_workorder))")  # fmt: skip
    loader.sql("DELETE FROM dashboards_dirty")
    loader.close()
    dirty_triggers("create")
    index_s = time.perf_counter() - t
    print(f"recreated {len(loader.saved)} indexes and the triggers in {index_s:.0f}s", flush=True)
    t = time.perf_counter()
    analyze(vendor, args.postgres)
    print(f"ANALYZE {time.perf_counter() - t:.0f}s", flush=True)
    print(f"seeded in {(time.perf_counter() - t_start) / 60:.1f} min", flush=True)


def analyze(vendor: str, url: str | None) -> None:
    if vendor == "sqlite":
        from django.db import connection

        with connection.cursor() as cur:
            cur.execute("PRAGMA analysis_limit=1000")
            cur.execute("ANALYZE")
        connection.close()
    else:
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE dashboards_tally")
            conn.execute("ANALYZE")


def verify() -> bool:
    """Every counter of every tally row the SQL wrote, against rollups.recount() over the same orders."""
    from dashboards import rollups

    t = time.perf_counter()
    want, _volumes, _facts = rollups.recount()
    have, _ = rollups.stored()
    want = {k: v for k, v in want.items() if any(v)}
    diffs = [k for k in set(want) | set(have) if want.get(k) != have.get(k)]
    print(
        f"verify: {len(have):,} tally rows from SQL, {len(want):,} from rollups.recount(): "
        f"{len(diffs)} differ ({time.perf_counter() - t:.0f}s)",
        flush=True,
    )
    from dashboards.models import COUNTERS

    for k in sorted(diffs, key=str)[:10]:
        w, h = want.get(k), have.get(k)
        detail = {c: (h[i] if h else None, w[i] if w else None) for i, c in enumerate(COUNTERS)
                  if (h[i] if h else None) != (w[i] if w else None)}  # fmt: skip
        print(f"  {k}: sql→recount {detail}")
    return not diffs


# --- timing -------------------------------------------------------------------------------------------


def ranges(last: dt.date) -> list[tuple[str, dt.date, dt.date]]:
    from dashboards.indicators import _month_end

    this_month = last.replace(day=1)
    prev_end = this_month - dt.timedelta(days=1)
    prev = prev_end.replace(day=1)
    year_start = this_month.replace(year=this_month.year - 1)
    return [
        (f"month {prev:%Y-%m}", prev, _month_end(prev)),
        ("30 days", last - dt.timedelta(days=29), last),
        (f"12 months {year_start:%Y-%m}..{prev:%Y-%m}", year_start, prev_end),
        ("365 days", last - dt.timedelta(days=364), last),
    ]


def bench_in_process(backend: str, repeat: int, seed: int) -> tuple[list[dict[str, Any]], list, dict]:
    from django.db.models import Max
    from django.utils import timezone

    from dashboards.indicators import for_unit, for_units
    from org.models import Level, Node
    from workorders.models import WorkOrder

    newest = WorkOrder.objects.aggregate(m=Max("created_at"))["m"]
    last = timezone.localtime(newest).date()
    rng = random.Random(seed)
    county = Node.objects.filter(level=Level.COUNTY).order_by("id").first()
    towns = list(Node.objects.filter(level=Level.TOWN, path__startswith=county.path).values_list("id", flat=True))
    grids = list(Node.objects.filter(level=Level.GRID, path__startswith=county.path).values_list("id", flat=True))
    grids = rng.sample(grids, min(len(grids), 500))
    villages = Node.objects.filter(level=Level.VILLAGE).count()
    units = {"county": [county.pk], "town": towns, "grid": grids}
    results = []
    for label, start, end in ranges(last):
        for unit, ids in units.items():
            r = timed(lambda i, ids=ids, s=start, e=end: for_unit(node_id=ids[i % len(ids)], start=s, end=e), repeat)
            results.append({"db": backend, "query": f"{unit} 3 rates", "range": label, **r})
            print(f"{backend:10} {unit + ' 3 rates':24} {label:28} p50={r['p50']:7.1f}ms p95={r['p95']:7.1f}ms "
                  f"max={r['max']:7.1f}ms", flush=True)  # fmt: skip
        got = for_units(level=Level.VILLAGE, start=start, end=end)
        r = timed(lambda i, s=start, e=end: for_units(level=Level.VILLAGE, start=s, end=e), repeat)
        results.append({"db": backend, "query": f"ranking {villages} villages", "range": label, **r})
        print(f"{backend:10} {f'ranking {len(got)} villages':24} {label:28} p50={r['p50']:7.1f}ms "
              f"p95={r['p95']:7.1f}ms max={r['max']:7.1f}ms", flush=True)  # fmt: skip
    sample = for_unit(node_id=county.pk, start=ranges(last)[2][1], end=ranges(last)[2][2])
    return results, ranges(last), {"county": county.pk, "towns": towns, "grids": grids, "sample": sample}


def bench_http(backend: str, env: dict[str, str], repeat: int, rngs: list, units: dict) -> list[dict[str, Any]]:
    token = make_token("leader", env)
    headers = {"Authorization": f"Bearer {token}"}
    results = []
    with server(env, workers=1) as port:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

        def get(path: str) -> None:
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            if resp.status != 200:
                raise SystemExit(f"{path}: HTTP {resp.status} {body[:300]!r}")

        for label, start, end in rngs:
            q = f"start={start}&end={end}"
            towns, grids = units["towns"], units["grids"]
            calls = {
                "GET nodes/{county}": lambda i, q=q: f"/api/v1/dashboard/nodes/{units['county']}?{q}",
                "GET nodes/{town}": lambda i, q=q, towns=towns: f"/api/v1/dashboard/nodes/{towns[i % len(towns)]}?{q}",
                "GET nodes/{grid}": lambda i, q=q, grids=grids: f"/api/v1/dashboard/nodes/{grids[i % len(grids)]}?{q}",
                "GET ranking villages": lambda i, q=q: f"/api/v1/dashboard/ranking?group=village&{q}",
            }
            for name, path in calls.items():
                r = timed(lambda i, path=path: get(path(i)), repeat)
                results.append({"db": backend, "query": name, "range": label, **r})
                print(f"{backend:10} {name:24} {label:28} p50={r['p50']:7.1f}ms p95={r['p95']:7.1f}ms "
                      f"max={r['max']:7.1f}ms", flush=True)  # fmt: skip
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orders", type=int, default=10_000_000)
    ap.add_argument("--scale", default="county", choices=["small", "county"])
    ap.add_argument("--days", type=int, default=730, help="the orders' span, ending now (default two years)")
    ap.add_argument("--postgres", help="a PostgreSQL database with 'bench' in its name (dropped unless --reuse)")
    ap.add_argument("--var-dir", help="where the SQLite database lives (kept; reuse it with --reuse)")
    ap.add_argument("--reuse", action="store_true", help="time the already seeded database again")
    ap.add_argument("--repeat", type=int, default=40, help="timed calls per read (after two warm-up calls)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-http", action="store_true", help="time in-process only")
    ap.add_argument("--verify", action=argparse.BooleanOptionalAction, default=None,
                    help="compare the SQL tallies with rollups.recount() (default: up to 50,000 orders)")  # fmt: skip
    args = ap.parse_args()
    env, var = bench_env(postgres=args.postgres, var_dir=args.var_dir, reuse=args.reuse)
    backend = "PostgreSQL" if args.postgres else "SQLite"
    vendor = "postgresql" if args.postgres else "sqlite"
    where = args.postgres if args.postgres else f"{var}/gongzhi.sqlite3"
    print(f"# bench/dashboard.py on {backend}: {where}", flush=True)
    t = time.perf_counter()
    run(["migrate", "-v0"], env)
    run(["seed_demo", "--scale", args.scale, "--seed", "1", "--if-empty", "--orders", "0", "--calls", "0",
         "--points", "0"], env)  # fmt: skip
    print(f"migrate + seed_demo --scale {args.scale}: {time.perf_counter() - t:.0f}s", flush=True)

    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gongzhi.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from workorders.models import WorkOrder

    have = WorkOrder.objects.count()
    if have == 0:
        seed(args, vendor)
    elif have != args.orders:
        raise SystemExit(f"the database holds {have:,} orders, not {args.orders:,}: run without --reuse to reseed")
    else:
        print(f"reusing {have:,} orders already seeded", flush=True)
    if (args.verify or (args.verify is None and args.orders <= 50_000)) and not verify():
        raise SystemExit("the SQL tallies differ from rollups.recount()")
    if vendor == "sqlite":
        from django.conf import settings

        size = Path(settings.SQLITE_PATH).stat().st_size
    else:
        from django.db import connection

        with connection.cursor() as cur:
            cur.execute("SELECT pg_database_size(current_database())")
            size = cur.fetchone()[0]
    from dashboards.models import Tally

    print(f"database {size / 1e9:.1f} GB, {Tally.objects.count():,} tally rows", flush=True)

    results, rngs, units = bench_in_process(backend, args.repeat, args.seed)
    s = units["sample"]
    r = s.rates
    print(f"(county, {rngs[2][0]}: {s.counters['total']:,} orders, response {r['response']:.3f}, resolution "
          f"{r['resolution']:.3f}, satisfaction {r['satisfaction']:.3f})", flush=True)  # fmt: skip
    if not args.no_http:
        results += bench_http(backend, env, args.repeat, rngs, units)
    slow = [x for x in results if x["p95"] > TARGET_MS]
    print(f"{len(results) - len(slow)} of {len(results)} reads under {TARGET_MS:.0f} ms at p95", flush=True)
    for x in slow:
        print(f"  over target: {x['query']} {x['range']} p95={x['p95']:.1f}ms")
    print(f"# the seeded database is kept: {where}" + (f" (--var-dir {var} --reuse)" if vendor == "sqlite" else
                                                       " (--reuse)"))  # fmt: skip


if __name__ == "__main__":
    main()
