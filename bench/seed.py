"""How long `seed_demo` takes and how much memory it needs, on a fresh SQLite file or PostgreSQL database.

    .venv/bin/python bench/seed.py                                  # county scale on SQLite
    .venv/bin/python bench/seed.py --scale small
    .venv/bin/python bench/seed.py --postgres postgres://postgres@127.0.0.1:5432/postgres

Each run migrates a brand-new database, then times `manage.py seed_demo --scale … --seed …` as a child
process; the peak RSS is that child's own (os.wait4), not the migration's. For PostgreSQL the URL names
the server and a maintenance database to connect to; the benchmark database itself is always
--dbname (default gongzhi_bench_seed), dropped and re-created, so a typo cannot drop real data.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
MANAGE = [sys.executable, str(ROOT / "manage.py")]


@dataclass
class Result:
    backend: str
    scale: str
    seed: int
    seconds: float
    peak_rss_mb: float
    db_size_mb: float
    summary: str


def _run(args: list[str], env: dict[str, str]) -> None:
    subprocess.run([*MANAGE, *args], env=env, cwd=ROOT, check=True)


def _timed(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall time, peak RSS (MB) and stdout of one child process."""
    started = time.perf_counter()
    with tempfile.TemporaryFile(mode="w+") as out:
        child = subprocess.Popen([*MANAGE, *args], env=env, cwd=ROOT, stdout=out)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        out.seek(0)
        text = out.read()
    if child.returncode:
        sys.stdout.write(text)
        raise SystemExit(f"seed_demo failed with exit code {child.returncode}")
    return seconds, usage.ru_maxrss / 1024, text  # ru_maxrss is in KiB on Linux


def _seed_args(scale: str, seed: int, fraction: float) -> list[str]:
    args = ["seed_demo", "--scale", scale, "--seed", str(seed)]
    if fraction != 1:
        args += ["--fraction", str(fraction)]
    return args


def bench_sqlite(scale: str, seed: int, fraction: float, keep: bool) -> Result:
    var_dir = Path(tempfile.mkdtemp(prefix="gongzhi-bench-"))
    env = {**os.environ, "GONGZHI_VAR_DIR": str(var_dir)}
    env.pop("DATABASE_URL", None)
    try:
        _run(["migrate", "--noinput", "-v0"], env)
        seconds, rss, text = _timed(_seed_args(scale, seed, fraction), env)
        size = sum(p.stat().st_size for p in var_dir.glob("gongzhi.sqlite3*"))
    finally:
        if keep:
            print(f"kept {var_dir}")
        else:
            shutil.rmtree(var_dir, ignore_errors=True)
    return Result("sqlite", scale, seed, seconds, rss, size / 2**20, text)


def bench_postgres(url: str, dbname: str, scale: str, seed: int, fraction: float, keep: bool) -> Result:
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    if not parts.path.strip("/"):
        parts = parts._replace(path="/postgres")
    maintenance = urlunsplit(parts._replace(scheme="postgresql"))
    target = urlunsplit(parts._replace(path=f"/{dbname}"))

    def admin(statement: sql.Composable) -> None:
        with psycopg.connect(maintenance, autocommit=True) as conn:
            conn.execute(statement)

    admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
    admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    env = {**os.environ, "DATABASE_URL": target}
    try:
        _run(["migrate", "--noinput", "-v0"], env)
        seconds, rss, text = _timed(_seed_args(scale, seed, fraction), env)
        with psycopg.connect(maintenance) as conn:
            row = conn.execute("SELECT pg_database_size(%s)", (dbname,)).fetchone()
        size = row[0] if row else 0
    finally:
        if keep:
            print(f"kept database {dbname}")
        else:
            admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
    return Result("postgresql", scale, seed, seconds, rss, size / 2**20, text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", default="county", choices=("small", "county", "province"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fraction", type=float, default=1.0, help="passed to seed_demo --fraction")
    parser.add_argument("--postgres", metavar="URL", help="also run on this PostgreSQL server")
    parser.add_argument("--dbname", default="gongzhi_bench_seed", help="PostgreSQL database to (re)create")
    parser.add_argument("--no-sqlite", action="store_true", help="only the PostgreSQL run")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database afterwards")
    args = parser.parse_args()

    results = []
    if not args.no_sqlite:
        results.append(bench_sqlite(args.scale, args.seed, args.fraction, args.keep))
    if args.postgres:
        results.append(bench_postgres(args.postgres, args.dbname, args.scale, args.seed, args.fraction, args.keep))

    for r in results:
        print(f"--- seed_demo on {r.backend} ---")
        print(r.summary.rstrip())
    print()
    print(f"{'backend':<12}{'scale':<10}{'seed':>5}{'seconds':>10}{'peak RSS MB':>13}{'DB size MB':>12}")
    for r in results:
        print(f"{r.backend:<12}{r.scale:<10}{r.seed:>5}{r.seconds:>10.1f}{r.peak_rss_mb:>13.0f}{r.db_size_mb:>12.0f}")


if __name__ == "__main__":
    main()
