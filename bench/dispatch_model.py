#!/usr/bin/env python
"""The text classifier of smart dispatch (triage/text.py) on generated 12345 appeals: for each candidate
analyser and linear model, the training time on --rows orders (~150 labels), the accuracy and macro-F1 on
a held-out set from the same grammar and on one whose object and problem words never occur in training
(unseen synonyms: how the model copes with wording it has not met), the coverage at 90% precision, the
prediction latency p50/p99 of one text in-process (a short text and a 2,000-character one), the size of
the stored model and the peak RSS of the process that trained it. Each candidate runs in its own process
so that its peak RSS is its own.

The generated texts come from a seeded grammar: caller openings, places with house numbers, times, an
object (30, each with several synonyms) and a problem (5 kinds, several wordings each) — the label is the
pair, so every object word is shared by 5 labels and every problem word by 30 — consequences, requests,
neutral rambling for long texts, typos (3% of characters swapped for a common character), dialect words,
phone numbers and latin, texts without punctuation (as speech-to-text gives), and 5% wrong labels (as
real closed orders have). Label frequencies are skewed (Zipf, exponent 0.8).

    .venv/bin/python bench/dispatch_model.py [--rows 100000] [--test 10000] [--candidates char13-logreg,...]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# bench/queue.py shadows the standard library's queue (which scikit-learn's joblib imports): take bench/ off
# the import path, put the project on it.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

OBJECTS: list[list[str]] = [
    ["路灯", "街灯", "照明灯", "灯杆", "小区路灯"],
    ["下水道", "排水管", "污水管", "窨井", "化粪池"],
    ["垃圾桶", "垃圾", "生活垃圾", "垃圾堆", "垃圾站"],
    ["广场舞", "音响", "喇叭声", "夜市噪音", "装修噪音"],
    ["电梯", "升降梯", "楼道电梯", "加装电梯", "电梯按钮"],
    ["自来水", "供水", "水管", "水压", "水龙头"],
    ["停电", "供电", "电线", "电表", "电箱"],
    ["燃气", "煤气", "天然气管道", "燃气表", "液化气"],
    ["路面", "马路", "人行道", "坑洼路", "柏油路"],
    ["井盖", "下水井盖", "窨井盖", "雨水篦子", "检查井"],
    ["树木", "绿化带", "草坪", "树枝", "行道树"],
    ["乱停车", "车位", "占道停车", "停车场", "僵尸车"],
    ["违章建筑", "违建", "私搭乱建", "加盖房屋", "违规搭棚"],
    ["物业公司", "物业", "物业费", "物业管理", "业委会"],
    ["暖气", "供暖", "集中供热", "暖气片", "供热管道"],
    ["公交车", "公交站", "班车", "公交线路", "站牌"],
    ["摊贩", "小摊", "占道经营", "流动摊点", "马路市场"],
    ["油烟", "餐馆排烟", "烧烤摊", "饭店油烟", "排烟管"],
    ["流浪狗", "流浪猫", "野狗", "流浪动物", "狗群"],
    ["养狗", "遛狗", "犬只", "狗叫", "宠物狗"],
    ["工资", "工钱", "薪水", "欠薪", "劳务费"],
    ["社保", "医保", "养老保险", "社保卡", "参保"],
    ["低保", "救助金", "困难补助", "临时救助", "特困供养"],
    ["学校", "幼儿园", "学位", "入学", "校车"],
    ["医院", "卫生院", "看病", "挂号", "诊所"],
    ["商家", "网购", "退款", "预付卡", "健身房"],
    ["食品", "过期食品", "餐馆卫生", "外卖", "小作坊"],
    ["房屋", "墙体开裂", "危房", "屋顶", "楼板"],
    ["庄稼", "农田", "灌溉", "农药", "水渠"],
    ["红绿灯", "信号灯", "斑马线", "路口", "减速带"],
]
PROBLEMS: list[list[str]] = [
    ["坏了", "损坏严重", "出了故障", "不能用了", "一直有毛病"],
    ["太吵了", "严重扰民", "影响休息", "吵得睡不着", "天天闹"],
    ["想咨询一下", "想问问政策", "怎么办理", "需要什么材料", "去哪里申请"],
    ["没人管", "反映多次没处理", "一直拖着", "推来推去", "没有下文"],
    ["有安全隐患", "很危险", "容易出事", "差点伤到人", "老人孩子摔倒过"],
]
OPENINGS = ["", "", "您好，", "喂，你好，", "市民来电反映：", "来电人称：", "我是附近的居民，", "俺想反映个事，",
            "麻烦问一下，", "网友留言：", "我要投诉，"]  # fmt: skip
TOWNS = ["城关镇", "河西街道", "东坝乡", "新华社区", "青山村", "柳林镇", "开发区", "幸福小区", "阳光花园", "老街"]
TIMES = ["", "最近", "这几天", "昨天晚上", "从去年开始", "已经一个多月了，", "今天早上", "每天晚上", "2023年5月以来"]
CONSEQUENCES = ["", "", "居民意见很大", "出行很不方便", "老人小孩都受影响", "大家都很着急", "晚上不敢出门",
                "给生活造成很大困扰", "咱这边都这样"]  # fmt: skip
REQUESTS = ["", "希望有关部门尽快处理", "请相关部门给个答复", "请尽快派人来看看", "希望能解决", "麻烦落实一下",
            "要求回电", "请回复", "谢谢"]  # fmt: skip
RAMBLE = ["我们这里的情况大家都知道", "之前也打过电话", "说了好几次了", "社区说这个事不归他们管",
          "邻居们都在群里讨论", "我家住在三楼", "孩子在外地上学", "我今年七十多岁了", "这个事情说来话长",
          "当时是物业说的", "后来又找了街道", "他们说会研究研究", "我也不知道该找谁", "上次来的人看了一眼就走了",
          "天气也不好", "我每天都要接送孙子", "附近有个菜市场", "这条路是去医院的必经之路"]  # fmt: skip
DIALECT = {"什么": "啥", "怎么": "咋", "我": "俺", "我们": "咱们", "没有": "没得", "这里": "这搭", "很": "老"}
LATIN = ["APP", "wifi", "12345", "QQ群", "微信群", "ETC", "4S店", "No.", "ok", "B栋"]
ZIPF = [1 / (r + 1) ** 0.8 for r in range(len(OBJECTS) * len(PROBLEMS))]
COMMON = (
    "的一是了我不人在他有这个上们来到时大地为子中你说生国年着就那和要她出也得里后自以会家可下而过天去能对"
    "小多然于心学么之都好看起发当没成只如事把还用第样道想作种开美总从无情己面最女但现前些所同日手又行意动"
    "方期它头经长儿回位分爱老因很给名法间斯知世什两次使身者被高已亲其进此话常与活正感"
)


def grammar(rng: random.Random, *, unseen: bool = False) -> tuple[str, str]:
    """One appeal and its label. Training draws from every wording but the last of each object and problem;
    the "unseen" test set uses only those last ones."""
    label_no = rng.choices(range(len(ZIPF)), weights=ZIPF)[0]
    o, p = divmod(label_no, len(PROBLEMS))
    obj = OBJECTS[o][-1] if unseen else rng.choice(OBJECTS[o][:-1])
    prob = PROBLEMS[p][-1] if unseen else rng.choice(PROBLEMS[p][:-1])
    place = f"{rng.choice(TOWNS)}{rng.randint(1, 30)}号楼" if rng.random() < 0.6 else rng.choice(TOWNS)
    core = rng.choice(
        [
            f"{place}{rng.choice(TIMES)}{obj}{prob}",
            f"{rng.choice(TIMES)}{place}附近的{obj}{prob}",
            f"关于{obj}的问题，{prob}，地点在{place}",
            f"{obj}{prob}，{place}",
            f"{prob}，就是{place}的{obj}",
        ]
    )
    parts = [rng.choice(OPENINGS) + core, rng.choice(CONSEQUENCES), rng.choice(REQUESTS)]
    if rng.random() < 0.3:
        parts.insert(1, rng.choice(RAMBLE))
    if rng.random() < 0.05:
        parts[1:1] = rng.choices(RAMBLE, k=rng.randint(20, 200))
    if rng.random() < 0.2:
        parts.append(f"联系电话1{rng.randint(3, 9)}{rng.randint(0, 999999999):09d}")
    if rng.random() < 0.1:
        parts.insert(rng.randint(0, len(parts)), rng.choice(LATIN))
    text = ("" if rng.random() < 0.15 else "，").join(x for x in parts if x)
    if rng.random() < 0.3:
        for plain, local in DIALECT.items():
            text = text.replace(plain, local)
    chars = [rng.choice(COMMON) if rng.random() < 0.03 else c for c in text]
    if rng.random() < 0.05:
        label_no = rng.randrange(len(ZIPF))
    return "".join(chars), f"{label_no // len(PROBLEMS) + 1:02d}{label_no % len(PROBLEMS) + 1:02d}01"


def dataset(n: int, seed: int, *, unseen: bool = False) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    pairs = [grammar(rng, unseen=unseen) for _ in range(n)]
    return [t for t, _ in pairs], [label for _, label in pairs]


CANDIDATES: dict[str, dict[str, object]] = {
    "char12-logreg": {"analyzer": "char12", "classifier": "logreg"},
    "char13-logreg": {"analyzer": "char13", "classifier": "logreg"},
    "jieba-logreg": {"analyzer": "jieba", "classifier": "logreg"},
    "char13-sgd": {"analyzer": "char13", "classifier": "sgd"},
}


def register_jieba() -> float:
    """The jieba word + character analyser, added to triage.text's table for this process only. Returns the
    seconds jieba took to load its dictionary."""
    import logging

    import jieba

    from triage import text

    jieba.setLogLevel(logging.WARNING)
    t0 = time.perf_counter()
    jieba.initialize()
    loaded = time.perf_counter() - t0
    chars = text.ANALYZERS["char12"]

    def words_and_chars(doc: str) -> list[str]:
        return [w for w in jieba.lcut(doc) if w.strip()] + chars(doc)

    text.ANALYZERS["jieba"] = words_and_chars
    return loaded


def one(name: str, rows: int, test: int, seed: int) -> dict[str, object]:
    from triage import evaluation
    from triage.text import TextModel

    extra: dict[str, object] = {}
    params = dict(CANDIDATES[name])
    if params["analyzer"] == "jieba":
        extra["jieba_load_s"] = round(register_jieba(), 2)
    texts, labels = dataset(rows, seed)
    test_texts, test_labels = dataset(test, seed + 1)
    unseen_texts, unseen_labels = dataset(test, seed + 2, unseen=True)
    t0 = time.perf_counter()
    model = TextModel.fit(texts, labels, seed=seed, **params)
    fit_s = time.perf_counter() - t0
    out: dict[str, object] = {"candidate": name, "fit_s": round(fit_s, 1), **extra, "info": model.info}
    for tag, xs, ys in (("heldout", test_texts, test_labels), ("unseen", unseen_texts, unseen_labels)):
        t0 = time.perf_counter()
        predicted, confidence = model.predict_many(xs)
        batch_s = time.perf_counter() - t0
        correct = [a == b for a, b in zip(predicted, ys, strict=True)]
        out[tag] = {
            "accuracy": round(sum(correct) / len(correct), 4),
            "macro_f1": round(evaluation.macro_f1(ys, predicted), 4),
            "coverage_at_0.90": round(evaluation.coverage_at_precision(correct, confidence, 0.90), 4),
            "predict_many_per_text_ms": round(batch_s / len(xs) * 1000, 3),
        }
    short = [t for t in test_texts if 20 <= len(t) <= 120][:500]
    long = [(t * (2000 // max(len(t), 1) + 1))[:2000] for t in test_texts[:200]]
    for tag, xs in (("short", short), ("2000_chars", long)):
        times = []
        for x in xs * 3:
            t0 = time.perf_counter()
            model.predict(x, k=3)
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        out[f"predict_{tag}_ms"] = {
            "p50": round(statistics.median(times), 3),
            "p99": round(times[int(len(times) * 0.99)], 3),
        }
    t0 = time.perf_counter()
    blob = model.to_bytes()
    out["to_bytes_s"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    TextModel.from_bytes(blob)
    out["from_bytes_s"] = round(time.perf_counter() - t0, 2)
    out["model_bytes"] = len(blob)
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--test", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--candidates", default=",".join(CANDIDATES))
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.rows, args.test, args.seed), ensure_ascii=False))
        return

    texts, labels = dataset(min(args.rows, 20_000), args.seed)
    lengths = sorted(len(t) for t in texts)
    print(f"# bench/dispatch_model.py: {args.rows} training orders, {len(set(labels))} labels (in a 20k sample), "
          f"text length p50 {lengths[len(lengths) // 2]}, p99 {lengths[int(len(lengths) * 0.99)]}, "
          f"max {lengths[-1]} chars; {args.test} held-out and {args.test} unseen-wording texts",
          flush=True)  # fmt: skip
    print("# example:", texts[0], "→", labels[0], flush=True)
    for name in args.candidates.split(","):
        proc = subprocess.run(
            [sys.executable, __file__, "--one", name, "--rows", str(args.rows), "--test", str(args.test),
             "--seed", str(args.seed)],
            cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"},
        )  # fmt: skip
        if proc.returncode:
            print(f"{name}: failed\n{proc.stderr[-3000:]}", flush=True)
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        print(
            f"{name:14} fit {r['fit_s']:7.1f} s  features {r['info']['features']:>7,}  "
            f"held-out acc {r['heldout']['accuracy']:.4f} macro-F1 {r['heldout']['macro_f1']:.4f} "
            f"cov@0.90 {r['heldout']['coverage_at_0.90']:.4f}  "
            f"unseen acc {r['unseen']['accuracy']:.4f} macro-F1 {r['unseen']['macro_f1']:.4f}  "
            f"predict short p50/p99 {r['predict_short_ms']['p50']:.2f}/{r['predict_short_ms']['p99']:.2f} ms, "
            f"2,000 chars {r['predict_2000_chars_ms']['p50']:.2f}/{r['predict_2000_chars_ms']['p99']:.2f} ms  "
            f"batch {r['heldout']['predict_many_per_text_ms']:.3f} ms/text  "
            f"model {r['model_bytes'] / 1e6:.1f} MB (save {r['to_bytes_s']} s, load {r['from_bytes_s']} s)  "
            f"peak RSS {r['peak_rss_mb']} MB" + (f"  jieba load {r['jieba_load_s']} s" if "jieba_load_s" in r else ""),
            flush=True,
        )


if __name__ == "__main__":
    main()
