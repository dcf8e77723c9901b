#!/usr/bin/env python
"""Household-list read throughput and latency against a real server process.

    .venv/bin/python bench/api_read.py [--scale county] [--postgres postgres://postgres@127.0.0.1:5432/gz_bench]
        [--clients 16] [--seconds 15] [--var-dir DIR] [--workers 2]

Seeds a demo county (or reuses --var-dir if already seeded), starts uvicorn as a separate process,
and drives GET /api/v1/households with concurrent keep-alive clients for two users: `village` (one
village's households) and `leader` (the whole county). Prints requests/s and p50/p99 latency.
The clients share the 2 cores with the server, so the figures are a floor, not a ceiling.
"""

from __future__ import annotations

import argparse
import json
import random
import time

from common import bench_env, drive, make_token, run, server


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", default="county", choices=["small", "county"])
    ap.add_argument("--postgres", help="run on this PostgreSQL database (dropped and recreated)")
    ap.add_argument("--var-dir", help="reuse this var dir (SQLite); seeded only if empty")
    ap.add_argument("--reuse", action="store_true", help="with --postgres: keep the database, seed only if empty")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    env, var_dir = bench_env(postgres=args.postgres, var_dir=args.var_dir, reuse=args.reuse)
    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(f"# bench/api_read.py on {backend}, scale={args.scale}, var={var_dir}", flush=True)
    run(["migrate", "-v0"], env)
    t0 = time.monotonic()
    run(["seed_demo", "--scale", args.scale, "--seed", "1", "--if-empty", "--orders", "0"], env)
    print(f"seeded in {time.monotonic() - t0:.1f}s", flush=True)

    counts = json.loads(
        run(
            ["shell", "-c",
             "import json; from org.models import Household, Resident;"
             "from org import access; from accounts.models import User;"
             "v = User.objects.get(username='village');"
             "print(json.dumps([Household.objects.count(), Resident.objects.count(),"
             " access.households_for(v).count()]))"],
            env,
        ).strip().splitlines()[-1]
    )  # fmt: skip
    print(f"households={counts[0]} residents={counts[1]} village-scope households={counts[2]}")

    tokens = {u: make_token(u, env) for u in ("village", "leader")}
    with server(env, workers=args.workers) as port:
        paths = {
            # First pages and deeper pages, with and without a search: what a clerk actually does.
            "village": ["/api/v1/households", "/api/v1/households?page=3", "/api/v1/households?q=1"],
            "leader": ["/api/v1/households", "/api/v1/households?page=50", "/api/v1/households?tag=elderly_alone"],
        }
        for user in ("village", "leader"):

            def pick(rng: random.Random, _client: int, user: str = user) -> tuple[str, str, None]:
                return "GET", rng.choice(paths[user]), None

            drive(port, tokens[user], 4, 2, pick)  # warm up
            r = drive(port, tokens[user], args.clients, args.seconds, pick)
            print(
                f"{backend:10} {user:8} clients={args.clients:3} requests={r['requests']:6} errors={r['errors']} "
                f"rps={r['rps']:7.1f} p50={r['p50_ms']:6.1f}ms p99={r['p99_ms']:6.1f}ms",
                flush=True,
            )


if __name__ == "__main__":
    main()
