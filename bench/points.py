#!/usr/bin/env python
"""Points shop under contention: redemptions/s through HTTP, and proof that nothing was lost or doubled.

    .venv/bin/python bench/points.py [--postgres postgres://postgres@127.0.0.1:5432/gz_bench_points]
        [--clients 50] [--requests 12] [--stock 100] [--server granian] [--workers 2] [--threads 4]
        [--var-dir DIR]

Seeds the small demo county (no demo history) and opens a bench shop in the demo village with three sets
of three goods, then drives POST /api/v1/points/redemptions from `--clients` keep-alive clients, each
sending `--requests` redemptions one after another, in three scenarios:

  counter, scarce  the `village` clerk at the counter for ~100 residents with points, three goods of
                   `--stock` items each (食用油 at most 1 a day per person): more demand than stock
  counter, ample   the same, with 100,000 in stock and no limits: every redemption should succeed
  online, scarce   one resident per client reserving for themself with their own token, three goods of
                   `--stock`/2 items, 1 a day per person each

Every request has its own idempotency key. About 10% of successes are sent again at once with the same
key (a retry after a lost answer: it must come back 200 with the same redemption), and about 3% of
requests are sent twice at the same moment on two connections (a double tap: one redemption, both
answers naming it). Prints per scenario the answers by status and error code, redemptions/s, requests/s
and p50/p99 latency; then checks the database: per goods, stock taken == redemptions stored == the 201s
the clients saw; no redemption the clients were not told of (duplicated) and none they were told of that
is missing (lost); one ledger entry per redemption; no per-person limit exceeded; and points/reconcile
(cached balances == ledger == lots, all balances summing to 0).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from common import SERVERS, bench_env, make_token, run, server, shell

SETUP = r"""
import json
from accounts.models import Role, User
from accounts.services import role_assign, token_create, user_create
from org.models import Node, Resident
from org.services import household_create, resident_create
from points import services as ps
staff = User.objects.get(username="village")
village = staff.roles.get(role=Role.VILLAGE_STAFF).node
shop = ps.shop_create(node=village, name="压测积分超市", by=staff, address="村委会一楼")
def goods(name, price, stock, limit=None):
    g = ps.goods_save(shop=shop, by=staff, name=name, price=price, limit_per_person=limit, limit_period="day")
    ps.goods_restock(goods=g, delta=stock, by=staff, note="压测进货")
    return {"id": g.pk, "name": name, "stock": stock, "limit": limit}
out = {"shop": shop.pk}
out["scarce"] = [goods("洗衣粉", 50, STOCK), goods("食用油", 150, STOCK, 1), goods("大米", 200, STOCK)]
out["ample"] = [goods("牙膏", 30, 100000), goods("毛巾", 30, 100000), goods("香皂", 20, 100000)]
half = max(1, STOCK // 2)
out["online"] = [goods("卷纸", 40, half, 1), goods("鸡蛋", 60, half, 1), goods("酱油", 30, half, 1)]
people = list(Resident.objects.filter(path__startswith=village.path, user__isnull=True).order_by("id")[:PEOPLE])
for r in people:
    ps.award_manual(resident=r, amount=100000, reason="压测", by=staff, key=f"bench-{r.pk}")
out["residents"] = [r.pk for r in people]
grids = list(Node.objects.filter(parent=village).order_by("id"))
tokens = []
for i in range(ONLINE):
    u = user_create(username=f"bench-r{i}", password=None, display_name=f"压测居民{i}")
    hh = household_create(grid=grids[i % len(grids)], address=f"压测路{i}号")
    r = resident_create(household=hh, name=f"压测{i}", gender="M", user=u)
    role_assign(user=u, role=Role.RESIDENT, node=grids[i % len(grids)])
    ps.award_manual(resident=r, amount=100000, reason="压测", by=staff, key=f"bench-{r.pk}")
    tokens.append(token_create(user=u, name="bench")[1])
out["tokens"] = tokens
print(json.dumps(out))
"""

CHECK = r"""
import json, datetime as dt
from django.db.models import Count, Sum
from core.clock import SHANGHAI
from points.models import Entry, Goods, Redemption, StockMove
from points.reconcile import reconcile
ids = IDS
out = {"goods": {}}
for g in Goods.objects.filter(pk__in=ids):
    live = Redemption.objects.filter(goods=g).exclude(state="cancelled")
    over = 0
    if g.limit_per_person:
        days = {}
        for rid, at, q in live.values_list("resident_id", "created_at", "quantity"):
            k = (rid, at.astimezone(SHANGHAI).date())
            days[k] = days.get(k, 0) + q
        over = sum(1 for v in days.values() if v > g.limit_per_person)
    moves = StockMove.objects.filter(goods=g).aggregate(s=Sum("delta"))["s"] or 0
    out["goods"][g.pk] = {
        "stock": g.stock, "moves": moves, "live": live.count(), "qty": live.aggregate(s=Sum("quantity"))["s"] or 0,
        "ids": list(Redemption.objects.filter(goods=g).values_list("id", flat=True)), "over_limit": over,
        "entries": Entry.objects.filter(kind="redeem", redemption__goods=g).count(),
    }
redeem_entries = Entry.objects.filter(kind="redeem")
out["orphans"] = redeem_entries.filter(redemption__isnull=True).count()
out["entry_keys_dup"] = Entry.objects.values("key").annotate(n=Count("id")).filter(n__gt=1).count()
n, diffs, total = reconcile()
out["reconcile"] = {"accounts": n, "differences": len(diffs), "sum": total}
print(json.dumps(out))
"""


@dataclass
class Tally:
    answers: Counter = field(default_factory=Counter)  # "201", "409 points.out_of_stock", …
    latencies: list[float] = field(default_factory=list)
    created: dict[int, int] = field(default_factory=dict)  # redemption id → goods id, from 201s
    per_goods: Counter = field(default_factory=Counter)  # goods id → 201s
    replays: Counter = field(default_factory=Counter)  # "ok" (200, same id) / "bad"
    races: Counter = field(default_factory=Counter)  # "one" (one 201 + one 200, same id), "refused" (both 409), …
    lock: threading.Lock = field(default_factory=threading.Lock)


def _send(conn: http.client.HTTPConnection, token: str, body: dict) -> tuple[int, dict, float]:
    data = json.dumps(body, ensure_ascii=False).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    t0 = time.perf_counter()
    try:
        conn.request("POST", "/api/v1/points/redemptions", body=data, headers=headers)
        resp = conn.getresponse()
        status, raw = resp.status, resp.read()
    except (OSError, http.client.HTTPException) as exc:
        conn.close()  # http.client reconnects on the next request
        return 0, {"error": {"code": type(exc).__name__}}, time.perf_counter() - t0
    try:
        payload = json.loads(raw or b"{}")
    except ValueError:
        payload = {"error": {"code": "not-json"}}
    return status, payload, time.perf_counter() - t0


def _label(status: int, payload: dict) -> str:
    if status >= 400 or status == 0:
        return f"{status} {payload.get('error', {}).get('code', '?')}"
    return str(status)


def scenario(
    port: int, name: str, clients: int, per_client: int, pick, *, replay: float = 0.1, race: float = 0.03
) -> tuple[Tally, float]:
    """`pick(rng, client) → (token, body without key)`; returns the tally and the wall time."""
    tally = Tally()
    run_id = f"{name.replace(' ', '').replace(',', '-')}-{int(time.time())}"

    def record(status: int, payload: dict, seconds: float) -> None:
        with tally.lock:
            tally.answers[_label(status, payload)] += 1
            tally.latencies.append(seconds)
            if status == 201:
                tally.created[payload["id"]] = payload["goods_id"]
                tally.per_goods[payload["goods_id"]] += 1

    def worker(n: int) -> None:
        rng = random.Random(n * 7919 + len(name))
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        twin: http.client.HTTPConnection | None = None
        for i in range(per_client):
            token, body = pick(rng, n)
            body["idempotency_key"] = f"{run_id}-{n}-{i}"
            if rng.random() < race:
                # A double tap: the same request on two connections at the same moment.
                twin = twin or http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                second: list = []
                t = threading.Thread(
                    target=lambda c=twin, b=dict(body), k=token, out=second: out.append(_send(c, k, b))
                )
                t.start()
                first = _send(conn, token, body)
                t.join()
                both = [first, second[0]]
                for status, payload, seconds in both:
                    record(status, payload, seconds)
                statuses = sorted(s for s, _p, _t in both)
                ids = {p.get("id") for s, p, _t in both if 200 <= s < 300}
                if statuses == [200, 201] and len(ids) == 1:
                    kind = "one redemption, both told"
                elif all(s >= 400 for s in statuses):
                    kind = "both refused"
                else:
                    kind = "MISMATCH " + " / ".join(_label(s, p) for s, p, _t in both)
                with tally.lock:
                    tally.races[kind] += 1
                continue
            status, payload, seconds = _send(conn, token, body)
            record(status, payload, seconds)
            if status == 201 and rng.random() < replay:
                again, p2, _s = _send(conn, token, body)
                ok = again == 200 and p2.get("id") == payload["id"] and p2.get("created") is False
                with tally.lock:
                    tally.replays["ok" if ok else f"BAD {_label(again, p2)}"] += 1

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return tally, time.monotonic() - t0


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] * 1000 if values else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--postgres", help="run on this PostgreSQL database (dropped and recreated)")
    ap.add_argument("--var-dir", help="SQLite var dir to use (a fresh temporary one by default)")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--requests", type=int, default=12, help="redemptions each client sends, one after another")
    ap.add_argument("--stock", type=int, default=100, help="items of each scarce goods")
    ap.add_argument("--server", choices=SERVERS, default="granian")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=4, help="threads per granian worker")
    args = ap.parse_args()

    env, var = bench_env(postgres=args.postgres, var_dir=args.var_dir, reuse=False)
    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(f"# bench/points.py on {backend}, var={var}", flush=True)
    run(["migrate", "-v0"], env)
    seed = ["seed_demo", "--scale", "small", "--seed", "1", "--if-empty", "--orders", "0", "--calls", "0"]
    run([*seed, "--points", "0"], env)
    setup = SETUP.replace("STOCK", str(args.stock)).replace("PEOPLE", "100").replace("ONLINE", str(args.clients))
    world = json.loads(shell(setup, env))
    staff = make_token("village", env)
    residents, tokens = world["residents"], world["tokens"]

    def counter(goods: list[dict]):
        def pick(rng: random.Random, _client: int) -> tuple[str, dict]:
            return staff, {"goods_id": rng.choice(goods)["id"], "resident_id": rng.choice(residents), "quantity": 1}

        return pick

    def online(rng: random.Random, client: int) -> tuple[str, dict]:
        return tokens[client % len(tokens)], {"goods_id": rng.choice(world["online"])["id"], "quantity": 1}

    plans = [
        ("counter, scarce", world["scarce"], counter(world["scarce"])),
        ("counter, ample", world["ample"], counter(world["ample"])),
        ("online, scarce", world["online"], online),
    ]
    results = []
    # The server's log (a warning line for every 409) goes to a file, not between the figures.
    log = open(Path(var) / "server.log", "w")  # noqa: SIM115 - open while the server runs
    saved = os.dup(2)
    os.dup2(log.fileno(), 2)
    try:
        with server(env, workers=args.workers, kind=args.server, threads=args.threads) as port:
            os.dup2(saved, 2)
            warm, _s = scenario(port, "warm-up", 4, 3, counter(world["ample"]), replay=0, race=0)
            for name, goods, pick in plans:
                tally, seconds = scenario(port, name, args.clients, args.requests, pick)
                results.append((name, goods, tally, seconds))
                print(f"  ran {name}: {sum(tally.answers.values())} answers in {seconds:.1f} s", flush=True)
    finally:
        os.dup2(saved, 2)
        log.close()
    # The warm-up's redemptions were of the ample goods: count them with that scenario's.
    ample = next(t for n, _g, t, _s in results if n == "counter, ample")
    ample.created.update(warm.created)
    ample.per_goods.update(warm.per_goods)

    ids = [g["id"] for _n, goods, _t, _s in results for g in goods] + [g["id"] for g in world["ample"]]
    check = json.loads(shell(CHECK.replace("IDS", json.dumps(sorted(set(ids)))), env))

    print()
    print(
        f"{backend}: {args.clients} clients × {args.requests} redemptions, {args.server} {args.workers}×{args.threads}"
    )
    head = f"{'scenario':16} {'requests':>8} {'201':>5} {'200':>4} {'409 sold out':>12} {'409 limit':>9} "
    head += f"{'409 balance':>11} {'other':>5} {'redeemed/s':>10} {'req/s':>6} {'p50 ms':>7} {'p99 ms':>7}"
    print(head)
    print("-" * len(head))
    for name, _goods, t, seconds in results:
        a = t.answers
        n = sum(a.values())
        known = a["201"] + a["200"] + a["409 points.out_of_stock"] + a["409 points.limit_reached"]
        known += a["409 points.insufficient_balance"]
        print(
            f"{name:16} {n:8} {a['201']:5} {a['200']:4} {a['409 points.out_of_stock']:12} "
            f"{a['409 points.limit_reached']:9} {a['409 points.insufficient_balance']:11} {n - known:5} "
            f"{a['201'] / seconds:10.1f} {n / seconds:6.1f} {pct(t.latencies, 0.5):7.0f} {pct(t.latencies, 0.99):7.0f}"
        )
    others = Counter()
    for _n, _g, t, _s in results:
        others.update({k: v for k, v in t.answers.items() if k not in {"201", "200"} and "points." not in k})
    if others:
        print(f"other answers: {dict(others)}")

    print()
    print(f"{'scenario':16} {'goods':6} {'stock':>6} {'taken':>6} {'stored':>6} {'201s':>6} {'entries':>7} "
          f"{'lost':>5} {'dup':>4} {'over limit':>10}")  # fmt: skip
    failures = 0
    for name, goods, t, _s in results:
        seen = set(t.created)
        for g in goods:
            c = check["goods"][str(g["id"])]
            stored = set(c["ids"])
            mine = {i for i, gid in t.created.items() if gid == g["id"]}
            lost = len(mine - stored)
            dup = len(stored - seen)
            taken = g["stock"] - c["stock"]
            ok = taken == c["qty"] == c["live"] == t.per_goods[g["id"]] == c["entries"] and not lost and not dup
            ok = ok and not c["over_limit"] and c["moves"] == c["stock"]  # every change of stock has its move
            failures += not ok
            print(
                f"{name:16} {g['name']:6} {g['stock']:6} {taken:6} {c['live']:6} {t.per_goods[g['id']]:6} "
                f"{c['entries']:7} {lost:5} {dup:4} {c['over_limit']:10}{'' if ok else '   <-- MISMATCH'}"
            )
    replays, races = Counter(), Counter()
    for _n, _g, t, _s in results:
        replays.update(t.replays)
        races.update(t.races)
    rec = check["reconcile"]
    print()
    print(f"replays with the same key (expect 200, same id): {dict(replays)}")
    print(f"double taps on two connections at once: {dict(races)}")
    print(
        f"ledger: reconcile over {rec['accounts']} accounts: {rec['differences']} differences, balances sum "
        f"{rec['sum']}; redeem entries without a redemption: {check['orphans']}; duplicated entry keys: "
        f"{check['entry_keys_dup']}"
    )
    bad = failures + rec["differences"] + abs(rec["sum"]) + check["orphans"] + check["entry_keys_dup"]
    bad += sum(v for k, v in replays.items() if k != "ok")
    print("RESULT:", "all consistent" if not bad else f"{bad} problems (see above)")
    mismatched = sum(v for k, v in races.items() if k.startswith("MISMATCH"))
    if mismatched:
        print(f"note: {mismatched} double taps got different answers for the same key (see the report)")


if __name__ == "__main__":
    main()
