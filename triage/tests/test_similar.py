"""triage.similar as a dispatcher would notice it: one problem told by many households links, other problems
at the same spot, far away or months later do not, hotline transfers link with residents' own words, hot
topics rise, and the labelled pairs keep their measured precision and recall. No database."""

from __future__ import annotations

import csv
import datetime as dt
import itertools
from pathlib import Path

import numpy as np
import pytest

from triage import similar
from triage.similar import THRESHOLD, Cluster, Doc, SimilarIndex, clusters, is_same_problem, rising

TZ = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2025, 6, 12, 18, 0, tzinfo=TZ)
LAT, LNG = 30.0, 114.0  # 东头石桥 of a made-up village, /1/2/10/
VILLAGE = "/1/2/10/"
GRID = "/1/2/10/1003/"
PAIRS = Path(__file__).parent / "data" / "pairs.csv"
FILLER = ("反映", "希望", "处理", "尽快", "热线", "转办", "来电", "麻烦", "谢谢", "问题")


def at(north_m: float = 0.0, east_m: float = 0.0) -> tuple[float, float]:
    """A pin so many metres north and east of the bridge."""
    return LAT + north_m / 111_000, LNG + east_m / 96_000


def doc(
    id: int,
    text: str,
    *,
    pin: tuple[float, float] | None = (LAT, LNG),
    place: str = GRID,
    days_ago: float = 0.0,
    household: str = "",
    category: str = "",
) -> Doc:
    lat, lng = pin if pin is not None else (None, None)
    return Doc(
        id=id,
        text=text,
        at=NOW - dt.timedelta(days=days_ago),
        place=place,
        lat=lat,
        lng=lng,
        household=household or f"h{id}",
        category=category,
    )


# Ten households on one broken road at the bridge, each in their own words: pins within ~150 m (two
# without a pin, one a hotline transfer known only to the village), one filed under 路灯损坏 by mistake,
# two not classified yet, over four days.
ROAD = [
    ("东头石桥那段水泥路塌了一个大坑，一个星期了没人管", (0, 20), "道路破损"),
    ("石桥边上的路面坑坑洼洼的，下雨全是泥水，电动车骑不过去", (40, -30), "道路破损"),
    ("反映一下，东头石桥路面破损严重，有个坑差不多半米宽，希望尽快处理", (-60, 10), ""),
    ("石桥那里的路烂了！谁来管管", (80, 50), "道路破损"),
    ("我们东头石桥这条路被拉沙的大货车压坏了，到处是裂缝和坑", (-20, -90), "道路破损"),
    ("东头石桥的道路开裂下沉，请派人修补", (120, 0), "路灯损坏"),
    ("石桥那段路有个大坑，车子开过去底盘都刮了", None, "道路破损"),
    ("12345热线转办：来电人反映，东头石桥附近路面坑洼，积水很深，小孩上学要绕着走。请尽快处理。", None, ""),
    ("东头石桥的路坏了好几天了，一直没人来补，我们走路都难", (30, 100), "道路破损"),
    ("俺们东头石桥那块路面稀烂，一下雨就是个水塘，出门一脚泥", (-100, -40), "道路破损"),
]
# Other matters 150–300 m away in the same village, filed under the same kind of categories.
NEARBY = [
    ("村委会门口的路灯不亮了，晚上黑漆漆的", (150, 150), "路灯损坏"),
    ("村委会门口那几盏路灯一到晚上就闪，一会亮一会灭", (170, 140), "路灯损坏"),
    ("村委会门口路灯坏了，老人晚上出门不敢走", (160, 120), ""),
    ("文化广场的垃圾堆了三天没人清运，臭气熏天", (-150, 200), "垃圾清运"),
    ("广场那个垃圾池满了，垃圾都溢到路上了", (-140, 210), "垃圾清运"),
    ("小学门口的井盖不见了，留下一个大洞", (250, -200), "井盖缺失"),
]


def road_docs() -> list[Doc]:
    out = []
    for i, (text, pin, category) in enumerate(ROAD):
        hotline = text.startswith("12345")
        out.append(
            doc(
                i + 1,
                text,
                pin=at(*pin) if pin is not None else None,
                place=VILLAGE if hotline else GRID,
                days_ago=i * 0.4,
                category=category,
            )
        )
    return out


def nearby_docs() -> list[Doc]:
    return [
        doc(100 + i, text, pin=at(*pin), place="/1/2/10/1002/", days_ago=i * 0.7, category=category)
        for i, (text, pin, category) in enumerate(NEARBY)
    ]


# --- One problem, ten households ---


def test_ten_households_on_one_road_link_pairwise() -> None:
    road = road_docs()
    linked = [is_same_problem(a, b) for a, b in itertools.combinations(road, 2)]
    assert sum(linked) / len(linked) >= 0.9  # measured: 45 of 45
    for d in road:  # and every report finds most of the others
        assert sum(is_same_problem(d, o) for o in road if o is not d) >= 7


def test_ten_households_on_one_road_are_one_cluster() -> None:
    road, nearby = road_docs(), nearby_docs()
    found = clusters([*road, *nearby])
    top = found[0]
    assert set(top.ids) == {d.id for d in road}
    assert top.households == 10
    assert len(top.reports) == 10
    assert top.place == VILLAGE  # the hotline transfer is known only to the village
    assert top.first == min(d.at for d in road) and top.last == max(d.at for d in road)
    # The street lights and the rubbish nearby are topics of their own, not part of the road.
    assert {100, 101, 102} in [set(c.ids) for c in found]
    assert all(not set(c.ids) & {100, 101, 102, 103, 104, 105} for c in found if c is top)


def test_a_household_reporting_twice_counts_once() -> None:
    road = road_docs()
    again = doc(50, "东头石桥的大坑还是没人补，又有人摔了", pin=at(10, 10), household=road[0].household)
    (cl,) = clusters([*road, again], min_size=3)
    assert len(cl.ids) == 11
    assert cl.households == 10


# --- Not the same problem ---


def test_streetlight_and_pothole_nearby_under_one_category_do_not_link() -> None:
    light = doc(1, "村委会门口的路灯不亮了，晚上黑漆漆的", pin=at(150, 150), category="市政设施")
    pothole = doc(2, "东头石桥那段路有个大坑，车子开过去底盘都刮了", category="市政设施")
    assert not is_same_problem(light, pothole)
    # Over an area's candidates (IDF-weighted, as production asks), few cross-links, none from the lights
    # told with 路灯 as the subject.
    index = SimilarIndex([*road_docs(), *nearby_docs()])
    road_ids = {d.id for d in road_docs()}
    cross = [(o.id, i) for o in nearby_docs() for i, _ in index.query(o) if i in road_ids]
    assert len(cross) <= 0.1 * len(NEARBY) * len(ROAD)
    assert not [c for c in cross if c[0] in (100, 101)]


@pytest.mark.xfail(
    strict=True,
    reason="known limitation: two short texts at one spot that share only the landmark's name (东头石桥, "
    "村委会门口) link (text 0.58 × category hint 0.7 = 0.40); the synthetic pairs show it too "
    "(neg_same_spot_other_matter: 57 % linked). The category is a weak hint by design and does not stop it.",
)
def test_a_landmark_shared_by_two_short_texts_is_not_enough() -> None:
    road = doc(1, "东头石桥那段水泥路塌了一个大坑", category="道路破损")
    dogs = doc(2, "东头石桥有好几条流浪狗，追着小孩咬", pin=at(20, 0), category="流浪犬")
    assert not is_same_problem(road, dogs)


def test_same_text_within_reach_links() -> None:
    """The control for the two tests below: the same words 100 m and three days apart are one matter."""
    text = "东头石桥那段水泥路塌了一个大坑，一个星期了没人管"
    assert is_same_problem(doc(1, text), doc(2, text, pin=at(100, 0), days_ago=3))


def test_same_text_far_apart_does_not_link() -> None:
    text = "村口的路灯不亮了，晚上黑漆漆的"
    here = doc(1, text, category="路灯损坏")
    # Twice the radius (the edge is smooth: ½ at the radius, so identical words link up to ~1.2 × it).
    assert not is_same_problem(here, doc(2, text, pin=at(1000, 0), category="路灯损坏"))
    assert not is_same_problem(here, doc(3, text, pin=at(0, 600), category="路灯损坏"), radius_m=300)
    # Every village has a 村口: another village (no pins, only the grid path) is another light.
    assert not is_same_problem(doc(4, text, pin=None), doc(5, text, pin=None, place="/1/2/11/1101/"))
    assert not is_same_problem(doc(6, text, pin=None), doc(7, text, pin=None, place="/1/5/31/3102/"))


def test_same_text_long_apart_does_not_link() -> None:
    text = "村口的路灯不亮了，晚上黑漆漆的"
    assert not is_same_problem(doc(1, text), doc(2, text, days_ago=60))  # twice the 30-day window
    assert not is_same_problem(doc(1, text), doc(2, text, days_ago=90))
    assert not is_same_problem(doc(1, text), doc(2, text, days_ago=20), window_days=7)


# --- Hotline transfers and categories ---


def test_hotline_transfer_links_with_the_residents_own_words() -> None:
    hotline = doc(
        1,
        "【12345转办】工单号GZ2025061200123，市民来电（号码13912345678）反映：东头石桥那段路面塌了个大坑，"
        "已经好几天了。来电人希望相关部门尽快处理，请于3个工作日内办结并回复。",
        pin=None,
        place=VILLAGE,
    )
    resident = doc(2, "石桥边上的水泥路烂了个大洞，电动车都摔了", pin=at(40, 0), days_ago=1, category="道路破损")
    assert is_same_problem(hotline, resident)
    # The boilerplate alone says nothing: two transfers of different matters in one village do not link.
    other = doc(
        3,
        "12345热线转办：来电人反映，小学门口的井盖不见了。来电人希望相关部门尽快处理。",
        pin=None,
        place=VILLAGE,
    )
    assert not is_same_problem(hotline, other)


def test_category_is_a_hint_not_a_filter() -> None:
    a = doc(1, "东头石桥那段路有个大坑，车子过去底盘都刮了", category="道路破损")
    b = doc(2, "石桥那里的路面烂了个大坑，晚上看不见", pin=at(50, 0), days_ago=1, category="路灯损坏")
    same = doc(2, b.text, pin=at(50, 0), days_ago=1, category="道路破损")
    unclassified = doc(2, b.text, pin=at(50, 0), days_ago=1)
    # Filed under two categories, still one problem.
    assert is_same_problem(a, b)
    s_other, s_none, s_same = (similar.same_problem_score(a, x) for x in (b, unclassified, same))
    assert s_other < s_none < s_same <= 1.0
    assert similar.category_factor("道路破损", "路灯损坏") == similar.CATEGORY_MISMATCH
    assert similar.category_factor("", "路灯损坏") == 1.0
    assert 0.5 < similar.CATEGORY_MISMATCH < 1.0 < similar.CATEGORY_MATCH < 1.5


# --- Hot topics: trend and rising ---


def crafted(timeline: list[tuple[float, str]]) -> Cluster:
    """A cluster of reports (days ago, household)."""
    reports = tuple(sorted((NOW - dt.timedelta(days=d), who) for d, who in timeline))
    return Cluster(
        ids=tuple(range(1, len(reports) + 1)),
        keywords=("石桥",),
        place=VILLAGE,
        first=reports[0][0],
        last=reports[-1][0],
        households=len({w for _, w in reports}),
        reports=reports,
    )


def test_many_households_in_a_few_days_is_rising() -> None:
    # Five households in the last two days (one of them twice), at 18:00 today.
    cl = crafted([(0.1, "a"), (0.3, "b"), (0.5, "c"), (1.2, "d"), (1.5, "e"), (1.6, "a")])
    assert rising(cl, now=NOW, households=5, days=3)
    assert not rising(cl, now=NOW, households=6, days=3)  # six reports, five households
    assert cl.trend(NOW, 7) == [0, 0, 0, 0, 0, 3, 3]  # calendar days, today last
    assert cl.trend(NOW, 3) == [0, 3, 3]


def test_the_same_households_spread_over_weeks_are_not_rising() -> None:
    cl = crafted([(1, "a"), (6, "b"), (11, "c"), (16, "d"), (21, "e")])
    assert cl.households == 5
    assert not rising(cl, now=NOW, households=5, days=3)
    assert cl.trend(NOW, 7) == [1, 0, 0, 0, 0, 1, 0]  # 6 and 1 days ago


def test_trend_ignores_reports_after_now_and_counts_in_nows_time_zone() -> None:
    late = dt.datetime(2025, 6, 11, 23, 30, tzinfo=TZ)  # 11 June in China, 15:30 UTC
    cl = crafted([(0.5, "a")])  # 12 June 06:00 in China, 11 June 22:00 UTC
    cl = Cluster(**{**cl.__dict__, "reports": (*cl.reports, (late, "b"), (NOW + dt.timedelta(hours=1), "c"))})
    assert cl.trend(NOW, 2) == [1, 1]
    assert cl.trend(NOW.astimezone(dt.UTC), 2) == [2, 0]  # now is 12 June 10:00 UTC: both yesterday


def test_the_road_cluster_rises() -> None:
    (cl, *_) = clusters(road_docs())
    assert rising(cl, now=NOW, households=5, days=3)  # ten households within four days
    assert not rising(cl, now=NOW + dt.timedelta(days=10), households=5, days=3)  # and then quiet
    assert sum(cl.trend(NOW, 7)) == 10


# --- Keywords ---


def test_keywords_name_the_matter_not_the_boilerplate() -> None:
    hotline = [
        doc(
            20 + i,
            f"12345热线转办：来电人反映，{text}请于3个工作日内办结并回复。来电人希望相关部门尽快处理。",
            pin=None,
            place=VILLAGE,
            days_ago=i * 0.3,
        )
        for i, (text, _, _) in enumerate(ROAD[:4])
    ]
    (cl, *_) = clusters([*road_docs(), *hotline])
    assert len(cl.ids) == 14
    assert 1 <= len(cl.keywords) <= 4
    assert any("石桥" in k for k in cl.keywords)
    assert any(w in "".join(cl.keywords) for w in ("路", "坑"))
    for k in cl.keywords:
        assert len(k) >= 2
        assert not any(f in k for f in FILLER), k
        assert not any(ch.isdigit() for ch in k), k


# --- SimilarIndex ---


def test_index_query_finds_the_same_problem_best_first_and_never_itself() -> None:
    road, nearby = road_docs(), nearby_docs()
    index = SimilarIndex([*road, *nearby])
    assert len(index) == 16
    hits = index.query(road[0], k=5)
    assert 1 <= len(hits) <= 5
    assert all(i in {d.id for d in road[1:]} for i, _ in hits)
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    assert all(THRESHOLD <= s <= 1.0 for _, s in hits)
    # A new report, not among the candidates, is asked about the same way.
    new = doc(999, "东头石桥路上那个坑越来越大了", pin=at(30, 30))
    assert {i for i, _ in index.query(new)} <= {d.id for d in road}
    assert index.query(new)


def test_index_and_cluster_matrix_agree() -> None:
    """clusters() scores every pair at once; it must give what SimilarIndex.scores gives one by one."""
    docs = [*road_docs(), *nearby_docs()]
    index = SimilarIndex(docs)
    full = similar._pairwise(index)
    for r, d in enumerate(docs):
        rows, s = index.scores(d)
        expect = np.zeros(len(docs))
        expect[rows] = s
        np.testing.assert_allclose(full[r], expect, atol=1e-9)


# --- The labelled pairs ---


def _f(x: str) -> float | None:
    return float(x) if x.strip() else None


def test_labelled_pairs_keep_their_measured_precision_and_recall() -> None:
    """bench/similar_pairs.py's 660 synthetic pairs (not real appeals), all of them, at THRESHOLD: measured
    precision 0.792, recall 0.909 (bench/similar_eval.py); the floors leave 0.05 for small changes."""
    tp = fp = fn = 0
    with PAIRS.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 660
    for i, r in enumerate(rows):
        a, b = (
            Doc(
                id=2 * i + k,
                text=r[f"{s}_text"],
                at=NOW - dt.timedelta(days=float(r[f"{s}_days_ago"])),
                place=r[f"{s}_place"],
                lat=_f(r[f"{s}_lat"]),
                lng=_f(r[f"{s}_lng"]),
                category=r[f"{s}_category"],
            )
            for k, s in enumerate("ab")
        )
        same, found = r["same"] == "1", is_same_problem(a, b)
        tp += same and found
        fp += found and not same
        fn += same and not found
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    assert precision >= 0.792 - 0.05, precision
    assert recall >= 0.909 - 0.05, recall


@pytest.mark.parametrize("text", ["", "   ", "。。！！", "谢谢！希望尽快处理。"])
def test_empty_or_boilerplate_text_links_nothing(text: str) -> None:
    assert similar.text_similarity(text, "村口的路灯不亮了") == 0.0
    assert not is_same_problem(doc(1, text), doc(2, text))
