"""What the benchmarks share: a seeded database, a real server process, and load from clients."""

from __future__ import annotations

import sys
from pathlib import Path

# bench/queue.py has the name of the standard library's `queue` (which psycopg and concurrent.futures
# import): once the scripts have found this module, take their folder off the import path again.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
if getattr(sys.modules.get("queue"), "__file__", "") == str(_HERE / "queue.py"):
    del sys.modules["queue"]

import http.client
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def run(args: list[str], env: dict[str, str]) -> str:
    return subprocess.run(
        [PY, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout


def shell(code: str, env: dict[str, str]) -> str:
    """Run Python in `manage.py shell` and return the last line it printed."""
    return run(["shell", "-c", code], env).strip().splitlines()[-1]


def reset_postgres(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    if "bench" not in name:
        raise SystemExit(f"refusing to drop database {name!r}: name a database with 'bench' in it")
    with psycopg.connect(base.replace("postgres://", "postgresql://", 1) + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def bench_env(*, postgres: str | None, var_dir: str | None, reuse: bool) -> tuple[dict[str, str], str]:
    var = var_dir or tempfile.mkdtemp(prefix="gz-bench-")
    # The rate limits stay on (their cost is measured) but far away: one demo resident files thousands of
    # orders a minute here, as no person does.
    env = {
        **os.environ,
        "GONGZHI_VAR_DIR": var,
        "SECRET_KEY": "bench-only",
        "LOG_LEVEL": "ERROR",
        "GONGZHI_RATE_LIMIT_FACTOR": "1000000",
    }
    env.pop("DATABASE_URL", None)
    if postgres:
        if not reuse:
            reset_postgres(postgres)
        env["DATABASE_URL"] = postgres
    return env, var


@contextmanager
def autoanalyze(url: str | None) -> Iterator[None]:
    """Where the PostgreSQL server runs with autovacuum off (this workplace's does; a production server
    keeps the default, on), play its ANALYZE part while a benchmark writes: every second, analyze each
    table changed by more than autovacuum's own threshold (50 rows + 10 % of the table). Without it a
    table that grows from empty during the run keeps the statistics of an empty table, and the planner
    walks every order of a category where one index step would do (bench/intake.py fell from 414 to
    ~120 submissions/s on the similar-orders lookup)."""
    if not url:
        yield
        return
    import psycopg

    conn = psycopg.connect(url.replace("postgres://", "postgresql://", 1), autocommit=True)
    if conn.execute("SHOW autovacuum").fetchone()[0] == "on":
        conn.close()
        yield
        return
    print("# this PostgreSQL server runs with autovacuum=off: the benchmark ANALYZEs changed tables as "
          "autovacuum would", flush=True)  # fmt: skip
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(1.0):
            due = conn.execute(
                "SELECT s.relid::regclass::text FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid "
                "WHERE s.n_mod_since_analyze > 50 + 0.1 * greatest(c.reltuples, 0)"
            ).fetchall()
            for (table,) in due:
                conn.execute(f"ANALYZE {table}")

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    try:
        yield
    finally:
        stop.set()
        t.join()
        conn.close()


# What the intake benchmarks file: a street-light complaint near the demo resident ("LAT", "LNG" and "KEY" are
# filled in per request).
INTAKE_BODY = json.dumps(
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


def resident_place(env: dict[str, str]) -> tuple[float, float]:
    """Where the demo resident lives: her grid's latitude and longitude (intake benchmarks file near it)."""
    lat, lng = json.loads(
        shell(
            "import json; from org.models import Resident;"
            "g = Resident.objects.select_related('household__grid').get(user__username='resident').household.grid;"
            "print(json.dumps([str(g.lat), str(g.lng)]))",
            env,
        )
    )
    return float(lat), float(lng)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_token(username: str, env: dict[str, str]) -> str:
    return shell(
        "from accounts.models import User; from accounts.services import token_create;"
        f"print(token_create(user=User.objects.get(username='{username}'), name='bench')[1])",
        env,
    )


def wait_up(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("server did not start")


SERVERS = ("granian", "serve", "gunicorn", "uvicorn")


def server_command(kind: str, port: int, workers: int, threads: int = 1) -> list[str]:
    """How the benchmarks start the app: granian (WSGI, the production web processes, see README), serve
    (`manage.py serve --server-only`, what `make run` serves: granian with gongzhi.asgi's one-port app,
    `workers` processes, its own default of threads), gunicorn (WSGI) or uvicorn (Django's ASGI app
    through gongzhi.asgi, what `make run` served until 2026-12)."""
    bind = ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    if kind == "granian":
        return [PY, "-m", "granian", "--interface", "wsgi", *bind, "--blocking-threads", str(threads), "--no-ws",
                "--log-level", "warning", "gongzhi.wsgi:application"]  # fmt: skip
    if kind == "serve":
        return ["env", f"GONGZHI_WEB_WORKERS={workers}", PY, "manage.py", "serve", "--server-only", "--host",
                "127.0.0.1", "--port", str(port)]  # fmt: skip
    if kind == "gunicorn":
        if shutil.which("gunicorn", path=str(Path(PY).parent)) is None:
            raise SystemExit("gunicorn is not installed: .venv/bin/pip install gunicorn")
        return [PY, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", str(workers), "--log-level", "warning",
                "gongzhi.wsgi:application"]  # fmt: skip
    if kind == "uvicorn":
        return [PY, "-m", "uvicorn", "gongzhi.asgi:application", *bind, "--no-access-log", "--log-level", "warning"]
    raise SystemExit(f"unknown server {kind!r}: choose from {', '.join(SERVERS)}")


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by a process and its live descendants (Linux /proc): a
    server's master and workers. Read before and after a measurement: the CPU a request costs the server,
    whatever else shares the machine."""
    tick = os.sysconf("SC_CLK_TCK")
    kids: dict[int, list[int]] = {}
    used: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        kids.setdefault(int(fields[1]), []).append(int(entry))
        used[int(entry)] = int(fields[11]) + int(fields[12])  # utime + stime, in ticks
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += used.get(p, 0)
        todo.extend(kids.get(p, []))
    return total / tick


SERVER_PIDS: list[int] = []  # the running server's pid (bench scripts read its CPU with tree_cpu_seconds)


@contextmanager
def server(env: dict[str, str], *, workers: int, kind: str = "granian", threads: int = 1) -> Iterator[int]:
    port = free_port()
    proc = subprocess.Popen(server_command(kind, port, workers, threads), cwd=ROOT, env=env)
    SERVER_PIDS[:] = [proc.pid]
    try:
        wait_up(port)
        yield port
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


Request = tuple[str, str, str | None]  # method, path, JSON body


def drive(
    port: int,
    token: str,
    clients: int,
    seconds: float,
    next_request: Callable[[random.Random, int], Request],
    content_type: str = "application/json",
) -> dict[str, float]:
    """Python clients on keep-alive connections: `next_request(rng, client)` says what to send."""
    latencies: list[float] = []
    errors = 0
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def worker(n: int) -> None:
        nonlocal errors
        rng = random.Random(n)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: list[float] = []
        seen: dict[int, int] = {}
        bad = 0
        headers = {"Authorization": f"Bearer {token}", "Content-Type": content_type}
        while time.monotonic() < stop_at:
            method, path, body = next_request(rng, n)
            t0 = time.perf_counter()
            try:
                # http.client sends a str body as Latin-1: a Chinese body must go as UTF-8 bytes.
                data = body.encode() if isinstance(body, str) else body
                conn.request(method, path, body=data, headers=headers)
                resp = conn.getresponse()
                resp.read()
                seen[resp.status] = seen.get(resp.status, 0) + 1
                if resp.status >= 400:
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
            for k, v in seen.items():
                statuses[k] = statuses.get(k, 0) + v

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return summarise(latencies, errors, time.monotonic() - t0, statuses)


def timed(call: Callable[[int], Any], repeat: int, warmup: int = 2) -> dict[str, float]:
    """One request or read at a time: `call(i)` `repeat` times after `warmup` calls (which warm the
    caches and are not counted); p50, p95 and max in milliseconds."""
    for i in range(warmup):
        call(i)
    lat = []
    for i in range(repeat):
        t0 = time.perf_counter()
        call(i)
        lat.append(time.perf_counter() - t0)
    lat.sort()
    return {
        "p50": statistics.median(lat) * 1000,
        "p95": lat[max(0, round(len(lat) * 0.95) - 1)] * 1000,
        "max": lat[-1] * 1000,
    }


def summarise(latencies: list[float], errors: int, elapsed: float, statuses: dict[int, int]) -> dict[str, float]:
    latencies.sort()
    n = len(latencies)
    return {
        "requests": n,
        "errors": errors,
        "rps": n / elapsed,
        "p50_ms": statistics.median(latencies) * 1000 if n else float("nan"),
        "p99_ms": latencies[min(n - 1, int(n * 0.99))] * 1000 if n else float("nan"),
        "statuses": statuses,
    }


async def _read_response(reader: Any) -> tuple[int, bool]:
    """Read one HTTP/1.1 response off a keep-alive connection: its status, and whether the server
    closes the connection after it (gunicorn's sync workers do)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:] if x)}
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status, headers.get("connection", "").lower() == "close"


def paced(
    port: int, token: str, connections: int, rate: float, seconds: float,
    next_request: Callable[[random.Random, int], Request],
) -> dict[str, float]:  # fmt: skip
    """Open-loop load: `rate` requests a second in all, on a fixed timetable, spread over `connections`
    keep-alive connections. Latency counts from when a request was due, not from when it was sent: a
    server that falls behind shows it in the figures instead of being sent fewer requests (no
    coordinated omission). This is how "p99 at N requests/s" is meant; wrk measures the most a server
    can do, with every client always waiting, where latency is just clients ÷ throughput."""
    import asyncio

    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0
    total = int(rate * seconds)

    async def connection(n: int, t0: float) -> None:
        nonlocal errors
        rng = random.Random(n)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        loop = asyncio.get_running_loop()
        for i in range(n, total, connections):
            due = t0 + i / rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            method, path, body = next_request(rng, n)
            data = (body or "").encode()
            writer.write(
                (
                    f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
                ).encode()
                + data
            )
            try:
                status, closing = await _read_response(reader)
                if closing:
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except (OSError, asyncio.IncompleteReadError):
                errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            latencies.append(loop.time() - due)
            statuses[status] = statuses.get(status, 0) + 1
            if status >= 400:
                errors += 1
        writer.close()

    async def main() -> float:
        loop = asyncio.get_running_loop()
        t0 = loop.time() + 0.2
        await asyncio.gather(*(connection(n, t0) for n in range(connections)))
        return loop.time() - t0

    elapsed = asyncio.run(main())
    return summarise(latencies, errors, elapsed, statuses)


WRK_SCRIPT = r"""
local counter = 0

local threads = {}
local statuses = {}
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end
function init(args)
  statuses = {}
end
request = function()
  counter = counter + 1
  local body = nil
  if wrk.method == "POST" then
    body = string.format(wrk.body, tid, counter)
  end
  return wrk.format(nil, nil, nil, body)
end
response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %f %f %d\n", summary.requests,
    e.connect + e.read + e.write + e.timeout + e.status,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.duration))
end
"""


def wrk(
    port: int, token: str, clients: int, seconds: float, *, method: str, path: str, body_template: str = ""
) -> dict[str, float] | None:
    """Load from wrk (C, one process on loopback) when installed: Python clients would eat the CPU the
    server needs. The body template gets (thread, counter, dlat, dlng) so every request is distinct."""
    exe = shutil.which("wrk")
    if exe is None:
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(f"wrk.method = {json.dumps(method)}\n")
        f.write(f"wrk.body = [==[{body_template}]==]\n")  # a long string: Lua knows no \\u escapes
        f.write(f'wrk.headers["Authorization"] = "Bearer {token}"\n')
        f.write('wrk.headers["Content-Type"] = "application/json"\n')
        f.write(WRK_SCRIPT)
        script = f.name
    threads, duration = min(clients, 2), f"{max(1, round(seconds))}s"
    proc = subprocess.run(
        [exe, "-t", str(threads), "-c", str(clients), "-d", duration, "--timeout", "10s", "-s", script,
         f"http://127.0.0.1:{port}{path}"],
        capture_output=True, text=True,
    )  # fmt: skip
    os.unlink(script)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT")), None)
    if line is None:
        raise SystemExit(f"wrk failed: {proc.stdout[-500:]} {proc.stderr[-500:]}")
    _, requests, errors, p50, p99, duration_us = line.split()
    return {
        "requests": int(requests),
        "errors": int(errors),
        "rps": int(requests) / (int(duration_us) / 1e6),
        "p50_ms": float(p50),
        "p99_ms": float(p99),
        "statuses": {},
    }


def make_session(username: str, env: dict[str, str]) -> str:
    """A login session for `username` (the pages take a session cookie, not a token): its key, for the
    `sessionid` cookie."""
    return shell(
        "from django.contrib.sessions.backends.db import SessionStore; from accounts.models import User;"
        f"u = User.objects.get(username='{username}'); s = SessionStore();"
        "s['_auth_user_id'] = str(u.pk); s['_auth_user_backend'] = 'django.contrib.auth.backends.ModelBackend';"
        "s['_auth_user_hash'] = u.get_session_auth_hash(); s.create(); print(s.session_key)",
        env,
    )


def drop_postgres(url: str) -> None:
    """Drop the database a benchmark made (its name must hold 'bench', as for reset_postgres)."""
    import psycopg

    base, name = url.rsplit("/", 1)
    if "bench" not in name:
        raise SystemExit(f"refusing to drop database {name!r}: name a database with 'bench' in it")
    with psycopg.connect(base.replace("postgres://", "postgresql://", 1) + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def child_processes(pid: int) -> list[tuple[int, list[str]]]:
    """The live children of a process (Linux /proc): (pid, command line), by pid."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            if ppid != pid:
                continue
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
        except (OSError, ValueError, IndexError):
            continue
        out.append((int(entry), argv))
    return sorted(out)


def rss_fds_cpu(pid: int) -> tuple[float, int, float] | None:
    """A process's resident memory (MiB, VmRSS), its open file descriptors and the CPU seconds it has used
    (user + system, its own, not its children's); None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            rss_kb = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return rss_kb / 1024, fds, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, StopIteration, ValueError, IndexError):
        return None


def percentile(values: list[float], q: float) -> float:
    """The value below which a fraction `q` of `values` lie (nearest rank); NaN for none."""
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * q))]


async def read_http_response(reader: Any) -> tuple[int, dict[str, str], bytes]:
    """Read one whole HTTP/1.1 response off a keep-alive connection (as _read_response, keeping the body):
    status, headers (lower-case names) and body."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:] if x)}
    if "content-length" in headers:
        return status, headers, await reader.readexactly(int(headers["content-length"]))
    body = b""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            body += (await reader.readexactly(size + 2))[:-2]
            if size == 0:
                break
    return status, headers, body
