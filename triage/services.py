"""Training, storing and asking the text models of smart dispatch.

`train` learns two heads from (text, category code, unit label) rows — the category and the handling unit
— and measures them on a share of the rows it holds back; `classifier_store` keeps the result as the
current version; `guess` asks the current version, which every process keeps in memory (core.memo
"triage") and reloads when another process stores a new one.

A unit label is "dept:<department id>" or "level:<4|5|6>": the town, village or grid where the order is
located. Labels are plain strings here; workorders turns them into departments and nodes.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.db import transaction

from core.clock import now
from core.memo import bump, memo
from triage import evaluation
from triage.models import Classifier
from triage.text import TextModel

GENERATION = "triage"


@dataclass(frozen=True)
class Guess:
    """What the current model says of one text."""

    version: int
    category: str
    category_confidence: float
    unit: str
    unit_confidence: float


@dataclass(frozen=True)
class Loaded:
    version: int
    category: TextModel
    unit: TextModel | None


@dataclass(frozen=True)
class Trained:
    category: TextModel
    unit: TextModel | None
    report: dict


def _load() -> Loaded | None:
    row = Classifier.objects.filter(is_current=True).values_list("pk", "category_model", "unit_model").first()
    if row is None:
        return None
    pk, category, unit = row
    return Loaded(
        version=pk,
        category=TextModel.from_bytes(bytes(category)),
        unit=TextModel.from_bytes(bytes(unit)) if unit else None,
    )


def current() -> Loaded | None:
    """The current model as this process holds it (loaded once per version)."""
    return memo(GENERATION).get("current", _load)


def guess(text: str, *, parent: Callable[[str], str] | None = None, sure_at: float = 0.5) -> Guess | None:
    """The current model's best category and unit for `text`, or None when no model was trained yet.

    With `parent` (a label → its parent label, "" at the top): when the likeliest label is less than
    `sure_at` likely, the probabilities are added up by parent, level by level, and the first level with a
    label at least that likely is the guess ("民政, 70 %" says more than "高龄津贴, 12 %" among its three
    siblings); when no level gets there, the likeliest label. A county with many fine categories and few
    appeals in each gets the level its history can tell."""
    loaded = current()
    if loaded is None or not text.strip():
        return None
    ranked = loaded.category.predict(text, k=len(loaded.category.labels))
    category, c_conf = ranked[0]
    if parent is not None and c_conf < sure_at:
        probs = dict(ranked)
        while True:
            sums: dict[str, float] = defaultdict(float)
            for label, p in probs.items():
                up = parent(label)
                if up:
                    sums[up] += p
            if not sums:
                break
            best, p = max(sums.items(), key=lambda kv: kv[1])
            if p >= sure_at:
                category, c_conf = best, p
                break
            probs = sums
    unit, u_conf = ("", 0.0)
    if loaded.unit is not None:
        (unit, u_conf), *_ = loaded.unit.predict(text, k=1)
    return Guess(loaded.version, category, round(c_conf, 4), unit, round(u_conf, 4))


def _split(n: int, share: float, seed: int) -> tuple[list[int], list[int]]:
    order = list(range(n))
    random.Random(seed).shuffle(order)
    cut = int(n * share)
    return order[cut:], order[:cut]


def train(rows: Sequence[tuple[str, str, str]], *, holdout: float = 0.1, seed: int = 0) -> Trained:
    """Fit both heads on all but `holdout` of the rows (shuffled with `seed`) and measure them on the rest.

    The stored model is the one measured: the report says how this model did on orders it never saw.
    Rows without a unit label train the category head only. ValueError (with the reason) when the rows
    cannot make a model: too few, or a single category."""
    fit_idx, test_idx = _split(len(rows), holdout if len(rows) >= 20 else 0.0, seed)
    texts = [r[0] for r in rows]
    categories = [r[1] for r in rows]
    category = TextModel.fit([texts[i] for i in fit_idx], [categories[i] for i in fit_idx], seed=seed)
    unit_fit = [i for i in fit_idx if rows[i][2]]
    unit: TextModel | None = None
    if len({rows[i][2] for i in unit_fit}) >= 2:
        unit = TextModel.fit([texts[i] for i in unit_fit], [rows[i][2] for i in unit_fit], seed=seed)
    report: dict = {"orders": len(rows), "held_back": len(test_idx)}
    if test_idx:
        report["category"] = _measure(category, [texts[i] for i in test_idx], [categories[i] for i in test_idx])
        unit_test = [i for i in test_idx if rows[i][2]]
        if unit is not None and unit_test:
            report["unit"] = _measure(unit, [texts[i] for i in unit_test], [rows[i][2] for i in unit_test])
    return Trained(category, unit, report)


def _measure(model: TextModel, texts: list[str], truth: list[str]) -> dict:
    predicted, confidence = model.predict_many(texts)
    correct = [p == t for p, t in zip(predicted, truth, strict=True)]
    return {
        "accuracy": round(evaluation.accuracy(truth, predicted), 4),
        "macro_f1": round(evaluation.macro_f1(truth, predicted), 4),
        "coverage_at_precision": {
            f"{p:.2f}": round(evaluation.coverage_at_precision(correct, confidence, p), 4) for p in (0.90, 0.95)
        },
    }


@transaction.atomic
def classifier_store(*, trained: Trained, orders: int, by: str = "") -> Classifier:
    """Keep a trained model as the current version; every process loads it within a second or so."""
    Classifier.objects.filter(is_current=True).update(is_current=False)
    row = Classifier.objects.create(
        created_at=now(),
        orders=orders,
        category_model=trained.category.to_bytes(),
        unit_model=trained.unit.to_bytes() if trained.unit is not None else b"",
        report=trained.report,
        is_current=True,
        trained_by=by[:80],
    )
    bump(GENERATION)
    return row


@transaction.atomic
def classifier_activate(*, version: int) -> Classifier:
    """Go back (or forward) to a stored version."""
    row = Classifier.objects.select_for_update().get(pk=version)
    Classifier.objects.filter(is_current=True).exclude(pk=version).update(is_current=False)
    if not row.is_current:
        Classifier.objects.filter(pk=version).update(is_current=True)
        row.is_current = True
    bump(GENERATION)
    return row
