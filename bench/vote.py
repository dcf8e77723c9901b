#!/usr/bin/env python
"""A village vote at scale: 2,000 households (4,000 adults) on the roll, the roll frozen when the vote opens,
1,800 households voting online through the whole HTTP stack (Django's test client: middleware, session, the
API, the service) from several threads at once, 200 checked off on two paper tally sheets, then the count.

    .venv/bin/python bench/vote.py [--postgres URL] [--households 2000] [--threads 4] [--repeat 3]

Builds the village in a fresh SQLite database (or the PostgreSQL database given, dropped and recreated: its
name must contain "bench"). Prints, per repeat: the time to open (freeze the roll), ballots per second, the
median and 99th-percentile time of one ballot, CPU time per ballot (this process: client and server side
together), the paper sheets, and the count. The target: 2,000 households within ten minutes, with room to spare
(every ballot waits for the vote's row lock: the count never misses one)."""

# ruff: noqa: B023 - each round's worker threads are joined before the loop moves on
from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--postgres")
    ap.add_argument("--households", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=4)
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
    from django.db import connection
    from django.test import Client

    from accounts.models import Role, User
    from accounts.services import role_assign
    from core.clock import now
    from deliberation import services
    from deliberation.models import Matter, Option, Turnout, Vote, Voter
    from org import services as org
    from org.models import Household, Level, Resident

    print(f"database: {connection.vendor}; {args.households:,} households; {args.threads} threads")
    county = org.node_create(parent=None, level=Level.COUNTY, kind="county", name="基准县", code="B00")
    town = org.node_create(parent=county, level=Level.TOWN, kind="town", name="基准镇", code="B0001")
    village = org.node_create(parent=town, level=Level.VILLAGE, kind="village", name="基准村", code="B0001001")
    grids = [
        org.node_create(
            parent=village, level=Level.GRID, kind="villager_group", name=f"{i + 1}组", code=f"B0001001{i:03d}"
        )
        for i in range(10)
    ]
    clerk = User.objects.create_user(username="clerk", password="x-Password-123", display_name="村干部")
    role_assign(user=clerk, role=Role.VILLAGE_STAFF, node=village)
    started = time.perf_counter()
    hs = Household.objects.bulk_create(
        [
            Household(grid=grids[i % 10], path=grids[i % 10].path, number=str(i), address=f"基准村{i % 10 + 1}组{i}号")
            for i in range(args.households)
        ],
        batch_size=1000,
    )
    if hs[0].pk is None:
        hs = list(Household.objects.order_by("id"))
    users = User.objects.bulk_create(
        [User(username=f"h{i}", display_name=f"户主{i}", password="!") for i in range(args.households)], batch_size=1000
    )
    if users[0].pk is None:
        users = list(User.objects.filter(username__startswith="h").order_by("id"))
    people = []
    for i, h in enumerate(hs):
        people.append(
            Resident(
                household=h,
                path=h.path,
                name=f"户主{i}",
                gender="M",
                birth_date=dt.date(1970, 1, 1),
                relation="head",
                user=users[i],
            )
        )
        people.append(
            Resident(
                household=h, path=h.path, name=f"配偶{i}", gender="F", birth_date=dt.date(1972, 1, 1), relation="spouse"
            )
        )
    Resident.objects.bulk_create(people, batch_size=1000)
    print(f"village built in {time.perf_counter() - started:.1f} s")
    clients = []
    for u in users:
        c = Client()
        c.force_login(u, backend="django.contrib.auth.backends.ModelBackend")
        clients.append(c)
    resident0 = Resident.objects.filter(user=users[0]).first()

    for rep in range(args.repeat):
        m = services.matter_propose(
            by=clerk, for_resident=resident0, title=f"修路{rep}", body="基准测试的议题，修通组公路。"
        )
        services.matter_agenda(matter=m, by=clerk)
        v = services.vote_create(by=clerk, matter=m, question="是否同意？", closes_at=now() + dt.timedelta(days=1))
        t0 = time.perf_counter()
        services.vote_open(vote=v, by=clerk)
        opened = time.perf_counter() - t0
        opts = list(Option.objects.filter(vote=v).order_by("sort").values_list("pk", flat=True))
        online = args.households * 9 // 10
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        lock = threading.Lock()
        nxt = iter(range(online))

        def worker() -> None:
            mine: list[float] = []
            seen: dict[int, int] = {}
            while True:
                with lock:
                    i = next(nxt, None)
                if i is None:
                    break
                s = time.perf_counter()
                r = clients[i].post(
                    f"/api/v1/deliberation/votes/{v.pk}/ballot",
                    {"option_id": opts[i % 3]},
                    content_type="application/json",
                )
                mine.append(time.perf_counter() - s)
                seen[r.status_code] = seen.get(r.status_code, 0) + 1
            connection.close()
            with lock:
                latencies.extend(mine)
                for k, n in seen.items():
                    statuses[k] = statuses.get(k, 0) + n

        cpu0, t0 = time.process_time(), time.perf_counter()
        threads = [threading.Thread(target=worker) for _ in range(args.threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        latencies.sort()
        p99 = latencies[int(len(latencies) * 0.99) - 1]
        print(
            f"[{rep + 1}] open (freeze {args.households:,} households, {Voter.objects.filter(vote=v).count():,} on the"
            f" roll): {opened * 1000:.0f} ms | {online:,} online ballots in {wall:.1f} s = {online / wall:.0f}/s, "
            f"median {statistics.median(latencies) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, CPU "
            f"{cpu / online * 1000:.2f} ms/ballot, statuses {statuses}"
        )
        waiting = list(Voter.objects.filter(vote=v, turnout__isnull=True).values_list("pk", flat=True))
        t0 = time.perf_counter()
        half = len(waiting) // 2
        for part in (waiting[:half], waiting[half:]):
            services.vote_paper(vote=v, by=clerk, sheet=services.SheetIn({opts[0]: len(part) - 1, opts[1]: 1}, 0, part))
        sheets = time.perf_counter() - t0
        Vote.objects.filter(pk=v.pk).update(closes_at=now() - dt.timedelta(seconds=1))
        v.refresh_from_db()
        t0 = time.perf_counter()
        r = services.vote_count(vote=v, by=clerk)
        counted = time.perf_counter() - t0
        stored = Turnout.objects.filter(vote=v).count()
        tally = sum(Option.objects.filter(vote=v).values_list("count", flat=True))
        assert stored == tally == args.households, (stored, tally)
        print(
            f"    two paper sheets ({len(waiting)} checked off): {sheets * 1000:.0f} ms | count: "
            f"{counted * 1000:.1f} ms → {r.outcome}, turnout {r.turnout}/{r.eligible}, tally {tally} = ballots "
            f"stored {stored}"
        )
        Matter.objects.filter(pk=m.pk).update(state="done")


if __name__ == "__main__":
    main()
