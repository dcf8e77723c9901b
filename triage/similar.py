"""Same problem, other words: which appeals are one matter, and which matters are becoming hot topics.

Two appeals are one matter when they tell the same thing at the same spot at about the same time, in
whatever words: same_problem_score(a, b) = text × place × time × category hint, capped at 1, and
is_same_problem(a, b) is that score ≥ THRESHOLD. Text: shared character 1–3-grams (Chinese has no
spaces; n-grams survive synonyms in part, typing errors, dialect and word order), with the boilerplate
every appeal or hotline transfer carries (反映, 希望尽快处理, 12345热线转办, phone and order numbers) removed
first. Place: distance between pins when both have one (½ at radius_m), else the depth of the common grid
path. Time: ½ at window_days. SimilarIndex weights the n-grams by IDF over a set of candidates (an area's
open orders) and answers "which of these is this one?"; clusters() groups a window's appeals into hot
topics (Cluster) by average linkage on the same score, and rising() says whether one is growing fast.

Category is a weak hint, never a filter. Residents and call-takers file one problem under different
categories (a broken road at night is 道路破损 to one, 路灯损坏 to another), and a fifth of orders carry
none yet; a hard "same category" rule misses all of those. So a Doc's category only multiplies the
score: ×CATEGORY_MATCH (1.1) when both orders are classified alike, ×CATEGORY_MISMATCH (0.7) when both are
classified differently, ×1 when either is not classified. Two reports told alike at one spot (raw score
≥ 0.43) still link across categories; a borderline text match under two categories does not. On the
pairs below, 40 of the 53 same-problem pairs filed under two categories still link (an earlier ×0.25
linked none: a filter in all but name), and the hint lifts F1 from 0.831 to 0.847. Any string works as
a category (hot.py passes the catalogue code); only equality is used.

Figures (bench/similar_eval.py) are from a synthetic, labelled pair set, not real appeals:
bench/similar_pairs.py (seed 7) writes triage/tests/data/pairs.csv, 660 pairs (352 same, 308 not),
44 of each of 15 kinds, from hand-written templates of ours: a made-up county (6 towns, 20 villages,
8 urban communities, landmarks with several names), 26 kinds of matter told 4–10 ways each plus
consequence-only wordings, dressed with greetings, unrelated sentences, 12345 transfer boilerplate,
pinyin typing errors, dialect words or a long story; a category per order, one in five unclassified
and one in eight filed wrongly (our assumption). Positives: one matter reported by two households from
the same or other grids, by other landmark names, short vs long, with typos, hotline vs resident,
consequence only, village-wide (停水 told from two spots). Negatives: another matter of the same group in
the village, the same matter at another spot, in another village or town, 60–150 days apart, another
matter at the same spot, unrelated. At THRESHOLD 0.30 on the held-out half (330 pairs): precision
0.795, recall 0.903, F1 0.846 (all 660: 0.792 / 0.909 / 0.847; without categories 0.753 / 0.926 /
0.831; SimilarIndex with IDF over the pairs' texts 0.800 / 0.841 / 0.820). Today's rule (same category,
±300 m of the pin or the same grid, 14 days) on the same half: precision 0.947, recall 0.205, F1 0.336;
it misses unpinned, hotline and mis-filed reports. Weak spots: short texts at one spot that share the
landmark's name (another matter at the same spot: 64 % wrongly linked; the same matter at another spot
of the village: 59 %; another matter of the same group in the village: 45 %) and village-wide matters
told from two spots (64 % found); other villages, towns and months apart: 0 % linked. clusters() on
2,000 synthetic appeals: pairwise precision 0.585, recall 0.801. The kinds are balanced, so precision
reflects this mix, not a real day's stream; re-measure on labelled real orders before relying on it.
"""

from __future__ import annotations

import datetime
import functools
import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.cluster import hierarchy
from scipy.spatial.distance import squareform

__all__ = [
    "THRESHOLD",
    "Cluster",
    "Doc",
    "SimilarIndex",
    "clusters",
    "is_same_problem",
    "rising",
    "same_problem_score",
    "text_similarity",
]

FloatArray = npt.NDArray[np.float64]

# --- Constants: chosen on the tuning half of the pairs (bench/similar_eval.py --grid); see the docstring. ---
THRESHOLD = 0.30  # same_problem_score at or above which two appeals are one matter
MIN_REST = 0.05  # below this place × time × category, same_problem_score is 0 without reading the texts
CLUSTER_THRESHOLD = 0.30  # the average score at which clusters() stops merging
PROFILES_KEPT = 512  # texts whose n-gram profile stays in memory (a few MB): see _profile
MAX_CHARS = 500  # characters of a text that count: the matter is told at the start (title + description)
# Character n-gram weights. Single characters carry most: two people rarely share a phrase but do share
# the matter's characters (灯 in 路灯坏了 / 灯不亮 / 电杆上的灯; 水 in 停水 / 没水 / 断水; 路登 keeps 路).
NGRAM_WEIGHT = {1: 1.5, 2: 0.5, 3: 0.25}
WEAK_WEIGHT = 0.2  # an n-gram made only of function characters (我们, 没有, 一个)
LENGTH_ALPHA = 0.9  # ½ = cosine; 1 = containment in the shorter text (see _combine)
IDF_POWER = 0.5  # SimilarIndex: n-gram weights × IDF^this over the candidates (see SimilarIndex)
# Category is a weak hint, never a gate (see the module docstring): a factor on the score when both
# orders are classified. Apart, 0.7 still lets a pair told alike at one spot link (raw score ≥ 0.43);
# together, 1.1 lifts a borderline pair a little. Unclassified (""): 1.
CATEGORY_MATCH = 1.1
CATEGORY_MISMATCH = 0.7
# How much two places count as one when there are no coordinates, by the depth of their common path:
# county / town / village / grid (1..4). A path that is the other's ancestor (a hotline order known
# only to its village) counts as one level deeper than what they share.
PATH_FACTOR = {0: 0.0, 1: 0.0, 2: 0.05, 3: 0.8, 4: 1.0}

_FILLER = (
    "市民来电反映", "市民来电", "来电人称", "来电人", "来电反映", "热线转办", "你好", "您好", "请问", "麻烦", "谢谢",
    "感谢", "多谢", "反映", "投诉", "举报", "希望", "尽快", "处理", "解决", "相关部门", "有关部门", "相关单位",
    "领导", "网格员", "一下", "问题", "情况", "重视", "盼复", "回复", "核实", "工单", "诉求", "要求",
    "热线", "转办", "请于", "工作日内", "办结", "回电", "号码",
)  # fmt: skip
_FILLER_RE = re.compile("|".join(sorted(map(re.escape, _FILLER), key=len, reverse=True)))
_LONG_NUMBER_RE = re.compile(r"[a-z]*\d{5,}")  # phone and order numbers: unique to a call, not to a matter
_WORD_RE = re.compile(r"[0-9a-z\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_CN_DIGIT = {"零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_NUMBER_RE = re.compile(r"([零一二三四五六七八九十]{1,3})(?=[号栋幢楼单元组队层排户期区])")
# The commonest function characters of written Chinese: a gram made only of these says nothing of a matter.
_FUNCTION_CHARS = frozenset(
    "的了是在我你他她它们这那有没个一就都也还很把被给吗呢吧啊呀么和与及或说要会能到着过上下来去里啥咋"
)


def _cn_number(m: re.Match[str]) -> str:
    s = m.group(1)
    if "十" not in s:
        return "".join(str(_CN_DIGIT[c]) for c in s)
    tens, _, ones = s.partition("十")
    if len(tens) > 1 or len(ones) > 1 or "十" in ones:
        return s
    return str((_CN_DIGIT.get(tens, 1) if tens else 1) * 10 + (_CN_DIGIT.get(ones, 0) if ones else 0))


def _segments(text: str) -> list[str]:
    """The text as runs of letters, digits and Chinese characters, normalised and capped at MAX_CHARS.

    NFKC folds full-width forms (３栋, ＡＢＣ); Chinese numbers before a unit become digits (三号楼 → 3号楼)
    so that addresses told either way match; filler that every appeal shares and long numbers (phones,
    order numbers) become boundaries, so no n-gram spans what was around them."""
    t = unicodedata.normalize("NFKC", text[: MAX_CHARS * 3]).lower()
    t = _CN_NUMBER_RE.sub(_cn_number, t)
    t = _LONG_NUMBER_RE.sub(" ", t)
    t = _FILLER_RE.sub(" ", t)
    out: list[str] = []
    left = MAX_CHARS
    for seg in _WORD_RE.findall(t):
        if left <= 0:
            break
        out.append(seg[:left])
        left -= len(seg)
    return out


def _grams(segments: Iterable[str]) -> set[str]:
    """Character 1-, 2- and 3-grams: Chinese has no spaces, and n-grams survive a word told differently,
    a typing error (路登 still shares 不亮 with 路灯不亮) and any word order."""
    grams: set[str] = set()
    for seg in segments:
        grams.update(seg)
        grams.update(seg[i : i + 2] for i in range(len(seg) - 1))
        grams.update(seg[i : i + 3] for i in range(len(seg) - 2))
    return grams


def _base_weight(gram: str) -> float:
    w = NGRAM_WEIGHT[min(len(gram), 3)]
    if all(c in _FUNCTION_CHARS for c in gram):
        w *= WEAK_WEIGHT
    return w


def _combine(common: FloatArray | float, sa: FloatArray | float, sb: FloatArray | float) -> FloatArray | float:
    """√(shared weight / (min^α · max^(1-α))) of the two texts' weights (Σ w² each).

    α = ½ is the cosine, which halves the score of a short report against the same matter told in a long
    letter with four other worries in it; α = 1 is containment in the shorter text, which lets a two-word
    report ("路灯坏了") match every long text that mentions a street light. LENGTH_ALPHA sits near 1.
    The square root only spreads the scale: two wordings of one matter share a tenth of their weight or
    so, which the root puts near 0.3–0.5, while the same text stays at 1 and nothing shared at 0."""
    lo = np.minimum(sa, sb)
    hi = np.maximum(sa, sb)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(lo > 0, common / (lo**LENGTH_ALPHA * hi ** (1 - LENGTH_ALPHA)), 0.0)
    return np.sqrt(np.clip(out, 0.0, 1.0))


def text_similarity(a: str, b: str) -> float:
    """0..1: how much two texts tell the same thing, from shared character n-grams.

    On its own (no candidate set to learn from) every n-gram counts by its length, function-character
    grams little; SimilarIndex weights them by IDF over its documents as well."""
    wa, sa = _profile(a)
    wb, sb = _profile(b)
    if not wa or not wb:
        return 0.0
    small, large = (wa, wb) if len(wa) <= len(wb) else (wb, wa)
    common = sum(w for g, w in small.items() if g in large)
    # _combine's formula on plain floats: intake scores every candidate one by one, and numpy's call
    # overhead on one number was most of a comparison's cost.
    lo, hi = min(sa, sb), max(sa, sb)
    return math.sqrt(min(1.0, max(0.0, common / (lo**LENGTH_ALPHA * hi ** (1 - LENGTH_ALPHA)))))


@functools.lru_cache(maxsize=PROFILES_KEPT)
def _profile(text: str) -> tuple[dict[str, float], float]:
    """A text's n-grams with their squared weights, and their sum. Kept for the last PROFILES_KEPT texts:
    intake compares each new appeal with the same open orders of its area again and again, and cutting
    a text into grams is most of a comparison's cost (bench/intake.py)."""
    w = {g: _base_weight(g) ** 2 for g in _grams(_segments(text))}
    return w, sum(w.values())


@dataclass(frozen=True)
class Doc:
    """An appeal as the matcher sees it: plain data, so this module needs no database."""

    id: int
    text: str  # title + description
    at: datetime.datetime  # aware
    place: str  # the grid's materialised path, e.g. "/1/4/9/23/"
    lat: float | None = None
    lng: float | None = None
    household: str = ""  # who reported (household or phone key), for counting distinct reporters
    category: str = ""  # may be "" (free text not yet classified)


def _path(place: str) -> tuple[str, ...]:
    return tuple(p for p in place.split("/") if p)


def _path_factor(pa: tuple[str, ...], pb: tuple[str, ...]) -> float:
    depth = 0
    for x, y in zip(pa, pb, strict=False):
        if x != y:
            break
        depth += 1
    if depth and depth == min(len(pa), len(pb)) and len(pa) != len(pb):
        depth += 1  # one is the other's ancestor: as near as we can tell, a level closer
    return PATH_FACTOR[min(depth, 4)]


def _distance_factor(d_m: FloatArray | float, radius_m: float) -> FloatArray | float:
    """1 when near, ½ at radius_m, ~0.06 at twice that: a smooth edge, as pins are a guess of the spot."""
    return 1.0 / (1.0 + (np.asarray(d_m) / radius_m) ** 4)


def _time_factor(days: FloatArray | float, window_days: float) -> FloatArray | float:
    """1 within days, ½ at window_days, ~0.01 at three times that: the same street's light reported three
    months later is most likely broken again, a new matter."""
    return 1.0 / (1.0 + (np.abs(np.asarray(days)) / window_days) ** 4)


def _haversine_m(lat1: FloatArray, lng1: FloatArray, lat2: FloatArray, lng2: FloatArray) -> FloatArray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lng2 - lng1)
    h = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return np.asarray(2 * 6_371_000 * np.arcsin(np.sqrt(np.minimum(h, 1.0))), dtype=np.float64)


def place_factor(a: Doc, b: Doc, *, radius_m: float = 500) -> float:
    """0..1: how much two appeals' places can be one spot. The distance when both carry coordinates
    (a pin is nearer the truth than the reporter's grid), else the depth of their common grid path."""
    if a.lat is not None and a.lng is not None and b.lat is not None and b.lng is not None:
        # _haversine_m and _distance_factor on plain floats (numpy's overhead on one pair is most of the cost)
        p1, p2 = math.radians(a.lat), math.radians(b.lat)
        h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(b.lng - a.lng) / 2) ** 2
        d = 2 * 6_371_000 * math.asin(math.sqrt(min(h, 1.0)))
        return 1.0 / (1.0 + (d / radius_m) ** 4)
    return _path_factor(_path(a.place), _path(b.place))


def _days(a: datetime.datetime, b: datetime.datetime) -> float:
    return abs((a - b).total_seconds()) / 86400


def category_factor(a: str, b: str) -> float:
    """CATEGORY_MATCH when both orders are classified alike, CATEGORY_MISMATCH when both are classified
    differently, 1 when either is not classified ("")."""
    if not a or not b:
        return 1.0
    return CATEGORY_MATCH if a == b else CATEGORY_MISMATCH


def same_problem_score(a: Doc, b: Doc, *, radius_m: float = 500, window_days: float = 30) -> float:
    """0..1: text similarity × place factor × time factor × category hint, capped at 1.

    A product, so place and time are gates: the same words 20 km away or three months apart are not the
    same problem, and the same grid or category is no reason by itself. The category is only a hint
    (×CATEGORY_MATCH or ×CATEGORY_MISMATCH, see the module docstring): orders filed under different
    categories still link when their texts, places and times agree well enough."""
    p = place_factor(a, b, radius_m=radius_m)
    if p <= 0:
        return 0.0
    t = 1.0 / (1.0 + (_days(a.at, b.at) / window_days) ** 4)  # _time_factor on a plain float
    rest = p * t * category_factor(a.category, b.category)
    if rest < MIN_REST:
        return 0.0  # whatever the words: too far, too long ago (and cheaper than reading them)
    return min(1.0, text_similarity(a.text, b.text) * rest)


def is_same_problem(a: Doc, b: Doc, *, threshold: float = THRESHOLD, **kw: float) -> bool:
    """Whether two appeals are one matter: same_problem_score >= THRESHOLD (kw: radius_m, window_days)."""
    return same_problem_score(a, b, **kw) >= threshold


class SimilarIndex:
    """Candidate appeals (e.g. an area's recent open orders) ready to answer "which of these is this one?".

    N-grams are weighted by IDF over the candidates, so what every appeal of the area says (the village's
    name, the hotline's boilerplate) counts for little and what only a few say (东头石桥, 马葫芦盖) for much.
    A query is one sparse product plus vectorised place and time factors."""

    def __init__(
        self,
        docs: Sequence[Doc],
        *,
        radius_m: float = 500,
        window_days: float = 30,
        threshold: float = THRESHOLD,
    ) -> None:
        self.docs = list(docs)
        self.radius_m, self.window_days, self.threshold = radius_m, window_days, threshold
        n = len(self.docs)
        grams = [_grams(_segments(d.text)) for d in self.docs]
        df: Counter[str] = Counter()
        for g in grams:
            df.update(g)
        self.vocab: dict[str, int] = {g: i for i, g in enumerate(df)}
        # Smoothed IDF (as scikit-learn's): never zero, and gentle when there are few candidates.
        self._unseen_idf = math.log(n + 1) + 1
        self.weight = np.array(
            [_base_weight(g) * (math.log((n + 1) / (df[g] + 1)) + 1) ** IDF_POWER for g in self.vocab],
            dtype=np.float64,
        )
        rows = np.repeat(np.arange(n), [len(g) for g in grams])
        cols = np.fromiter((self.vocab[x] for g in grams for x in g), dtype=np.int64, count=len(rows))
        self.matrix = sparse.csr_matrix(
            (self.weight[cols] ** 2, (rows, cols)), shape=(n, len(self.vocab)), dtype=np.float64
        )
        self._by_gram = self.matrix.tocsc()  # a query reads the columns of its n-grams
        self.mass = np.asarray(self.matrix.sum(axis=1)).ravel()  # Σ w² per doc
        self.ids = np.array([d.id for d in self.docs], dtype=np.int64)
        self.ts = np.array([d.at.timestamp() for d in self.docs], dtype=np.float64)
        self.has_ll = np.array([d.lat is not None and d.lng is not None for d in self.docs], dtype=bool)
        self.lat = np.array([d.lat if d.lat is not None else np.nan for d in self.docs], dtype=np.float64)
        self.lng = np.array([d.lng if d.lng is not None else np.nan for d in self.docs], dtype=np.float64)
        paths = [_path(d.place) for d in self.docs]
        self.depth = np.array([len(p) for p in paths], dtype=np.int64)
        cats: dict[str, int] = {"": 0}
        self.category = np.array([cats.setdefault(d.category, len(cats)) for d in self.docs], dtype=np.int64)
        self._categories = cats
        # The path prefix at each level as an integer, so a common depth is a few vectorised compares.
        intern: dict[tuple[str, ...], int] = {}
        self.prefix = np.full((n, 4), -1, dtype=np.int64)
        for i, p in enumerate(paths):
            for k in range(min(len(p), 4)):
                self.prefix[i, k] = intern.setdefault(p[: k + 1], len(intern) + 1)
        self._intern = intern

    def __len__(self) -> int:
        return len(self.docs)

    def _query_vector(self, text: str) -> tuple[npt.NDArray[np.int64], float]:
        """The columns of the text's known n-grams, and its Σ w² (unknown n-grams weigh as the rarest)."""
        idx: list[int] = []
        mass = 0.0
        for g in _grams(_segments(text)):
            i = self.vocab.get(g)
            if i is None:
                mass += (_base_weight(g) * self._unseen_idf**IDF_POWER) ** 2
            else:
                idx.append(i)
        cols = np.array(idx, dtype=np.int64)
        return cols, mass + float(np.sum(self.weight[cols] ** 2))

    def _place(self, doc: Doc, rows: npt.NDArray[np.int64] | slice) -> FloatArray:
        path = _path(doc.place)
        qp = np.array([self._intern.get(path[: k + 1], -2) for k in range(4)], dtype=np.int64)
        same = self.prefix[rows] == qp  # prefix chains: equal at depth k implies equal above it
        depth = np.cumprod(same, axis=1).sum(axis=1)
        ancestor = (depth > 0) & (depth == np.minimum(self.depth[rows], len(path))) & (self.depth[rows] != len(path))
        depth = np.minimum(depth + ancestor, 4)
        table = np.array([PATH_FACTOR[k] for k in range(5)])
        out = table[depth]
        if doc.lat is not None and doc.lng is not None:
            ll = self.has_ll[rows]
            if ll.any():
                d = _haversine_m(np.full(int(ll.sum()), doc.lat), np.full(int(ll.sum()), doc.lng),
                                 self.lat[rows][ll], self.lng[rows][ll])  # fmt: skip
                out[ll] = _distance_factor(d, self.radius_m)
        return np.asarray(out, dtype=np.float64)

    def scores(self, doc: Doc) -> tuple[npt.NDArray[np.int64], FloatArray]:
        """(row numbers, scores) of every candidate that shares any n-gram with the doc (itself included)."""
        idx, mass = self._query_vector(doc.text)
        if not len(idx) or not len(self.docs):
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        # Σ over shared grams of w²: the matrix holds w² already, so a sum over the query's columns.
        common = np.asarray(self._by_gram[:, idx].sum(axis=1), dtype=np.float64).ravel()
        rows = np.flatnonzero(common > 0)
        t = _combine(common[rows], self.mass[rows], mass)
        days = np.abs(self.ts[rows] - doc.at.timestamp()) / 86400
        s = np.asarray(t, dtype=np.float64) * self._place(doc, rows) * _time_factor(days, self.window_days)
        s = np.minimum(s * self._category_factor(doc.category, rows), 1.0)
        return rows, np.asarray(s, dtype=np.float64)

    def _category_factor(self, category: str, rows: npt.NDArray[np.int64]) -> FloatArray:
        """category_factor of the doc's category against the candidates' (0 = not classified)."""
        other = self.category[rows]
        if not category:
            return np.ones(len(other), dtype=np.float64)
        mine = self._categories.get(category, -1)
        hint = np.where(other == mine, CATEGORY_MATCH, CATEGORY_MISMATCH)
        return np.asarray(np.where(other == 0, 1.0, hint), dtype=np.float64)

    def query(self, doc: Doc, k: int = 10) -> list[tuple[int, float]]:
        """(doc id, score) of up to k candidates at or above the threshold, best first, never doc itself."""
        rows, s = self.scores(doc)
        keep = (s >= self.threshold) & (self.ids[rows] != doc.id)
        rows, s = rows[keep], s[keep]
        if len(s) > k:
            top = np.argpartition(-s, k)[:k]
            rows, s = rows[top], s[top]
        order = np.lexsort((self.ids[rows], -s))
        return [(int(self.ids[rows[i]]), float(s[i])) for i in order]


@dataclass(frozen=True)
class Cluster:
    """A hot topic: appeals about one matter (text and place), who raised it and when."""

    ids: tuple[int, ...]
    keywords: tuple[str, ...]  # a few distinctive n-grams that name the matter, for a human
    place: str  # the deepest common path prefix of its docs
    first: datetime.datetime
    last: datetime.datetime
    households: int
    reports: tuple[tuple[datetime.datetime, str], ...] = field(default=(), repr=False)  # (at, reporter key)

    def trend(self, now: datetime.datetime, days: int = 7) -> list[int]:
        """Reports per calendar day (in now's time zone) over the last `days` days, oldest first, today last."""
        today = now.date()
        counts = [0] * days
        for at, _ in self.reports:
            if at > now:
                continue
            ago = (today - at.astimezone(now.tzinfo).date()).days
            if 0 <= ago < days:
                counts[days - 1 - ago] += 1
        return counts


def rising(cl: Cluster, *, now: datetime.datetime, households: int, days: int) -> bool:
    """Whether at least `households` distinct reporters raised the matter within the last `days` days."""
    since = now - datetime.timedelta(days=days)
    return len({who for at, who in cl.reports if since < at <= now}) >= households


def _reporter(d: Doc) -> str:
    # Unknown reporter: count the appeal as its own (a hotline call without a number is still a person).
    return d.household or f"#{d.id}"


def _common_prefix(paths: Iterable[str]) -> str:
    parts = [_path(p) for p in paths]
    if not parts:
        return ""
    common: list[str] = []
    for level in zip(*parts, strict=False):
        if any(x != level[0] for x in level):
            break
        common.append(level[0])
    return "/" + "/".join(common) + "/" if common else "/"


def _keywords(index: SimilarIndex, rows: Sequence[int], k: int = 4) -> tuple[str, ...]:
    """Phrases most of the cluster says and few other candidates do: 2–3-grams by (share of the cluster's
    docs × IDF), each grown to the longest phrase (≤ 6 chars) nearly as many of the docs share."""
    texts = ["/".join(_segments(index.docs[r].text[:600]))[:200] for r in rows[:50]]
    n = len(texts)
    cdf: Counter[str] = Counter()
    for t in texts:
        cdf.update({t[i : i + m] for m in (2, 3) for i in range(len(t) - m + 1) if "/" not in t[i : i + m]})
    scored = []
    for g, c in cdf.items():
        if c < max(2, math.ceil(0.3 * n)) or g.isdigit() or all(ch in _FUNCTION_CHARS for ch in g):
            continue
        j = index.vocab.get(g)
        idf = index.weight[j] / _base_weight(g) if j is not None else index._unseen_idf**IDF_POWER
        scored.append((c / n * idf * len(g), g, c))
    scored.sort(reverse=True)
    chosen: list[str] = []
    for _, g, c in scored:
        if len(chosen) >= k:
            break
        if any(g in x or x in g for x in chosen):
            continue
        phrase = g
        for longer in range(len(g) + 1, 7):
            ext: Counter[str] = Counter()
            for t in texts:
                ext.update({
                    t[i : i + longer]
                    for i in range(max(0, t.find(phrase) - (longer - len(phrase))), len(t) - longer + 1)
                    if phrase in t[i : i + longer] and "/" not in t[i : i + longer]
                } if phrase in t else set())  # fmt: skip
            best = ext.most_common(1)
            if not best or best[0][1] < 0.8 * c:
                break
            phrase = best[0][0]
        if not any(phrase in x or x in phrase for x in chosen):
            chosen.append(phrase)
    return tuple(chosen)


def _pairwise(index: SimilarIndex) -> FloatArray:
    """The full score matrix of an index's docs (dense: blocks stay a few thousand docs)."""
    n = len(index)
    # Σ w² over the n-grams two docs share: the matrix (w²) times the other's pattern (1 where present);
    # matrix @ matrix.T would sum w⁴.
    pattern = index.matrix.copy()
    pattern.data[:] = 1.0
    common = (index.matrix @ pattern.T).toarray()
    t = _combine(common, index.mass[:, None], index.mass[None, :])
    days = np.abs(index.ts[:, None] - index.ts[None, :]) / 86400
    s = np.asarray(t, dtype=np.float64) * _time_factor(days, index.window_days)
    place = np.empty((n, n), dtype=np.float64)
    for i, d in enumerate(index.docs):
        place[i] = index._place(d, slice(None))
    c = index.category
    known = (c[:, None] != 0) & (c[None, :] != 0)
    hint = np.where(known, np.where(c[:, None] == c[None, :], CATEGORY_MATCH, CATEGORY_MISMATCH), 1.0)
    return np.asarray(np.minimum(s * place * hint, 1.0), dtype=np.float64)


MAX_BLOCK = 4000  # docs clustered at once (a dense n² matrix); larger sets are split by town, then village


def _blocks(docs: Sequence[Doc]) -> list[list[Doc]]:
    """Split by town (then village) when there are too many docs for one dense matrix: two appeals of
    different towns score at most PATH_FACTOR[1] × 1, below any useful threshold, unless their pins are
    close across a border — the one case blocking loses."""
    out: list[list[Doc]] = []
    todo: list[tuple[list[Doc], int]] = [(list(docs), 2)]
    while todo:
        group, depth = todo.pop()
        if len(group) <= MAX_BLOCK or depth > 4:
            out.append(group)
            continue
        by: defaultdict[tuple[str, ...], list[Doc]] = defaultdict(list)
        for d in group:
            by[_path(d.place)[:depth]].append(d)
        if len(by) == 1:
            out.append(group)
            continue
        todo.extend((g, depth + 1) for g in by.values())
    return out


def clusters(
    docs: Sequence[Doc],
    *,
    min_size: int = 2,
    threshold: float = CLUSTER_THRESHOLD,
    radius_m: float = 500,
    window_days: float = 30,
    min_households: int = 1,
) -> list[Cluster]:
    """Group same-problem appeals: average-linkage agglomeration on the combined score, cut at `threshold`.

    Average linkage merges two groups only when their appeals score well *on average*, so a chain of
    look-alikes (the street lights of one street, house by house) does not snowball into one topic as
    single-link (connected components) would. Biggest first (distinct reporters, then appeals, then the
    latest)."""
    out: list[Cluster] = []
    for block in _blocks(docs):
        if len(block) < min_size:
            continue
        index = SimilarIndex(block, radius_m=radius_m, window_days=window_days, threshold=threshold)
        if len(block) == 1:
            labels = np.array([1])
        else:
            dist = 1.0 - _pairwise(index)
            np.fill_diagonal(dist, 0.0)
            dist = np.clip((dist + dist.T) / 2, 0.0, 1.0)
            z = hierarchy.linkage(squareform(dist, checks=False), method="average")
            labels = hierarchy.fcluster(z, t=1.0 - threshold, criterion="distance")
        members: defaultdict[int, list[int]] = defaultdict(list)
        for row, lab in enumerate(labels):
            members[int(lab)].append(row)
        for rows in members.values():
            if len(rows) < min_size:
                continue
            ds = sorted((index.docs[r] for r in rows), key=lambda d: (d.at, d.id))
            reports = tuple((d.at, _reporter(d)) for d in ds)
            households = len({who for _, who in reports})
            if households < min_households:
                continue
            rows_by_time = sorted(rows, key=lambda r: index.ts[r])
            out.append(
                Cluster(
                    ids=tuple(d.id for d in ds),
                    keywords=_keywords(index, rows_by_time),
                    place=_common_prefix(d.place for d in ds),
                    first=ds[0].at,
                    last=ds[-1].at,
                    households=households,
                    reports=reports,
                )
            )
    out.sort(key=lambda c: (-c.households, -len(c.ids), -c.last.timestamp()))
    return out
