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
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def run(args: list[str], env: dict[str, str]) -> str:
    return subprocess.run(
        [PY, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout


def reset_postgres(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    if "bench" not in name:
        raise SystemExit(f"refusing to drop database {name!r}: name a database with 'bench' in it")
    with psycopg.connect(base.replace("postgres://", "postgresql://", 1) + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_token(username: str, env: dict[str, str]) -> str:
    code = (
        "from accounts.models import User; from accounts.services import token_create;"
        f"print(token_create(user=User.objects.get(username='{username}'), name='bench')[1])"
    )
    return run(["shell", "-c", code], env).strip().splitlines()[-1]


def wait_up(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("server did not start")


def drive(port: int, token: str, clients: int, seconds: float, paths: list[str]) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def worker(seed: int) -> None:
        nonlocal errors
        rng = random.Random(seed)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: list[float] = []
        bad = 0
        headers = {"Authorization": f"Bearer {token}"}
        while time.monotonic() < stop_at:
            path = rng.choice(paths)
            t0 = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                resp = conn.getresponse()
                body = resp.read()
                if resp.status != 200 or not body:
                    bad += 1
            except (OSError, http.client.HTTPException):
                bad += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                continue
            mine.append(time.perf_counter() - t0)
        with lock:
            latencies.extend(mine)
            errors += bad

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    latencies.sort()
    n = len(latencies)
    return {
        "requests": n,
        "errors": errors,
        "rps": n / elapsed,
        "p50_ms": statistics.median(latencies) * 1000 if n else float("nan"),
        "p99_ms": latencies[min(n - 1, int(n * 0.99))] * 1000 if n else float("nan"),
    }


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

    var_dir = args.var_dir or tempfile.mkdtemp(prefix="gz-bench-")
    env = {**os.environ, "GONGZHI_VAR_DIR": var_dir, "SECRET_KEY": "bench-only", "LOG_LEVEL": "ERROR"}
    env.pop("DATABASE_URL", None)
    if args.postgres:
        if not args.reuse:
            reset_postgres(args.postgres)
        env["DATABASE_URL"] = args.postgres
    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(f"# bench/api_read.py on {backend}, scale={args.scale}, var={var_dir}", flush=True)
    run(["migrate", "-v0"], env)
    t0 = time.monotonic()
    run(["seed_demo", "--scale", args.scale, "--seed", "1", "--if-empty"], env)
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
    port = free_port()
    server = subprocess.Popen(
        [PY, "-m", "uvicorn", "gongzhi.asgi:application", "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(args.workers), "--no-access-log", "--log-level", "warning"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    try:
        wait_up(port)
        paths = {
            # First pages and deeper pages, with and without a search: what a clerk actually does.
            "village": ["/api/v1/households", "/api/v1/households?page=3", "/api/v1/households?q=1"],
            "leader": ["/api/v1/households", "/api/v1/households?page=50", "/api/v1/households?tag=elderly_alone"],
        }
        for user in ("village", "leader"):
            drive(port, tokens[user], 4, 2, paths[user])  # warm up
            r = drive(port, tokens[user], args.clients, args.seconds, paths[user])
            print(
                f"{backend:10} {user:8} clients={args.clients:3} requests={r['requests']:6} errors={r['errors']} "
                f"rps={r['rps']:7.1f} p50={r['p50_ms']:6.1f}ms p99={r['p99_ms']:6.1f}ms",
                flush=True,
            )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
