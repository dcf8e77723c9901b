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
    ap.add_argument(
        "--link-all",
        action="store_true",
        help="also link every household to a party member of its village and add three months of visits to "
        "most links (bulk-inserted): a county where 一联十户 covers everyone, as in 麻城",
    )
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

    if args.link_all:
        _link_all()
    if args.postgres:
        # This workplace's server runs with autovacuum off (bench/common.py's autoanalyze): after the bulk
        # loads, give the planner the statistics autovacuum would have gathered.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
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


def _link_all() -> None:
    """Link every unlinked household to a member of its village (round robin) and give 70 % of all links one to
    three visits over the last three months, in bulk. Runs once: a database already fully linked is left."""
    import random
    from collections import defaultdict

    from django.db import transaction

    from accounts.models import User
    from core.clock import now
    from org.models import Household, HouseholdLink, PartyMember, path_ids
    from partylink.models import Visit

    free = list(Household.objects.filter(party_link__isnull=True).values_list("id", "path"))
    if not free:
        return
    members: dict[int, list[int]] = defaultdict(list)
    for mid, path in PartyMember.objects.values_list("id", "path"):
        members[path_ids(path)[-2]].append(mid)
    rng = random.Random(7)
    visitor = User.objects.filter(is_superuser=True).first()
    at = now()
    with transaction.atomic():
        turn: dict[int, int] = defaultdict(int)
        links = []
        for hid, path in free:
            village = path_ids(path)[-2]
            pool = members.get(village)
            if not pool:
                continue
            links.append(HouseholdLink(member_id=pool[turn[village] % len(pool)], household_id=hid, since=at.date()))
            turn[village] += 1
        HouseholdLink.objects.bulk_create(links, batch_size=5000)
        visits = []
        for hid, path in HouseholdLink.objects.values_list("household_id", "household__path"):
            if rng.random() < 0.7:
                for _ in range(rng.randint(1, 3)):
                    when = at - dt.timedelta(days=rng.uniform(0, 90))
                    visits.append(Visit(household_id=hid, path=path, visitor=visitor, visited_at=when, created_at=when))
        Visit.objects.bulk_create(visits, batch_size=5000)
    print(f"# linked {len(links):,} more households; added {len(visits):,} visits")


if __name__ == "__main__":
    main()
