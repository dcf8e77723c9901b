#!/usr/bin/env python
"""One-key call: call-to-screen latency and escalation lateness, with real processes.

    .venv/bin/python bench/sos.py [--postgres postgres://postgres@127.0.0.1:5432/gz_bench_sos]
        [--calls 200] [--interval 0.05] [--var-dir DIR]

Seeds the small demo county and registers the demo resident for one-key call. Starts two server
processes: A serves the API (granian, WSGI, as in production) and B the live stream (uvicorn, ASGI); and
`run_sos`. The responder (the resident's grid worker) listens on B's Server-Sent Events stream while
`--calls` calls are raised through A's API, one every `--interval` seconds. Call-to-screen latency is from
just before the POST to when the stream on the other process delivers that call's first event.

Rungs are 1 s apart for the run (GONGZHI_SOS_ACK_SECONDS=1, ..._VILLAGE_SECONDS=1), so every call climbs
the whole ladder; escalation lateness is how long after its deadline each rung fired (the worker writes
it on each alert as late_ms). Prints p50/p99/max of both.
"""

from __future__ import annotations

import argparse
import http.client
import json
import signal
import statistics
import subprocess
import threading
import time

from common import PY, ROOT, bench_env, free_port, make_token, run, server, shell, wait_up


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] if values else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--postgres", help="run on this PostgreSQL database (dropped and recreated)")
    ap.add_argument("--var-dir")
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--interval", type=float, default=0.05)
    args = ap.parse_args()

    env, var = bench_env(postgres=args.postgres, var_dir=args.var_dir, reuse=False)
    env.update(GONGZHI_SOS_ACK_SECONDS="1", GONGZHI_SOS_VILLAGE_SECONDS="1", GONGZHI_MEMO_CHECK_SECONDS="0.5")
    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(f"# bench/sos.py on {backend}, var={var}", flush=True)
    run(["migrate", "-v0"], env)
    run(["seed_demo", "--scale", "small", "--seed", "1", "--if-empty", "--orders", "0", "--calls", "0"], env)
    shell(
        "from accounts.models import User; from sos import services; from sos.models import CareProfile;"
        "r = User.objects.get(username='resident').resident;"
        "grid = User.objects.get(username='grid');"
        "CareProfile.objects.filter(resident=r).exists() or services.care_register(resident=r, by=grid);"
        "print('ok')",
        env,
    )  # fmt: skip
    resident_token = make_token("resident", env)
    responder_token = make_token("grid", env)

    stream_port = free_port()
    stream_server = subprocess.Popen(
        [PY, "-m", "uvicorn", "gongzhi.asgi:application", "--port", str(stream_port), "--log-level", "warning"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    worker = subprocess.Popen([PY, "manage.py", "run_sos", "--idle-sleep", "0.05"], cwd=ROOT, env=env)
    sent: dict[int, float] = {}
    received: dict[int, float] = {}
    connected = threading.Event()
    stop = threading.Event()

    def listen() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", stream_port, timeout=120)
        conn.request("GET", "/sos/stream/", headers={"Authorization": f"Bearer {responder_token}"})
        resp = conn.getresponse()
        connected.set()
        data = ""
        while not stop.is_set():
            line = resp.readline().decode()
            if not line:
                break
            line = line.rstrip("\n")
            if line.startswith("data: "):
                data = line[6:]
            elif line == "" and data:
                call_id = json.loads(data)["call"]["id"]
                received.setdefault(call_id, time.perf_counter())
                data = ""

    try:
        wait_up(stream_port)
        with server(env, workers=1, kind="granian", threads=2) as api_port:
            listener = threading.Thread(target=listen, daemon=True)
            listener.start()
            connected.wait(30)
            time.sleep(0.5)  # the stream's poller has started
            conn = http.client.HTTPConnection("127.0.0.1", api_port, timeout=30)
            headers = {"Authorization": f"Bearer {resident_token}", "Content-Type": "application/json"}
            run_id = int(time.time())
            for i in range(args.calls):
                body = json.dumps({"kind": "emergency", "idempotency_key": f"bench-{run_id}-{i}"})
                t0 = time.perf_counter()
                conn.request("POST", "/api/v1/sos/calls", body=body, headers=headers)
                resp = conn.getresponse()
                payload = json.loads(resp.read())
                if resp.status != 201:
                    raise SystemExit(f"raise failed: {resp.status} {payload}")
                sent[payload["call"]["id"]] = t0
                time.sleep(args.interval)
            deadline = time.monotonic() + 30
            while len(received.keys() & sent.keys()) < len(sent) and time.monotonic() < deadline:
                time.sleep(0.1)
            # Let every ladder reach the command centre.
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                count = "from sos.models import Call; print(Call.objects.filter(escalate_at__isnull=False).count())"
                left = int(shell(count, env))
                if left == 0:
                    break
                time.sleep(1)
            stop.set()
    finally:
        for p in (worker, stream_server):
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()

    latencies = [(received[c] - sent[c]) * 1000 for c in sent if c in received]
    missing = len(sent) - len(latencies)
    print(
        f"{backend:10} call-to-screen over {len(latencies)} calls (API on granian, stream on another process): "
        f"p50={statistics.median(latencies):.0f}ms p99={pct(latencies, 0.99):.0f}ms max={max(latencies):.0f}ms "
        f"missing={missing}"
    )
    late = json.loads(
        shell(
            "import json; from sos.models import CallEvent;"
            "print(json.dumps([e for e in CallEvent.objects.filter(action='alert', level__gt=0)"
            ".values_list('data__late_ms', flat=True)]))",
            env,
        )
    )
    late = [x for x in late if x is not None]
    print(
        f"{backend:10} escalation lateness over {len(late)} rungs: p50={statistics.median(late):.0f}ms "
        f"p99={pct(late, 0.99):.0f}ms max={max(late):.0f}ms"
    )


if __name__ == "__main__":
    main()
