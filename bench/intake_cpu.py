#!/usr/bin/env python
"""CPU per intake request, in one process: the whole Django stack (middleware, the API, the service, the
database) without a server or clients, so what the machine's other work does to throughput matters less.

    .venv/bin/python bench/intake_cpu.py [--requests 600] [--postgres URL]

Seeds the small demo county in a fresh SQLite database (or the PostgreSQL database given, dropped and
recreated), then, as the demo resident with an API token, sends `--requests` street-light complaints
(POST /api/v1/workorders, each with its own idempotency key and location) and as many GET /api/v1/me,
after a warm-up, and prints CPU ms (time.process_time) and wall ms per request. Compare two checkouts
by running this script from each, alternating (A B A B).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=600)
    ap.add_argument("--postgres")
    ap.add_argument("--profile", metavar="FILE", help="also write a cProfile of the measured requests to FILE")
    args = ap.parse_args()

    from common import bench_env

    env, var = bench_env(postgres=args.postgres, var_dir=None, reuse=False)
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gongzhi.settings")
    os.chdir(ROOT)
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from accounts.models import User
    from accounts.services import token_create
    from org.models import Resident

    call_command("migrate", verbosity=0)
    call_command("seed_demo", "--scale", "small", "--seed", "1", "--orders", "0", "--calls", "0", "--points", "0")
    user = User.objects.get(username="resident")
    _token, raw = token_create(user=user, name="bench")
    grid = Resident.objects.select_related("household__grid").get(user=user).household.grid
    client = Client(SERVER_NAME="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {raw}")
    rng = random.Random(1)
    n = 0

    def submit() -> None:
        nonlocal n
        n += 1
        body = {
            "kind": "complaint",
            "category": "010101",
            "text": "村口路灯不亮，晚上出行不安全",
            "channel": "mobile",
            "lat": f"{float(grid.lat) + rng.uniform(-0.002, 0.002):.6f}",
            "lng": f"{float(grid.lng) + rng.uniform(-0.002, 0.002):.6f}",
            "idempotency_key": f"cpu-{n}",
        }
        r = client.post("/api/v1/workorders", json.dumps(body), content_type="application/json")
        assert r.status_code == 201, r.content[:300]

    def me() -> None:
        assert client.get("/api/v1/me").status_code == 200

    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(f"# bench/intake_cpu.py on {backend}, {ROOT.name}, var={var}", flush=True)
    for name, fn in (("GET /api/v1/me", me), ("POST /api/v1/workorders", submit)):
        for _ in range(50):
            fn()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for _ in range(args.requests):
            fn()
        cpu = (time.process_time() - cpu0) * 1000 / args.requests
        wall = (time.perf_counter() - wall0) * 1000 / args.requests
        if args.profile:  # after the timed loop, so the profiler's cost is not in the figures
            import cProfile

            with cProfile.Profile() as prof:
                for _ in range(args.requests):
                    fn()
            prof.dump_stats(f"{args.profile}.{name.split()[0].lower()}")
        print(f"{backend:10} {name:24} requests={args.requests} CPU={cpu:6.3f} ms/request wall={wall:6.3f} ms/request")


if __name__ == "__main__":
    main()
