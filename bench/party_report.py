#!/usr/bin/env python
"""The coverage and activity report of household work (partylink.reports.coverage) at the county demo
scale (110,000+ households, their party members and links, three months of visits and needs), timed in
process for the county (its towns), a town (its villages) and a village (its grids), over this month and
the last three months, and through the HTTP API as the county leader.

    .venv/bin/python bench/party_report.py [--postgres URL] [--var-dir DIR] [--reuse] [--repeat 20]

Seeds `seed_demo --scale county --orders 0 --calls 0 --points 0` (household visits included) into a fresh
SQLite database (or the PostgreSQL database given, dropped and recreated: its name must contain "bench");
`--var-dir DIR --reuse` times an already seeded database again. Prints the median and the worst of
`--repeat` runs, and the number of queries of one report. The target: under 500 ms for the county.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
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
    ap.add_argument("--var-dir")
    ap.add_argument("--reuse", action="store_true")
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()

    from common import bench_env, run

    env, var = bench_env(postgres=args.postgres, var_dir=args.var_dir, reuse=args.reuse)
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gongzhi.settings")
    started = time.perf_counter()
    run(["migrate", "-v0"], env)
    out = run(["seed_demo", "--scale", "county", "--orders", "0", "--calls", "0", "--points", "0", "--if-empty"], env)
    seeded = time.perf_counter() - started
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from core.clock import today
    from org.models import Household, HouseholdLink, Level, Node
    from partylink import reports
    from partylink.models import Need, Visit
    from partylink.selectors import day_bounds

    db = "PostgreSQL" if args.postgres else "SQLite"
    print(f"# bench/party_report.py on {db}, var={var}; seeded in {seeded:.0f} s"
          + (" (reused)" if "already has data" in out else ""))  # fmt: skip
    print(f"# households={Household.objects.count():,} links={HouseholdLink.objects.count():,} "
          f"visits={Visit.objects.count():,} needs={Need.objects.count():,}")  # fmt: skip
    county = Node.objects.filter(level=Level.COUNTY).first()
    town = Node.objects.filter(level=Level.TOWN).order_by("id").first()
    village = Node.objects.filter(level=Level.VILLAGE, parent=town).order_by("id").first()
    t = today()
    month = day_bounds(t.replace(day=1), t)
    quarter = day_bounds((t.replace(day=1) - dt.timedelta(days=62)).replace(day=1), t)
    for label, node in (("county", county), ("town", town), ("village", village)):
        for span, (start, end) in (("this month", month), ("three months", quarter)):
            reports.coverage(node, start=start, end=end)  # warm
            times = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                reports.coverage(node, start=start, end=end)
                times.append((time.perf_counter() - t0) * 1000)
            with CaptureQueriesContext(connection) as q:
                r = reports.coverage(node, start=start, end=end)
            print(f"{db:<10} {label:<8} {span:<13} rows={len(r.rows):>3} queries={len(q.captured_queries):>2} "
                  f"median={statistics.median(times):7.1f} ms  worst={max(times):7.1f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
