#!/usr/bin/env python
"""Smart dispatch's costs: training on a county's history, one guess in-process, and what the guess adds
to intake over HTTP.

    .venv/bin/python bench/dispatch.py [--orders 100000] [--predict 3000] [--clients 20] [--seconds 10]
        [--rounds 2] [--skip-http]

1. Training: `--orders` appeals composed by demo.appeals (every leaf of the default catalogue, openers,
   places, remarks, cross-talk; ~150 categories) with a handling unit each, trained as `dispatch_train`
   does (triage.services.train: both heads, 5 % held back). Wall and CPU time, peak memory of the
   process, the stored model's size, and the held-back accuracy (of synthetic text: not a quality figure).
2. One guess in-process (triage.text.TextModel.predict, what intake calls): p50/p99/max over `--predict`
   texts, a tenth of them long (2,000–9,000 characters, as real transcripts reach), and loading the model
   from its bytes (what a process does once per version).
3. Intake over HTTP (granian, 2 workers, the demo county on SQLite): free-text appeals (no category, so
   the model's guess is what routes them) with no current model (A) and with the 100,000-order model
   current (B), A B A B in one run; requests/s, p50/p99 and the server's CPU time per request.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# This script's folder holds bench/queue.py, which would hide the standard library's queue: the project's
# root goes first instead, and bench/ last (for bench/common.py).
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"] + [str(ROOT / "bench")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gongzhi.settings")

TEXTS_FOR_HTTP = [
    "小区电梯坏了三天，老人上不了楼",
    "村口路灯不亮已经一周了，晚上出行不安全",
    "隔壁工地半夜还在施工，吵得睡不着",
    "八十岁老人高龄津贴这个月没有发",
    "门口垃圾堆了好几天没人清运，臭得很",
    "自来水发黄，烧开了还有沉淀",
]


def history(n: int, seed: int = 7) -> list[tuple[str, str, str]]:
    from demo import appeals

    rng = random.Random(seed)
    leaves = sorted(appeals.LEAF_TEXTS)
    places = ["一组", "二组", "王家湾", "新村小区", "老街", "桥头", "学校", ""]
    rows = []
    for _ in range(n):
        code = rng.choice(leaves)
        unit = f"dept:{int(code[:2])}" if rng.random() < 0.7 else f"level:{rng.choice((4, 5))}"
        rows.append((appeals.appeal_text(code, rng, place=rng.choice(places)), code, unit))
    return rows


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def train_and_predict(args: argparse.Namespace) -> bytes:
    import django

    django.setup()
    from triage import services as triage
    from triage.text import TextModel

    t0 = time.perf_counter()
    rows = history(args.orders)
    print(f"history: {len(rows):,} appeals composed in {time.perf_counter() - t0:.1f} s", flush=True)
    w0, c0 = time.perf_counter(), cpu()
    trained = triage.train(rows, holdout=0.05, seed=0)
    wall, spent = time.perf_counter() - w0, cpu() - c0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    blob = trained.category.to_bytes()
    unit_blob = trained.unit.to_bytes() if trained.unit else b""
    rep = trained.report
    print(
        f"training on {args.orders:,} orders (both heads): {wall:.1f} s wall, {spent:.1f} s CPU, "
        f"peak RSS {peak_mb:.0f} MB; "
        f"models {len(blob) / 1e6:.1f} MB + {len(unit_blob) / 1e6:.1f} MB; held-back category accuracy "
        f"{rep['category']['accuracy']:.3f}, macro-F1 {rep['category']['macro_f1']:.3f} (synthetic text)",
        flush=True,
    )
    t0 = time.perf_counter()
    model = TextModel.from_bytes(blob)
    print(f"loading the category model from its bytes: {(time.perf_counter() - t0) * 1000:.0f} ms", flush=True)
    rng = random.Random(3)
    texts = []
    for i in range(args.predict):
        text = rows[rng.randrange(len(rows))][0]
        if i % 10 == 0:  # a long transcript
            text = (text * 400)[: rng.randint(2000, 9000)]
        texts.append(text)
    for t in texts[:50]:
        model.predict(t, k=1)  # warm
    times = []
    for t in texts:
        s = time.perf_counter()
        model.predict(t, k=1)
        times.append((time.perf_counter() - s) * 1000)
    times.sort()
    print(
        f"one guess in-process over {len(times):,} texts (a tenth 2,000–9,000 chars): "
        f"p50 {statistics.median(times):.2f} ms, p99 {times[int(len(times) * 0.99)]:.2f} ms, max {times[-1]:.2f} ms",
        flush=True,
    )
    return blob + b"\0UNIT\0" + unit_blob


def http(args: argparse.Namespace, blobs: bytes) -> None:
    from common import SERVER_PIDS, bench_env, drive, make_token, run, server, shell, tree_cpu_seconds

    env, var = bench_env(postgres=None, var_dir=None, reuse=False)
    env["GONGZHI_MEMO_CHECK_SECONDS"] = "0.5"
    run(["migrate", "-v0"], env)
    run(["seed_demo", "--scale", "small", "--seed", "1", "--orders", "0", "--calls", "0", "--points", "0"], env)
    model_file = Path(var) / "model.bin"
    model_file.write_bytes(blobs)
    shell(
        "from pathlib import Path; from triage.models import Classifier; from core.clock import now;"
        f"c, u = Path({str(model_file)!r}).read_bytes().split(b'\\0UNIT\\0');"
        "Classifier.objects.create(created_at=now(), orders=0, category_model=c, unit_model=u, report={},"
        " is_current=False, trained_by='bench'); print('ok')",
        env,
    )
    toggle = (
        "from triage.models import Classifier; from core.memo import bump;"
        "Classifier.objects.update(is_current={on}); bump('triage'); print('ok')"
    )
    token = make_token("resident", env)

    def submit(rng: random.Random, client: int) -> tuple[str, str, str]:
        text = f"{rng.choice(TEXTS_FOR_HTTP)}（{rng.randint(1, 99999)}）"
        return "POST", "/api/v1/workorders", f'{{"kind": "complaint", "text": "{text}", "channel": "mobile"}}'

    print(f"intake over HTTP (granian, 2 workers, SQLite in {var}), free text, {args.clients} clients:", flush=True)
    with server(env, workers=2, kind="granian") as port:
        for rnd in range(args.rounds):
            for label, on in (("A no model", False), ("B model   ", True)):
                shell(toggle.format(on=on), env)
                time.sleep(1.5)  # past the memo check: each worker sees the change on its next request
                drive(port, token, 4, 3, submit)  # warm: each worker loads (or drops) the model
                c0 = tree_cpu_seconds(SERVER_PIDS[0])
                r = drive(port, token, args.clients, args.seconds, submit)
                cpu_ms = (tree_cpu_seconds(SERVER_PIDS[0]) - c0) * 1000 / max(1, r["requests"])
                print(
                    f"  round {rnd + 1} {label}: {r['rps']:6.1f} req/s, p50 {r['p50_ms']:6.1f} ms, "
                    f"p99 {r['p99_ms']:6.1f} ms, server CPU {cpu_ms:5.2f} ms/request, errors {r['errors']}",
                    flush=True,
                )
    guessed = shell(
        "from workorders.models import WorkOrder; print(WorkOrder.objects.exclude(model_version=None).count(),"
        " WorkOrder.objects.filter(model_version=None).count())",
        env,
    )
    print(f"orders guessed by the model / not: {guessed}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orders", type=int, default=100_000)
    ap.add_argument("--predict", type=int, default=3000)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--skip-http", action="store_true")
    args = ap.parse_args()
    blobs = train_and_predict(args)
    if not args.skip_http:
        http(args, blobs)


if __name__ == "__main__":
    main()
