#!/usr/bin/env python
"""Province scale on PostgreSQL: 10,000,000 work orders, 2 web processes and 2 of each worker; 10,000
deadlines falling due in the same minute, and intake while they are flagged.

    .venv/bin/python bench/province.py [--postgres postgres://postgres@127.0.0.1:5432/gongzhi_bench_province]
        [--orders 10000000] [--due 10000] [--reuse] [--code DIR] [--clients 8] [--seconds 20]

1. Seeds the small demo county (its people, tree and catalogue), then fills the work-order table with
   `--orders` orders straight in SQL (INSERT … SELECT over generate_series, a million per statement; the
   database's triggers are off for it, so the dashboards' tallies do not count them: this bench is about
   the deadline, outbox and web processes). Three years of a county's history: 98 % closed, the rest open
   with deadlines spread over the coming fortnight. `--reuse` keeps a database that already holds them.
2. Picks `--due` open orders and sets their resolve-by deadline to the same coming minute (as when a
   thousand-order batch dispatched at 09:00 on a working day falls due at once).
3. Starts 2 web processes (granian, the documented deployment) and 2 of each worker process the checkout
   has (`run_deadlines`, `run_outbox`, `run_webhooks`, `run_sos`, `run_rollups`, `run_points`,
   `run_mediation`, `run_imports`), all against the database.
4. Measures intake (POST /api/v1/workorders as the demo resident, `--clients` Python keep-alive clients) for
   `--seconds` before the minute (the workers idle, once they have done what they do on starting: each
   rollup worker's first hot-topic scan, which then comes every 5 minutes), then from the minute on while
   the deadline workers flag the orders; reports how long until every one of the `--due` orders is flagged
   overdue (from the moment they fell due), how many were flagged within 60 s, that each carries one
   overdue event, and the CPU each kind of process spent meanwhile.

`--code DIR` runs the servers and workers from another checkout (a git worktree of an older commit with
the same virtual environment) against the same database, for a before/after side by side: run the
script twice in one session, A B A B. The database holds the newer schema; an older checkout that only
lacks tables keeps working on it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import signal
import subprocess
import threading
import time
from pathlib import Path

import common
from common import (
    INTAKE_BODY,
    autoanalyze,
    bench_env,
    drive,
    make_token,
    resident_place,
    run,
    server,
    shell,
    tree_cpu_seconds,
)

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/gongzhi_bench_province"
WORKERS = ("run_deadlines", "run_outbox", "run_webhooks", "run_sos", "run_rollups", "run_points",
           "run_mediation", "run_imports")  # fmt: skip
CHUNK = 1_000_000

TEMPLATE = r"""
import datetime as dt
from accounts.models import User
from catalog.models import Category
from org.models import Node
from workorders.models import WorkOrder
from core.clock import now
g = Node.objects.filter(level=6).order_by("id").first()
t = now()
o = WorkOrder.objects.create(
    tracking_code="TEMPLATE00", kind="complaint", channel="hotline",
    category=Category.objects.filter(level=3).order_by("id").first(), title="路灯不亮", text="bench",
    grid=g, path=g.path, contact_name="测试", state="closed", created_at=t, updated_at=t,
)
print(o.pk)
"""


def connect(url: str):
    import psycopg

    return psycopg.connect(url.replace("postgres://", "postgresql://", 1), autocommit=True)


def fill(url: str, env: dict[str, str], orders: int) -> None:
    """`orders` work orders in SQL, a million per statement (see the module's docstring)."""
    template = int(shell(TEMPLATE, env))
    with connect(url) as conn:
        grids = conn.execute("SELECT id, path FROM org_node WHERE level = 6 ORDER BY id").fetchall()
        cats = [r[0] for r in conn.execute("SELECT id FROM catalog_category WHERE level = 3 ORDER BY id")]
        depts = [r[0] for r in conn.execute("SELECT id FROM org_department ORDER BY id")]
        cols = [
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'workorders_workorder' "
                "ORDER BY ordinal_position"
            )
        ]
        conn.execute("CREATE TEMP TABLE template_order AS SELECT * FROM workorders_workorder WHERE id = %s", [template])
        conn.execute("DELETE FROM workorders_workorder WHERE id = %s", [template])
        conn.execute("SET session_replication_role = replica")  # no triggers: no tallies for these orders
        conn.execute("SET synchronous_commit = off")
        # h: a hash of the row number, for spreading; created_at: three years, ids growing with time.
        open_ = "(h % 100 < 2)"
        state = (
            f"CASE WHEN NOT {open_} THEN 'closed' WHEN h % 7 < 3 THEN 'in_progress' WHEN h % 7 < 5 THEN 'accepted' "
            "ELSE 'dispatched' END"
        )
        due = "(now() + ((h % 1209600) || ' seconds')::interval + interval '1 hour')"
        over = {
            "tracking_code": "'Y' || lpad(g::text, 9, '0')",
            "grid_id": f"(ARRAY{[r[0] for r in grids]}::bigint[])[1 + h % {len(grids)}]",
            "path": f"(ARRAY{[r[1] for r in grids]}::text[])[1 + h % {len(grids)}]",
            "category_id": f"(ARRAY{cats}::bigint[])[1 + (h / 7) % {len(cats)}]",
            "department_id": f"(ARRAY{depts}::bigint[])[1 + (h / 13) % {len(depts)}]",
            "state": state,
            "created_at": f"now() - ((({orders} - g)::float8 / {orders} * 94608000)::bigint || ' seconds')::interval",
            "updated_at": "now()",
            "dispatched_at": "now() - interval '3 years'",
            "closed_at": f"CASE WHEN {open_} THEN NULL ELSE now() - interval '1 day' END",
            "due_at": f"CASE WHEN {open_} THEN {due} ELSE NULL END",
            "next_check_at": f"CASE WHEN {open_} THEN {due} ELSE NULL END",
            "overdue": "false",
            "warned": "true",
        }
        exprs = ", ".join(over.get(c, f"t.{c}") for c in cols if c != "id")
        names = ", ".join(c for c in cols if c != "id")
        have = conn.execute("SELECT count(*) FROM workorders_workorder").fetchone()[0]
        t0 = time.perf_counter()
        for lo in range(have + 1, orders + 1, CHUNK):
            hi = min(orders, lo + CHUNK - 1)
            conn.execute(
                f"INSERT INTO workorders_workorder ({names}) SELECT {exprs} FROM "  # noqa: S608
                f"(SELECT g, (g::bigint * 2654435761) % 4294967296 AS h FROM generate_series({lo}, {hi}) g) s, "
                "template_order t"
            )
            print(f"  {hi:,} orders ({time.perf_counter() - t0:.0f}s)", flush=True)
        conn.execute("SET session_replication_role = origin")
        print(f"# VACUUM ANALYZE ({time.perf_counter() - t0:.0f}s so far)", flush=True)
        conn.execute("VACUUM ANALYZE")
        print(f"# filled in {time.perf_counter() - t0:.0f}s", flush=True)


def pg_cpu() -> float:
    """CPU seconds used so far by the PostgreSQL server's processes (all of them: the benchmark has the
    server to itself, give or take other sessions)."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as f:
                    if f.read().strip() != "postgres":
                        continue
                total += _own_cpu(int(entry))
            except OSError:
                continue
    return total


def _own_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def set_due(url: str, n: int, lead: float) -> tuple[dt.datetime, list[int]]:
    """`n` open orders fall due at the start of the first whole minute at least `lead` seconds away."""
    with connect(url) as conn:
        t = conn.execute("SELECT now()").fetchone()[0] + dt.timedelta(seconds=lead)
        at = t.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        ids = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM workorders_workorder WHERE state IN ('in_progress', 'accepted') "
                "AND tracking_code LIKE 'Y%%' ORDER BY id DESC LIMIT %s",
                [n],
            )
        ]
        conn.execute(
            "UPDATE workorders_workorder SET due_at = %s, next_check_at = %s, overdue = false, warned = true "
            "WHERE id = ANY(%s)",
            [at, at, ids],
        )
        conn.execute("ANALYZE workorders_workorder")
    return at, ids


def start_workers(env: dict[str, str], copies: int, logs: Path) -> list[subprocess.Popen]:
    have = {p.stem for p in common.ROOT.glob("*/management/commands/run_*.py")}
    procs = []
    for name in WORKERS:
        if name not in have:
            continue
        for i in range(copies):
            with open(logs / f"{name}-{i}.log", "w") as log:
                procs.append(
                    subprocess.Popen(
                        [common.PY, "manage.py", name],
                        cwd=common.ROOT,
                        env=env,
                        stdout=subprocess.DEVNULL,
                        stderr=log,
                    )
                )
    return procs


def settle(procs: list[subprocess.Popen], limit: float = 180) -> None:
    """Wait until the workers have done what they do on starting (the first hot-topic scan of each rollup
    worker: see the note in the docstring) and idle: under 0.2 CPU seconds in all over 2 seconds."""
    t0 = time.monotonic()
    last = sum(tree_cpu_seconds(p.pid) for p in procs)
    while time.monotonic() - t0 < limit:
        time.sleep(2)
        now = sum(tree_cpu_seconds(p.pid) for p in procs)
        if now - last < 0.2:
            print(f"# workers idle after {time.monotonic() - t0:.0f}s", flush=True)
            return
        last = now
    print(f"# workers still busy after {limit:.0f}s", flush=True)


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--postgres", default=DEFAULT_URL, help="the benchmark database (its name must hold 'bench')")
    ap.add_argument("--orders", type=int, default=10_000_000)
    ap.add_argument("--due", type=int, default=10_000)
    ap.add_argument("--reuse", action="store_true", help="keep the database if it holds the orders already")
    ap.add_argument("--code", help="run the servers and workers from this checkout (before/after)")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--web-workers", type=int, default=2)
    ap.add_argument("--copies", type=int, default=2, help="processes of each worker")
    ap.add_argument("--var-dir", help="where uploads and logs go (a fresh temporary folder by default)")
    args = ap.parse_args()
    if args.code:
        common.ROOT = Path(args.code).resolve()
        common.PY = str(common.ROOT / ".venv" / "bin" / "python")
    url = args.postgres
    env, var = bench_env(postgres=url, var_dir=args.var_dir, reuse=True)
    try:
        with connect(url) as conn:
            have = conn.execute("SELECT count(*) FROM workorders_workorder").fetchone()[0]
    except Exception:
        have = -1
    if not args.reuse or have < args.orders:
        if not args.reuse or have < 0:
            common.reset_postgres(url)
        print(f"# filling {url.rsplit('/', 1)[1]} with {args.orders:,} orders", flush=True)
        run(["migrate", "-v0"], env)
        run(["seed_demo", "--scale", "small", "--seed", "1", "--if-empty", "--orders", "0"], env)
        fill(url, env, args.orders)
    commit = subprocess.run(
        ["git", "-C", str(common.ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    with connect(url) as conn:
        total = conn.execute("SELECT count(*) FROM workorders_workorder").fetchone()[0]
        size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
    print(f"# bench/province.py: code {commit}, {total:,} orders ({size}), {args.web_workers} web processes, "
          f"{args.copies} of each worker, {args.due:,} due in one minute, {args.clients} intake clients",
          flush=True)  # fmt: skip

    lat, lng = resident_place(env)
    token = make_token("resident", env)
    run_id = f"{int(time.time())}"
    counter = 0

    def submit(rng: random.Random, client: int) -> tuple[str, str, str | None]:
        nonlocal counter
        counter += 1
        return (
            "POST",
            "/api/v1/workorders",
            (
                INTAKE_BODY.replace('"KEY"', f'"v{run_id}-{client}-{counter}"')
                .replace('"LAT"', f'"{lat + rng.uniform(-0.002, 0.002):.6f}"')
                .replace('"LNG"', f'"{lng + rng.uniform(-0.002, 0.002):.6f}"')
            ),
        )

    at, ids = dt.datetime.now(dt.UTC), []
    flagged: list[tuple[float, int]] = []
    stop_watch = threading.Event()

    def watch() -> None:
        with connect(url) as conn:
            while not stop_watch.wait(0.5):
                n = conn.execute(
                    "SELECT count(*) FROM workorders_workorder WHERE id = ANY(%s) AND overdue", [ids]
                ).fetchone()[0]
                now = conn.execute("SELECT now()").fetchone()[0]
                flagged.append(((now - at).total_seconds(), n))
                if n == len(ids):
                    return

    gone = shell(
        "from workorders.models import WorkOrder;"
        "print(WorkOrder.objects.filter(idempotency_key__regex=r'^v[0-9]+-').delete()[0])",
        env,
    )
    print(f"# removed the rows of earlier runs' intake: {gone}", flush=True)
    procs = start_workers(env, args.copies, Path(var))
    results = {}
    try:
        with autoanalyze(url), server(env, workers=args.web_workers, kind="granian") as port:
            drive(port, token, 2, 2, submit)  # warm-up
            settle(procs)
            at, ids = set_due(url, args.due, lead=args.seconds + 5)
            pid = common.SERVER_PIDS[0]
            cpu0 = tree_cpu_seconds(pid)
            results["before the minute"] = drive(port, token, args.clients, args.seconds, submit)
            results["before the minute"]["cpu_ms"] = (
                (tree_cpu_seconds(pid) - cpu0) * 1000 / max(1, results["before the minute"]["requests"])
            )
            with connect(url) as conn:
                wait = (at - conn.execute("SELECT now()").fetchone()[0]).total_seconds()
            if wait < 0:
                raise SystemExit("the intake baseline ran past the due minute: lower --seconds")
            time.sleep(wait)
            watcher = threading.Thread(target=watch)
            watcher.start()
            cpu_workers = {p.pid: tree_cpu_seconds(p.pid) for p in procs}
            cpu_pg = pg_cpu()
            cpu0 = tree_cpu_seconds(pid)
            results["while flagging"] = drive(port, token, args.clients, args.seconds, submit)
            results["while flagging"]["cpu_ms"] = (
                (tree_cpu_seconds(pid) - cpu0) * 1000 / max(1, results["while flagging"]["requests"])
            )
            watcher.join(timeout=max(0.0, 300 - args.seconds))
            stop_watch.set()
            watcher.join()
            spent: dict[str, float] = {}
            for p in procs:
                name = str(p.args[2])
                spent[name] = spent.get(name, 0.0) + tree_cpu_seconds(p.pid) - cpu_workers[p.pid]
            spent["postgres"] = pg_cpu() - cpu_pg
    finally:
        stop(procs)
    for name, r in results.items():
        print(f"intake {name:18} {r['rps']:7.1f} req/s  p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:7.1f} ms  "
              f"server CPU {r['cpu_ms']:.2f} ms/request  errors {r['errors']}", flush=True)  # fmt: skip
    print("CPU seconds from the minute until all were flagged: "
          + ", ".join(f"{k} {v:.1f}" for k, v in sorted(spent.items(), key=lambda kv: -kv[1])), flush=True)  # fmt: skip
    done = next((t for t, n in flagged if n == len(ids)), None)
    within = max((n for t, n in flagged if t <= 60), default=0)
    last = flagged[-1] if flagged else (0.0, 0)
    print(f"deadlines: {within:,} of {len(ids):,} flagged within 60 s; "
          + (f"all flagged {done:.1f} s after they fell due" if done is not None
             else f"only {last[1]:,} flagged after {last[0]:.0f} s"), flush=True)  # fmt: skip
    with connect(url) as conn:
        events = conn.execute(
            "SELECT count(*), count(DISTINCT order_id) FROM workorders_event WHERE order_id = ANY(%s) "
            "AND action = 'overdue' AND at >= %s",
            [ids, at],
        ).fetchone()
    print(f"overdue events: {events[0]:,} for {events[1]:,} orders (one each: {events[0] == events[1] == len(ids)})")
    for log in sorted(Path(var).glob("run_*.log")):
        if err := log.read_text().strip():
            print(f"# {log.stem}: {err[-300:]}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
