#!/usr/bin/env python
"""Intake throughput: submissions/s and p50/p99 latency through HTTP against a real server process,
beside a trivial authenticated endpoint (GET /api/v1/me) measured in the same run.

    .venv/bin/python bench/intake.py [--postgres postgres://postgres@127.0.0.1:5432/gz_bench]
        [--clients 50] [--seconds 15] [--server granian|uvicorn|gunicorn] [--workers 2] [--threads 1]
        [--rate 200,300] [--var-dir DIR]

Seeds the small demo county, starts the server (granian serving the WSGI app by default, as in
production; uvicorn is what `make run` uses), and measures two things for each endpoint:

1. Throughput: `--clients` keep-alive clients that always wait on a request (wrk when installed,
   apt-get install wrk; Python threads otherwise) — the most the server can do. Latency here is just
   clients ÷ throughput.
2. Latency at a given load: `--rate` requests/s on a fixed timetable over `--clients` connections
   (open loop, bench/common.paced), latency counted from when each request was due.

Intake is POST /api/v1/workorders as the demo resident (a street-light complaint near their grid,
located by lat/lng, every request with its own idempotency key). The clients share the 2 cores with
the server, so the figures are a floor. Prints both endpoints and the ratio, and checks afterwards that
the database holds exactly one order per successful request.
"""

from __future__ import annotations

import argparse
import json
import random
import time

from common import (
    INTAKE_BODY,
    SERVER_PIDS,
    SERVERS,
    autoanalyze,
    bench_env,
    drive,
    make_token,
    paced,
    resident_place,
    run,
    server,
    shell,
    tree_cpu_seconds,
    wrk,
)

TEMPLATE = INTAKE_BODY


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--postgres", help="run on this PostgreSQL database (dropped and recreated)")
    ap.add_argument("--var-dir", help="SQLite var dir to use (a fresh temporary one by default)")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--server", choices=SERVERS, default="granian")
    ap.add_argument("--threads", type=int, default=1, help="threads per granian worker")
    ap.add_argument(
        "--rate", default="300", help="open-loop rates for the latency runs, comma-separated (0: skip them)"
    )
    ap.add_argument("--python-clients", action="store_true", help="use Python threads even if wrk is installed")
    args = ap.parse_args()

    env, var = bench_env(postgres=args.postgres, var_dir=args.var_dir, reuse=False)
    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(f"# bench/intake.py on {backend}, var={var}", flush=True)
    run(["migrate", "-v0"], env)
    run(["seed_demo", "--scale", "small", "--seed", "1", "--if-empty", "--orders", "0"], env)
    lat, lng = resident_place(env)
    before = int(shell("from workorders.models import WorkOrder; print(WorkOrder.objects.count())", env))
    token = make_token("resident", env)
    run_id = f"{int(time.time())}"
    # wrk fills "%d-%d" with (thread, request counter): every request has its own idempotency key.
    wrk_body = (
        TEMPLATE.replace('"KEY"', f'"b{run_id}-%d-%d"')
        .replace('"LAT"', f'"{lat + 0.0005:.6f}"')
        .replace('"LNG"', f'"{lng - 0.0005:.6f}"')
    )
    counter = 0

    def submit(rng: random.Random, client: int) -> tuple[str, str, str | None]:
        nonlocal counter
        counter += 1
        body = (
            TEMPLATE.replace('"KEY"', f'"p{run_id}-{client}-{counter}"')
            .replace('"LAT"', f'"{lat + rng.uniform(-0.002, 0.002):.6f}"')
            .replace('"LNG"', f'"{lng + rng.uniform(-0.002, 0.002):.6f}"')
        )
        return "POST", "/api/v1/workorders", body

    use_wrk = not args.python_clients
    results = {}
    with (
        autoanalyze(args.postgres),
        server(env, workers=args.workers, kind=args.server, threads=args.threads) as port,
    ):
        for name, method, path in (
            ("trivial GET /me", "GET", "/api/v1/me"),
            ("intake POST", "POST", "/api/v1/workorders"),
        ):
            r = None
            cpu0 = tree_cpu_seconds(SERVER_PIDS[0])
            if use_wrk:
                wrk(port, token, 4, 2, method=method, path=path, body_template=wrk_body.replace("%d-%d", "w%d-%d"))
                r = wrk(port, token, args.clients, args.seconds, method=method, path=path, body_template=wrk_body)
            if r is None:
                req = (lambda rng, c: ("GET", "/api/v1/me", None)) if method == "GET" else submit
                drive(port, token, 4, 2, req)
                r = drive(port, token, args.clients, args.seconds, req)
            # The warm-up's requests are in the CPU figure too: count them as the measured ones (a few %).
            r["cpu_ms"] = (tree_cpu_seconds(SERVER_PIDS[0]) - cpu0) * 1000 / max(1, r["requests"])
            results[name] = r
            print(
                f"{backend:10} {name:16} clients={args.clients:3} requests={r['requests']:6} errors={r['errors']} "
                f"rps={r['rps']:7.1f} p50={r['p50_ms']:6.1f}ms p99={r['p99_ms']:6.1f}ms "
                f"server CPU={r['cpu_ms']:5.2f}ms/request "
                f"({'wrk' if use_wrk and r['statuses'] == {} else 'python clients'})",
                flush=True,
            )
        # Then the latency a user would see at a given load: open loop, on a timetable (common.paced).
        rates = [float(x) for x in args.rate.split(",") if float(x) > 0]
        for rate in rates:
            for name, req in (("trivial GET /me", lambda rng, c: ("GET", "/api/v1/me", None)), ("intake POST", submit)):
                r = paced(port, token, args.clients, rate, args.seconds, req)
                print(
                    f"{backend:10} {name:16} at {rate:.0f}/s from {args.clients} connections (open loop): "
                    f"requests={r['requests']:6} errors={r['errors']} achieved={r['rps']:6.1f}/s "
                    f"p50={r['p50_ms']:6.1f}ms p99={r['p99_ms']:6.1f}ms",
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
