#!/usr/bin/env python
"""Disputes at county scale: a town of 20 villages × 5 grids; reports through the whole HTTP stack (Django's test
client: middleware, session, the API, the service), then `generated` more cases straight through the services
spread over a year, the worker's sweep of their time limits and follow-ups, and the 小事不出村 figures by unit and by
month over all of them (the command centre's page and its Excel file read the same).

    .venv/bin/python bench/mediation.py [--postgres URL] [--reports 300] [--generated 20000] [--repeat 3]

Builds the town in a fresh SQLite database (or the PostgreSQL database given, dropped and recreated: its name must
contain "bench"). Prints reports per second with CPU time per report (this process: client and server together),
the median and 99th-percentile report, the worker's steps per second, and the figures' time per repeat."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--postgres")
    ap.add_argument("--reports", type=int, default=300)
    ap.add_argument("--generated", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    from common import bench_env, run

    env, _var = bench_env(postgres=args.postgres, var_dir=None, reuse=False)
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gongzhi.settings")
    run(["migrate", "-v0"], env)
    import django

    django.setup()
    from django.conf import settings

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    from django.test import Client

    from accounts.models import Role, User
    from accounts.services import role_assign
    from core.clock import SHANGHAI, frozen, now
    from mediation import reports, services
    from mediation.models import Case, Level, Mediator
    from org import services as org
    from org.models import Level as NodeLevel

    county = org.node_create(parent=None, level=NodeLevel.COUNTY, kind="county", name="基准县", code="B43")
    town = org.node_create(parent=county, level=NodeLevel.TOWN, kind="town", name="基准镇", code="B4301")
    grids = []
    for v in range(20):
        village = org.node_create(
            parent=town, level=NodeLevel.VILLAGE, kind="village", name=f"村{v}", code=f"B4301{v:03d}"
        )
        for g in range(5):
            grids.append(
                org.node_create(parent=village, level=NodeLevel.GRID, kind="grid", name=f"村{v}网格{g}",
                                code=f"B4301{v:03d}{g:02d}")
            )  # fmt: skip
    clerk = User.objects.create_user(username="bench-town", password="x-Password-123", display_name="司法所")
    role_assign(user=clerk, role=Role.TOWN_STAFF, node=town)
    office = Mediator.objects.create(user=clerk, node=town, path=town.path, kind="justice", name="司法所")
    worker = User.objects.create_user(username="bench-grid", password="x-Password-123", display_name="网格员")
    role_assign(user=worker, role=Role.GRID_WORKER, node=town)
    client = Client()
    client.force_login(worker)

    times = []
    cpu0, t0 = time.process_time(), time.perf_counter()
    for i in range(args.reports):
        body = {
            "node_id": grids[i % len(grids)].pk, "kind": "neighbour", "title": f"邻里纠纷{i}",
            "account": "两家因排水沟争吵。" * 5, "source": "patrol",
            "parties": [{"name": "甲某", "phone": "13800001111"}, {"side": "respondent", "name": "乙某"}],
            "idempotency_key": f"bench-{i}",
        }  # fmt: skip
        s = time.perf_counter()
        r = client.post("/api/v1/mediation/cases", body, content_type="application/json")
        times.append(time.perf_counter() - s)
        assert r.status_code == 201, r.content
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    times.sort()
    print(
        f"reports over HTTP: {args.reports} in {wall:.2f} s = {args.reports / wall:.0f}/s, "
        f"median {statistics.median(times) * 1000:.1f} ms, p99 {times[int(len(times) * 0.99) - 1] * 1000:.1f} ms, "
        f"CPU {cpu / args.reports * 1000:.2f} ms/report"
    )

    rng = random.Random(1)
    end = now().astimezone(SHANGHAI)
    levels = [Level.GRID, Level.VILLAGE, Level.VILLAGE, Level.TOWN, Level.OUTSIDE, ""]
    t0 = time.perf_counter()
    rows = []
    for i in range(args.generated):
        at = end - dt.timedelta(days=rng.uniform(0, 365))
        g = grids[rng.randrange(len(grids))]
        level = rng.choice(levels)
        rows.append(
            Case(code=f"TJG{i:07d}", kind="other", title="生成", account="x", node=g, path=g.path, source="patrol",
                 state="settled" if level else "mediating", level=level, reported_by=worker, created_at=at,
                 red_flag=rng.random() < 0.02, red_reason="扬言动手")
        )  # fmt: skip
    Case.objects.bulk_create(rows, batch_size=2000)
    print(f"generated {args.generated} cases in {time.perf_counter() - t0:.1f} s")

    # The worker: accept the HTTP reports, then sweep them 40 days on (a warning, then overdue each).
    for c in Case.objects.filter(state="reported")[: args.reports]:
        services.case_accept(case=c, by=clerk, mediator=office)
    steps = 0
    t0, cpu0 = time.perf_counter(), time.process_time()
    with frozen(end + dt.timedelta(days=40)):
        while services.handle_one():
            steps += 1
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    rate, per = steps / max(wall, 1e-9), cpu / max(steps, 1) * 1000
    print(f"worker: {steps} steps in {wall:.2f} s = {rate:.0f}/s, CPU {per:.2f} ms/step")

    start, stop = (end - dt.timedelta(days=365)).date(), end.date()
    total = Case.objects.exclude(state="declined").count()
    for k in range(args.repeat):
        t0, cpu0 = time.perf_counter(), time.process_time()
        rep = reports.settlement(town, start=start, end=stop)
        months = reports.by_month(town, start=start, end=stop)
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        assert rep.total.reported == total == sum(m.reported for m in months), (rep.total.reported, total)
        print(
            f"figures #{k + 1}: {len(rep.rows)} villages + {len(months)} months over {total} cases in "
            f"{wall * 1000:.0f} ms (CPU {cpu * 1000:.0f} ms); 小事不出村 {rep.total.village_rate:.1%}"
        )


if __name__ == "__main__":
    main()
