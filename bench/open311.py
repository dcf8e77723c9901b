#!/usr/bin/env python
"""Open311 intake beside Gongzhi's own, in one run: POST /open311/v2/requests.json (form-encoded, api_key,
lat/long, as a civic app sends it) against POST /api/v1/workorders (JSON, Bearer token), alternating
A B A B on the same server so the machine's noise falls on both. Prints requests/s, p50/p99 and the
server's CPU time per request for each round, the Open311/own ratio, and checks that every successful
request stored exactly one order.

    .venv/bin/python bench/open311.py [--postgres postgres://postgres@127.0.0.1:5432/gz_bench]
        [--clients 20] [--seconds 10] [--rounds 2] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from urllib.parse import urlencode

from common import SERVER_PIDS, bench_env, drive, make_token, resident_place, run, server, shell, tree_cpu_seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--postgres", help="run on this PostgreSQL database (dropped and recreated)")
    ap.add_argument("--var-dir", help="SQLite var dir to use (a fresh temporary one by default)")
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    env, var = bench_env(postgres=args.postgres, var_dir=args.var_dir, reuse=False)
    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(f"# bench/open311.py on {backend}, var={var}", flush=True)
    run(["migrate", "-v0"], env)
    run(["seed_demo", "--scale", "small", "--seed", "1", "--if-empty", "--orders", "0"], env)
    lat, lng = resident_place(env)
    before = int(shell("from workorders.models import WorkOrder; print(WorkOrder.objects.count())", env))
    token = make_token("resident", env)
    run_id = f"{int(time.time())}"
    counter = 0

    def point(rng: random.Random) -> tuple[str, str]:
        return f"{lat + rng.uniform(-0.002, 0.002):.6f}", f"{lng + rng.uniform(-0.002, 0.002):.6f}"

    def own(rng: random.Random, client: int) -> tuple[str, str, str | None]:
        nonlocal counter
        counter += 1
        la, lo = point(rng)
        body = {"kind": "report", "category": "010101", "text": "村口路灯不亮，晚上出行不安全", "channel": "mobile",
                "lat": la, "lng": lo, "idempotency_key": f"o{run_id}-{client}-{counter}"}  # fmt: skip
        return "POST", "/api/v1/workorders", json.dumps(body, ensure_ascii=False)

    def open311(rng: random.Random, client: int) -> tuple[str, str, str | None]:
        la, lo = point(rng)
        body = {"api_key": token, "service_code": "010101", "description": "村口路灯不亮，晚上出行不安全",
                "lat": la, "long": lo}  # fmt: skip
        return "POST", "/open311/v2/requests.json", urlencode(body)

    cases = [
        ("own POST /api/v1/workorders", own, "application/json"),
        ("Open311 POST requests.json", open311, "application/x-www-form-urlencoded"),
    ]
    totals: dict[str, list[float]] = {name: [] for name, _f, _c in cases}
    ok = 0
    with server(env, workers=args.workers) as port:
        for _name, req, ctype in cases:
            drive(port, token, 4, 2, req, content_type=ctype)  # warm-up, not counted
        for rnd in range(1, args.rounds + 1):
            for name, req, ctype in cases:
                cpu0 = tree_cpu_seconds(SERVER_PIDS[0])
                r = drive(port, token, args.clients, args.seconds, req, content_type=ctype)
                cpu_ms = (tree_cpu_seconds(SERVER_PIDS[0]) - cpu0) * 1000 / max(1, r["requests"])
                totals[name].append(r["rps"])
                ok += int(r["requests"]) - int(r["errors"])
                print(
                    f"{backend:10} round {rnd} {name:28} requests={r['requests']:6} errors={r['errors']} "
                    f"rps={r['rps']:7.1f} p50={r['p50_ms']:6.1f}ms p99={r['p99_ms']:6.1f}ms "
                    f"server CPU={cpu_ms:5.2f}ms/request statuses={r['statuses']}",
                    flush=True,
                )
    a, b = (sum(totals[n]) / len(totals[n]) for n, _f, _c in cases)
    print(f"{backend:10} Open311/own throughput: {b / a:.2f} (mean of {args.rounds} rounds each)")
    made = int(shell("from workorders.models import WorkOrder; print(WorkOrder.objects.count())", env)) - before
    print(f"{backend:10} orders stored: {made} (successful requests, warm-ups included, are at least {ok})")


if __name__ == "__main__":
    main()
