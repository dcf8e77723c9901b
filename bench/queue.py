#!/usr/bin/env python
"""Dispatcher queue latency with 1,000,000 work orders in the database.

    .venv/bin/python bench/queue.py [--orders 1000000] [--postgres postgres://postgres@127.0.0.1:5432/gz_bench]
        [--var-dir DIR] [--reuse] [--requests 40]

Seeds the small demo county, then bulk-inserts `--orders` work orders straight into the table (outside
the services, for speed: no events, no notifications; states, deadlines, categories, grids and units
are spread as a year of a county's work would spread them). Starts uvicorn and, as the demo
dispatcher, times one request at a time (p50/p95/max over `--requests`) for the queue's first page,
filtered views, a deeper page, and the console page. A reused database (--var-dir/--reuse) is not
re-seeded when it already holds the orders.
"""

from __future__ import annotations

import argparse
import http.client

from common import bench_env, make_token, run, server, shell, timed

SEED = r"""
import datetime as dt, random, time
from django.db import transaction
from catalog.models import Category
from org.models import Node, Department
from accounts.models import User
from workorders.models import WorkOrder
from core.clock import now
N = {n}
have = WorkOrder.objects.count()
rng = random.Random(7)
grids = list(Node.objects.filter(level=6).values_list("id", "path"))
cats = list(Category.objects.filter(level=3).values_list("id", flat=True))
depts = list(Department.objects.values_list("id", flat=True))
resident = User.objects.get(username="resident")
t_end = now()
states = (["closed"] * 880 + ["rated"] * 20 + ["resolved"] * 20 + ["in_progress"] * 25 + ["accepted"] * 15
          + ["dispatched"] * 15 + ["submitted"] * 15 + ["returned"] * 4 + ["reopened"] * 3 + ["suspended"] * 3)
channels = ["web", "mobile", "hotline", "window", "patrol", "party", "proxy", "api"]
kinds = ["consult", "help", "complaint", "report", "suggestion", "service"]
ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
def code(i):  # "Z" and nine characters of the real alphabet: searchable like a real code
    return "Z" + "".join(ALPHABET[(i >> (5 * k)) & 31] for k in range(9))
started = time.perf_counter()
batch = []
for i in range(have, N):
    gid, gpath = rng.choice(grids)
    created = t_end - dt.timedelta(seconds=int((1 - i / N) * 86400 * 365))  # ids grow with time, as in life
    state = rng.choice(states)
    handling = state not in ("submitted", "returned", "reopened")
    due = created + dt.timedelta(days=rng.choice([1, 7, 7, 7, 15]))
    batch.append(WorkOrder(
        tracking_code=code(i), kind=rng.choice(kinds), channel=rng.choice(channels), category_id=rng.choice(cats),
        title="路灯不亮", text="bench", grid_id=gid, path=gpath, contact_name="测试", state=state,
        owner_user=resident if i % 1000 == 0 else None,
        department_id=rng.choice(depts) if handling else None, created_at=created, updated_at=created,
        dispatched_at=created if handling else None, due_at=due if handling else None,
        overdue=handling and rng.random() < 0.08, respond_overdue=handling and rng.random() < 0.05,
    ))
    if len(batch) == 5000:
        WorkOrder.objects.bulk_create(batch)
        batch = []
if batch:
    WorkOrder.objects.bulk_create(batch)
print(f"{{N - have}} {{time.perf_counter() - started:.1f}}")
"""


def get_json(port: int, headers: dict[str, str], path: str, n: int) -> dict[str, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    size = 0

    def call(_i: int) -> None:
        nonlocal size
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise SystemExit(f"{path}: HTTP {resp.status} {body[:300]!r}")
        size = len(body)

    return {**timed(call, n), "bytes": size}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orders", type=int, default=1_000_000)
    ap.add_argument("--postgres")
    ap.add_argument("--var-dir")
    ap.add_argument("--reuse", action="store_true")
    ap.add_argument("--requests", type=int, default=40)
    args = ap.parse_args()
    env, var = bench_env(postgres=args.postgres, var_dir=args.var_dir, reuse=args.reuse)
    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(f"# bench/queue.py on {backend}, var={var}", flush=True)
    run(["migrate", "-v0"], env)
    run(["seed_demo", "--scale", "small", "--seed", "1", "--if-empty", "--orders", "0"], env)
    made, seconds = shell(SEED.format(n=args.orders), env).split()
    print(f"inserted {int(made):,} orders in {float(seconds):.1f}s (bulk, outside the services)", flush=True)
    shell("from django.db import connection; connection.cursor().execute('ANALYZE'); print('ok')", env)
    token = make_token("dispatcher", env)
    session = shell(
        "from django.contrib.sessions.backends.db import SessionStore; from accounts.models import User;"
        "u = User.objects.get(username='dispatcher'); s = SessionStore();"
        "s['_auth_user_id'] = str(u.pk); s['_auth_user_backend'] = 'django.contrib.auth.backends.ModelBackend';"
        "s['_auth_user_hash'] = u.get_session_auth_hash(); s.create(); print(s.session_key)",
        env,
    )
    probe = shell(
        "from workorders.models import WorkOrder; print(WorkOrder.objects.order_by('id')[500].tracking_code)", env
    )
    cat = shell("from catalog.models import Category; print(Category.objects.get(code='0101').code)", env)
    paths = [
        ("queue: to dispatch", "/api/v1/workorders?queue=dispatch"),
        ("all, newest first", "/api/v1/workorders"),
        ("state=in_progress", "/api/v1/workorders?state=in_progress"),
        ("overdue", "/api/v1/workorders?overdue=true"),
        ("category 0101 (subtree)", f"/api/v1/workorders?category={cat}"),
        ("channel=hotline, page 5", "/api/v1/workorders?channel=hotline&page=5"),
        ("tracking code search", f"/api/v1/workorders?q={probe}"),
        ("console page (HTML)", "/workorders/console/"),
    ]
    with server(env, workers=1) as port:
        for label, path in paths:
            try:
                headers = (
                    {"Cookie": f"sessionid={session}"}
                    if path.startswith("/workorders")
                    else {"Authorization": f"Bearer {token}"}
                )
                r = get_json(port, headers, path, args.requests)
            except SystemExit as exc:
                print(f"{backend:10} {label:26} skipped: {exc}")
                continue
            print(
                f"{backend:10} {label:26} p50={r['p50']:7.1f}ms p95={r['p95']:7.1f}ms max={r['max']:7.1f}ms "
                f"({r['bytes']:,} bytes)",
                flush=True,
            )


if __name__ == "__main__":
    main()
