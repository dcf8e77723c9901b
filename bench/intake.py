#!/usr/bin/env python
"""Intake throughput: submissions/s and p50/p99 latency through HTTP against a real server process,
beside a trivial authenticated endpoint (GET /api/v1/me) measured in the same run.

    .venv/bin/python bench/intake.py [--postgres postgres://postgres@127.0.0.1:5432/gz_bench]
        [--clients 50] [--seconds 15] [--workers 2] [--var-dir DIR]

Seeds the small demo county, starts uvicorn, and has `--clients` concurrent keep-alive clients each
POST /api/v1/workorders as the demo resident (a street-light complaint near their grid, located by
lat/lng, every request with its own idempotency key). Load comes from wrk when it is installed
(apt-get install wrk) and from Python threads otherwise; the clients share the 2 cores with the server,
so the figures are a floor. Prints both endpoints and the ratio, and checks afterwards that the
database holds exactly one order per successful request.
"""

from __future__ import annotations

import argparse
import json
import random
import time

from common import bench_env, drive, make_token, run, server, shell, wrk

TEMPLATE = json.dumps(
    {
        "kind": "complaint",
        "category": "010101",
        "text": "村口路灯不亮，晚上出行不安全",
        "channel": "mobile",
        "lat": "LAT",
        "lng": "LNG",
        "idempotency_key": "KEY",
    },
    ensure_ascii=False,
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--postgres", help="run on this PostgreSQL database (dropped and recreated)")
    ap.add_argument("--var-dir", help="SQLite var dir to use (a fresh temporary one by default)")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--python-clients", action="store_true", help="use Python threads even if wrk is installed")
    args = ap.parse_args()

    env, var = bench_env(postgres=args.postgres, var_dir=args.var_dir, reuse=False)
    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(f"# bench/intake.py on {backend}, var={var}", flush=True)
    run(["migrate", "-v0"], env)
    run(["seed_demo", "--scale", "small", "--seed", "1", "--if-empty", "--orders", "0"], env)
    lat, lng = json.loads(
        shell(
            "import json; from org.models import Resident;"
            "g = Resident.objects.select_related('household__grid').get(user__username='resident').household.grid;"
            "print(json.dumps([str(g.lat), str(g.lng)]))",
            env,
        )
    )
    before = int(shell("from workorders.models import WorkOrder; print(WorkOrder.objects.count())", env))
    token = make_token("resident", env)
    run_id = f"{int(time.time())}"
    # wrk fills "%d-%d" with (thread, request counter): every request has its own idempotency key.
    wrk_body = (
        TEMPLATE.replace('"KEY"', f'"b{run_id}-%d-%d"')
        .replace('"LAT"', f'"{float(lat) + 0.0005:.6f}"')
        .replace('"LNG"', f'"{float(lng) - 0.0005:.6f}"')
    )
    counter = 0

    def submit(rng: random.Random, client: int) -> tuple[str, str, str | None]:
        nonlocal counter
        counter += 1
        body = (
            TEMPLATE.replace('"KEY"', f'"p{run_id}-{client}-{counter}"')
            .replace('"LAT"', f'"{float(lat) + rng.uniform(-0.002, 0.002):.6f}"')
            .replace('"LNG"', f'"{float(lng) + rng.uniform(-0.002, 0.002):.6f}"')
        )
        return "POST", "/api/v1/workorders", body

    use_wrk = not args.python_clients
    results = {}
    with server(env, workers=args.workers) as port:
        for name, method, path in (
            ("trivial GET /me", "GET", "/api/v1/me"),
            ("intake POST", "POST", "/api/v1/workorders"),
        ):
            r = None
            if use_wrk:
                wrk(port, token, 4, 2, method=method, path=path, body_template=wrk_body.replace("%d-%d", "w%d-%d"))
                r = wrk(port, token, args.clients, args.seconds, method=method, path=path, body_template=wrk_body)
            if r is None:
                req = (lambda rng, c: ("GET", "/api/v1/me", None)) if method == "GET" else submit
                drive(port, token, 4, 2, req)
                r = drive(port, token, args.clients, args.seconds, req)
            results[name] = r
            print(
                f"{backend:10} {name:16} clients={args.clients:3} requests={r['requests']:6} errors={r['errors']} "
                f"rps={r['rps']:7.1f} p50={r['p50_ms']:6.1f}ms p99={r['p99_ms']:6.1f}ms "
                f"({'wrk' if use_wrk and r['statuses'] == {} else 'python clients'})",
                flush=True,
            )
    trivial, intake = results["trivial GET /me"], results["intake POST"]
    print(
        f"{backend:10} ratio trivial/intake: throughput {trivial['rps'] / intake['rps']:.2f}x, "
        f"p50 {intake['p50_ms'] / trivial['p50_ms']:.2f}x, p99 {intake['p99_ms'] / trivial['p99_ms']:.2f}x"
    )
    after = json.loads(
        shell(
            "import json; from workorders.models import WorkOrder;"
            "qs = WorkOrder.objects.all();"
            "print(json.dumps([qs.count(), qs.values('tracking_code').distinct().count(),"
            " qs.exclude(idempotency_key='').values('idempotency_key').distinct().count()]))",
            env,
        )
    )
    made = after[0] - before
    print(f"{backend:10} orders stored: {made} (distinct tracking codes {after[1]}, distinct keys {after[2]})")


if __name__ == "__main__":
    main()
