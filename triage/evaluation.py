"""How well a text model would dispatch a county's appeals, measured on its own closed orders.

The figures a county needs to decide whether to switch smart dispatch on: macro-F1 (every label counts
the same, so the rare categories are not hidden behind the common ones), accuracy, F1 per label, and —
what decides how much work it saves — the share of appeals that could be dispatched automatically at a
given precision, with the confidence threshold that achieves it.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from typing import Any

from triage.text import TextModel

PRECISIONS: tuple[float, ...] = (0.90, 0.95)


def accuracy(true: Sequence[str], predicted: Sequence[str]) -> float:
    """The share of predictions that are right (0.0 for no items)."""
    _check_pairs(true, predicted)
    if not true:
        return 0.0
    return sum(a == b for a, b in zip(true, predicted, strict=True)) / len(true)


def per_label_f1(true: Sequence[str], predicted: Sequence[str]) -> dict[str, float]:
    """F1 of each label that occurs in either list (a label never right scores 0.0)."""
    from sklearn.metrics import f1_score

    _check_pairs(true, predicted)
    labels = sorted(set(true) | set(predicted))
    if not labels:
        return {}
    scores = f1_score(list(true), list(predicted), labels=labels, average=None, zero_division=0.0)
    return {label: float(s) for label, s in zip(labels, scores, strict=True)}


def macro_f1(true: Sequence[str], predicted: Sequence[str]) -> float:
    """The unweighted mean of per_label_f1 over the labels in either list (0.0 for no items)."""
    scores = per_label_f1(true, predicted)
    return sum(scores.values()) / len(scores) if scores else 0.0


def _curve(correct: Sequence[bool], confidence: Sequence[float], precision: float) -> tuple[float, float | None]:
    """(coverage, threshold) of the lowest threshold whose accepted items reach the precision.

    Items are accepted by `confidence >= threshold`, so items of equal confidence are accepted or refused
    together: a threshold can only sit at one of the confidences, never between two equal ones. Of the
    candidate thresholds, the one accepting the most items while keeping precision ≥ the target wins."""
    if len(correct) != len(confidence):
        raise ValueError(f"{len(correct)} outcomes but {len(confidence)} confidences")
    if not correct:
        return 0.0, None
    order = sorted(range(len(correct)), key=lambda i: -confidence[i])
    best: tuple[float, float | None] = (0.0, None)
    right = 0
    for rank, i in enumerate(order, start=1):
        right += bool(correct[i])
        at_tie_end = rank == len(order) or confidence[order[rank]] != confidence[i]
        if at_tie_end and right >= precision * rank - 1e-9:
            best = (rank / len(order), float(confidence[i]))
    return best


def coverage_at_precision(correct: Sequence[bool], confidence: Sequence[float], precision: float) -> float:
    """The largest share of items that can be auto-accepted (every item with confidence ≥ some threshold)
    with at least `precision` of the accepted ones right; 0.0 if no threshold reaches it.

    Ties: items with the same confidence are all accepted or all refused (see _curve). Example: confidences
    [0.9, 0.8, 0.7, 0.6], correct [T, T, F, T] at 0.90 → 0.5 (accept ≥ 0.8: 2 of 2 right; ≥ 0.6 would be
    3 of 4)."""
    return _curve(correct, confidence, precision)[0]


def threshold_at_precision(correct: Sequence[bool], confidence: Sequence[float], precision: float) -> float | None:
    """The confidence threshold that coverage_at_precision accepts at, or None if none reaches it."""
    return _curve(correct, confidence, precision)[1]


def _check_pairs(true: Sequence[str], predicted: Sequence[str]) -> None:
    if len(true) != len(predicted):
        raise ValueError(f"{len(true)} true labels but {len(predicted)} predictions")


def _key(precision: float) -> str:
    return f"{precision:.2f}"


def _scores(true: Sequence[str], predicted: Sequence[str], confidence: Sequence[float]) -> dict[str, Any]:
    correct = [a == b for a, b in zip(true, predicted, strict=True)]
    thresholds = {_key(p): threshold_at_precision(correct, confidence, p) for p in PRECISIONS}
    return {
        "macro_f1": round(macro_f1(true, predicted), 4),
        "accuracy": round(accuracy(true, predicted), 4),
        "per_label_f1": {k: round(v, 4) for k, v in per_label_f1(true, predicted).items()},
        "coverage_at_precision": {_key(p): round(coverage_at_precision(correct, confidence, p), 4) for p in PRECISIONS},
        "thresholds_at_precision": {k: None if v is None else round(v, 4) for k, v in thresholds.items()},
    }


def holdout(
    train_texts: Sequence[str],
    train_labels: Sequence[str],
    test_texts: Sequence[str],
    test_labels: Sequence[str],
    *,
    seed: int = 0,
) -> dict[str, Any]:
    """Train on one set, score on the other. A test label the training never saw cannot be predicted:
    its items count as errors and it scores F1 0.0."""
    if len(test_texts) != len(test_labels):
        raise ValueError(f"{len(test_texts)} test texts but {len(test_labels)} test labels")
    if not test_texts:
        raise ValueError("no test texts")
    model = TextModel.fit(train_texts, train_labels, seed=seed)
    predicted, confidence = model.predict_many(test_texts)
    test = [str(x) for x in test_labels]
    report = _scores(test, predicted, confidence)
    unseen = sorted(set(test) - set(model.labels))
    report.update(
        {
            "n_train": len(train_texts),
            "n_test": len(test_texts),
            "labels": len(set(test) | set(model.labels)),
            "labels_unseen_in_training": unseen,
            "model": model.info,
        }
    )
    return report


def smallest_labels(labels: Sequence[str], below: int) -> list[tuple[str, int]]:
    """The labels with fewer than `below` items, rarest first (what stratified folds cannot split)."""
    return sorted(((label, n) for label, n in Counter(labels).items() if n < below), key=lambda x: (x[1], x[0]))


def cross_validate(
    texts: Sequence[str], labels: Sequence[str], folds: int = 5, repeats: int = 1, seed: int = 0
) -> dict[str, Any]:
    """Repeated stratified k-fold: each repeat predicts every item once from a model that did not see it.

    macro-F1, accuracy and F1 per label are computed on each repeat's predictions and averaged over the
    repeats (macro_f1_std gives their spread); coverage and thresholds come from all repeats' predictions
    pooled, since a county configures one threshold. n_train is the size of one training fold."""
    from sklearn.model_selection import RepeatedStratifiedKFold

    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    if folds < 2 or repeats < 1:
        raise ValueError("cross-validation needs at least 2 folds and 1 repeat")
    labels = [str(x) for x in labels]
    if len(set(labels)) < 2:
        raise ValueError("cross-validation needs at least two labels")
    rare = smallest_labels(labels, folds)
    if rare:
        label, n = rare[0]
        raise ValueError(f"label {label!r} has {n} items, fewer than the {folds} folds")
    splitter = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
    splits = list(splitter.split(texts, labels))
    runs: list[dict[str, Any]] = []
    pooled_correct: list[bool] = []
    pooled_confidence: list[float] = []
    for r in range(repeats):
        predicted = [""] * len(texts)
        confidence = [0.0] * len(texts)
        for train, test in splits[r * folds : (r + 1) * folds]:
            model = TextModel.fit([texts[i] for i in train], [labels[i] for i in train], seed=seed + r)
            best, conf = model.predict_many([texts[i] for i in test])
            for i, b, c in zip(test, best, conf, strict=True):
                predicted[i] = b
                confidence[i] = c
        runs.append({"macro_f1": macro_f1(labels, predicted), "accuracy": accuracy(labels, predicted),
                     "per_label_f1": per_label_f1(labels, predicted)})  # fmt: skip
        pooled_correct.extend(a == b for a, b in zip(labels, predicted, strict=True))
        pooled_confidence.extend(confidence)
    every_label = sorted({label for run in runs for label in run["per_label_f1"]})
    macro = [run["macro_f1"] for run in runs]
    return {
        "macro_f1": round(statistics.fmean(macro), 4),
        "macro_f1_std": round(statistics.pstdev(macro), 4),
        "accuracy": round(statistics.fmean(run["accuracy"] for run in runs), 4),
        "per_label_f1": {
            label: round(statistics.fmean(run["per_label_f1"].get(label, 0.0) for run in runs), 4)
            for label in every_label
        },
        "coverage_at_precision": {
            _key(p): round(coverage_at_precision(pooled_correct, pooled_confidence, p), 4) for p in PRECISIONS
        },
        "thresholds_at_precision": {
            _key(p): _round(threshold_at_precision(pooled_correct, pooled_confidence, p)) for p in PRECISIONS
        },
        "n_train": len(splits[0][0]),
        "n_test": len(texts),
        "labels": len(set(labels)),
        "folds": folds,
        "repeats": repeats,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
