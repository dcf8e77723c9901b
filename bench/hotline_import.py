#!/usr/bin/env python
"""A 12345 hotline file imported by `manage.py hotline_import`: a generated CSV of --rows orders (default
100,000, addresses on the demo county's grids, the hotline's categories and units) imported into the demo
database, then imported again (it must create nothing), timed as whole processes; prints rows/minute, the
command's own progress lines, and the CPU time per row.

    .venv/bin/python bench/hotline_import.py [--rows 100000] [--bad 20] [--postgres URL] [--var-dir DIR]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

from common import ROOT, bench_env, run, shell

HEADER = [
    "工单编号",
    "受理时间",
    "来电人",
    "来电号码",
    "事发地址",
    "诉求内容",
    "诉求分类",
    "诉求类型",
    "承办单位",
    "办理时限",
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--bad", type=int, default=20, help="rows the import must refuse (unknown places)")
    ap.add_argument("--postgres", help="run on this PostgreSQL database (dropped and recreated)")
    ap.add_argument("--var-dir", help="SQLite var dir to use (a fresh temporary one by default)")
    args = ap.parse_args()

    env, var = bench_env(postgres=args.postgres, var_dir=args.var_dir, reuse=False)
    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(f"# bench/hotline_import.py on {backend}, var={var}", flush=True)
    run(["migrate", "-v0"], env)
    run(["seed_demo", "--scale", "small", "--seed", "1", "--if-empty", "--orders", "0"], env)
    places = json.loads(
        shell(
            "import json; from org.models import Node, Level;"
            "from accounts.models import User; from integrations import services;"
            "root = Node.objects.filter(parent__isnull=True).first();"
            "services.source_create(by=User.objects.get(username='admin'), name='12345热线', code='h12345', node=root);"
            "names = {n.pk: n.name for n in Node.objects.all()};"
            "print(json.dumps([''.join(names[int(i)] for i in g.path.strip('/').split('/')[1:])"
            " for g in Node.objects.filter(level=Level.GRID)]))",
            env,
        )
    )
    cats = json.loads(
        shell(
            "import json; from catalog.models import Category;"
            "print(json.dumps(list(Category.objects.filter(level=3).values_list('name', flat=True))))",
            env,
        )
    )
    path = Path(var) / "hotline.csv"
    rng = random.Random(1)
    bad_lines = set(rng.sample(range(args.rows), args.bad))
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        for n in range(args.rows):
            place = "火星基地" if n in bad_lines else rng.choice(places)
            when = f"2026-11-{rng.randint(1, 17):02d} {rng.randint(8, 20):02d}:{rng.randint(0, 59):02d}:00"
            cat = rng.choice(cats)
            kind = rng.choice(["投诉", "求助", "咨询", "建议"])
            text = f"反映问题第{n}条：{cat}，请尽快处理"
            phone = f"139{rng.randint(0, 99999999):08d}"
            w.writerow([f"HL{n:08d}", when, "市民", phone, f"{place}{rng.randint(1, 200)}号", text, cat, kind, "", ""])
    print(
        f"{backend:10} file: {args.rows} rows, {path.stat().st_size / 1e6:.1f} MB, {args.bad} with no place we serve",
        flush=True,
    )

    for label in ("first import", "same file again"):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "manage.py", "hotline_import", str(path), "--source", "h12345"],
            cwd=ROOT, env={**env, "PYTHONUNBUFFERED": "1"}, capture_output=True, text=True,
        )  # fmt: skip
        elapsed = time.monotonic() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if proc.returncode:
            raise SystemExit(proc.stderr[-2000:])
        progress = [x for x in proc.stderr.splitlines() if "rows/s" in x]
        summary = proc.stdout.strip().splitlines()[-1]
        print(f"{backend:10} {label}: {elapsed:6.1f} s wall, {args.rows / elapsed * 60:,.0f} rows/minute, "
              f"CPU {cpu * 1000 / args.rows:.2f} ms/row — {summary}", flush=True)  # fmt: skip
        for line in progress[:: max(1, len(progress) // 5)]:
            print(f"{'':10}   progress: {line.strip()}")
    counts = shell(
        "from workorders.models import WorkOrder; from integrations.models import HotlineOrder;"
        "print(WorkOrder.objects.filter(channel='hotline').count(), HotlineOrder.objects.count())",
        env,
    )
    print(f"{backend:10} hotline orders stored, links: {counts}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
