"""How smart dispatch is measured (triage.evaluation) with figures worked out by hand, and the dispatch_eval
command a county runs on its own CSV export: both modes, the JSON it ends with, and a clear refusal of each
kind of bad file. None of this touches the database (pytest-django would refuse it: no django_db mark)."""

from __future__ import annotations

import csv
import json
from collections import Counter
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from triage import evaluation
from triage.evaluation import (
    accuracy,
    coverage_at_precision,
    cross_validate,
    macro_f1,
    per_label_f1,
    smallest_labels,
    threshold_at_precision,
)
from triage.tests.test_text import LABELS, OTHER_PLACES, dataset

# --- scores --------------------------------------------------------------------------------------------


def test_accuracy():
    assert accuracy(["a", "a", "b", "c"], ["a", "b", "b", "c"]) == 0.75
    assert accuracy([], []) == 0.0
    with pytest.raises(ValueError, match="2 true labels but 1 predictions"):
        accuracy(["a", "b"], ["a"])


def test_per_label_and_macro_f1():
    true = ["a", "a", "a", "b", "b", "c"]
    pred = ["a", "a", "b", "b", "c", "c"]
    # a: tp 2, fp 0, fn 1 → P 1, R 2/3, F1 0.8;  b: tp 1, fp 1, fn 1 → 0.5;  c: tp 1, fp 1, fn 0 → P ½, R 1, F1 ⅔.
    scores = per_label_f1(true, pred)
    assert scores == pytest.approx({"a": 0.8, "b": 0.5, "c": 2 / 3})
    assert macro_f1(true, pred) == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    # A label only predicted, and a label never predicted, both count and both score 0.
    assert per_label_f1(["a", "b"], ["a", "d"]) == {"a": 1.0, "b": 0.0, "d": 0.0}
    assert macro_f1(["a", "b"], ["a", "d"]) == pytest.approx(1 / 3)
    assert per_label_f1([], []) == {} and macro_f1([], []) == 0.0
    with pytest.raises(ValueError, match="1 true labels but 0 predictions"):
        per_label_f1(["a"], [])


def test_coverage_and_threshold_at_precision():
    conf = [0.9, 0.8, 0.7, 0.6]
    right = [True, True, False, True]
    # ≥ 0.8: 2 of 2 right; ≥ 0.7: 2 of 3; ≥ 0.6: 3 of 4.
    assert coverage_at_precision(right, conf, 0.90) == 0.5
    assert threshold_at_precision(right, conf, 0.90) == 0.8
    assert coverage_at_precision(right, conf, 0.75) == 1.0
    assert threshold_at_precision(right, conf, 0.75) == 0.6
    # The order of the items does not matter.
    assert coverage_at_precision(right[::-1], conf[::-1], 0.90) == 0.5
    # The lowest threshold that reaches the precision wins, even past thresholds that do not:
    # ≥ .9 1/1, ≥ .8 1/2, ≥ .7 2/3, ≥ .6 3/4, ≥ .5 4/5 = 0.8.
    conf = [0.9, 0.8, 0.7, 0.6, 0.5]
    right = [True, False, True, True, True]
    assert coverage_at_precision(right, conf, 0.8) == 1.0 and threshold_at_precision(right, conf, 0.8) == 0.5
    assert coverage_at_precision(right, conf, 0.9) == 0.2 and threshold_at_precision(right, conf, 0.9) == 0.9


def test_equal_confidences_are_accepted_or_refused_together():
    conf = [0.9, 0.8, 0.8, 0.5]
    right = [True, True, False, True]
    # ≥ 0.8 takes both 0.8s: 2 of 3. A threshold cannot take the right one and leave the wrong one.
    assert coverage_at_precision(right, conf, 0.9) == 0.25 and threshold_at_precision(right, conf, 0.9) == 0.9
    assert coverage_at_precision(right, conf, 0.6) == 1.0 and threshold_at_precision(right, conf, 0.6) == 0.5
    assert coverage_at_precision(right, conf, 2 / 3) == 1.0  # 3 of 4 at ≥ 0.5
    assert coverage_at_precision([False, True], [0.7, 0.7], 0.9) == 0.0


def test_no_threshold_reaches_the_precision():
    assert coverage_at_precision([False, False], [0.9, 0.1], 0.5) == 0.0
    assert threshold_at_precision([False, False], [0.9, 0.1], 0.5) is None
    assert coverage_at_precision([], [], 0.9) == 0.0 and threshold_at_precision([], [], 0.9) is None
    with pytest.raises(ValueError, match="2 outcomes but 1 confidences"):
        coverage_at_precision([True, False], [0.5], 0.9)


def test_smallest_labels():
    labels = ["c"] * 5 + ["b"] * 2 + ["a"] + ["d"] * 2 + ["e"] * 3
    assert smallest_labels(labels, 3) == [("a", 1), ("b", 2), ("d", 2)]
    assert smallest_labels(labels, 1) == []


# --- cross-validation and holdout, with a model whose answers are known ---------------------------------


class FakeModel:
    """Stands in for TextModel inside evaluation. A text is "<label><n>"; the model trained with seed 0 is
    right at confidence 0.9 (where it knows the label, else it says the first it knows), any other says "a" at
    0.6. Records what each fit and predict saw."""

    fits: list[tuple[list[str], list[str], int]] = []
    asked: list[list[str]] = []

    def __init__(self, labels: list[str], seed: int) -> None:
        self.labels = tuple(sorted(set(labels)))
        self.seed = seed
        self.info = {"fake": True}

    @classmethod
    def fit(cls, texts, labels, *, seed=0):
        cls.fits.append((list(texts), list(labels), seed))
        return cls(list(labels), seed)

    def predict_many(self, texts):
        FakeModel.asked.append(list(texts))
        if self.seed == 0:
            return [t[0] if t[0] in self.labels else self.labels[0] for t in texts], [0.9] * len(texts)
        return ["a"] * len(texts), [0.6] * len(texts)


@pytest.fixture
def fake(monkeypatch):
    FakeModel.fits = []
    FakeModel.asked = []
    monkeypatch.setattr(evaluation, "TextModel", FakeModel)
    return FakeModel


def test_cross_validation_folds_are_stratified(fake):
    texts = [f"{label}{i}" for label in "abc" for i in range(6)]
    labels = [t[0] for t in texts]
    report = cross_validate(texts, labels, folds=3, repeats=2, seed=0)
    assert len(fake.fits) == 6 and [seed for _, _, seed in fake.fits] == [0, 0, 0, 1, 1, 1]
    for train_texts, train_labels, _ in fake.fits:
        assert Counter(train_labels) == {"a": 4, "b": 4, "c": 4}
        assert [t[0] for t in train_texts] == train_labels
    for asked in fake.asked:
        assert Counter(t[0] for t in asked) == {"a": 2, "b": 2, "c": 2}
    # Each repeat predicts every item exactly once, from a model that did not see it.
    for r in range(2):
        tested = [t for asked in fake.asked[r * 3 : r * 3 + 3] for t in asked]
        assert sorted(tested) == sorted(texts)
        for (train_texts, _, _), asked in zip(fake.fits[r * 3 : r * 3 + 3], fake.asked[r * 3 : r * 3 + 3], strict=True):
            assert not set(train_texts) & set(asked)
    assert report["folds"] == 3 and report["repeats"] == 2 and report["n_train"] == 12 and report["labels"] == 3


def test_cross_validation_averages_repeats_and_pools_coverage(fake):
    texts = [f"{label}{i}" for label in "abc" for i in range(6)]
    report = cross_validate(texts, [t[0] for t in texts], folds=3, repeats=2, seed=0)
    # Repeat 0 is all right. Repeat 1 says "a" for everything: accuracy ⅓; F1 a = 2·(⅓·1)/(⅓+1) = ½, b = c = 0,
    # macro ⅙. Mean macro (1 + ⅙)/2 = 0.5833, population std (1 − ⅙)/2 = 0.4167.
    assert report["macro_f1"] == 0.5833 and report["macro_f1_std"] == 0.4167
    assert report["accuracy"] == 0.6667
    assert report["per_label_f1"] == {"a": 0.75, "b": 0.5, "c": 0.5}
    # Pooled: 18 right at 0.9, then 6 right of 18 at 0.6 → half can go automatically, at threshold 0.9.
    assert report["coverage_at_precision"] == {"0.90": 0.5, "0.95": 0.5}
    assert report["thresholds_at_precision"] == {"0.90": 0.9, "0.95": 0.9}


def test_cross_validation_refuses(fake):
    texts = [f"{label}{i}" for label in "ab" for i in range(3)] + ["c0", "c1"]
    labels = [t[0] for t in texts]
    with pytest.raises(ValueError, match="label 'c' has 2 items, fewer than the 3 folds"):
        cross_validate(texts, labels, folds=3)
    with pytest.raises(ValueError, match="at least 2 folds"):
        cross_validate(texts, labels, folds=1)
    with pytest.raises(ValueError, match="at least 2 folds and 1 repeat"):
        cross_validate(texts, labels, folds=2, repeats=0)
    with pytest.raises(ValueError, match="two labels"):
        cross_validate(["a0", "a1"], ["a", "a"], folds=2)
    with pytest.raises(ValueError, match="8 texts but 7 labels"):
        cross_validate(texts, labels[:-1], folds=2)
    assert fake.fits == []


def test_holdout_counts_a_label_the_training_never_saw(fake):
    report = evaluation.holdout(["a0", "b0"], ["a", "b"], ["a1", "b1", "z1", "z2"], ["a", "b", "z", "z"])
    # z1 and z2 come out as "a": a has P ⅓, R 1, F1 ½; b is right; z can never be.
    assert report["accuracy"] == 0.5
    assert report["per_label_f1"] == {"a": 0.5, "b": 1.0, "z": 0.0}
    assert report["macro_f1"] == 0.5
    assert report["labels_unseen_in_training"] == ["z"] and report["labels"] == 3
    assert report["n_train"] == 2 and report["n_test"] == 4 and report["model"] == {"fake": True}
    # Confidences are all 0.9: accepting any means accepting all, 2 of 4 right.
    assert report["coverage_at_precision"] == {"0.90": 0.0, "0.95": 0.0}
    assert report["thresholds_at_precision"] == {"0.90": None, "0.95": None}
    with pytest.raises(ValueError, match="no test texts"):
        evaluation.holdout(["a0", "b0"], ["a", "b"], [], [])


# --- the dispatch_eval command -------------------------------------------------------------------------

HEADER = ["编号", "标题", "诉求内容", "类别"]


def write(path, rows, *, header=HEADER, encoding="utf-8"):
    with open(path, "w", encoding=encoding, newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return str(path)


def export(path, per_label, seed, places=None, *, extra=(), **kw):
    """A county's export: number, an empty title, the appeal, the category."""
    texts, labels = dataset(per_label, seed, places) if places else dataset(per_label, seed)
    rows = [[f"No.{i}", "", t, label] for i, (t, label) in enumerate(zip(texts, labels, strict=True))]
    return write(path, rows + list(extra), **kw)


def run(*args):
    out = StringIO()
    with translation.override("en"):
        call_command("dispatch_eval", *args, stdout=out)
    lines = out.getvalue().rstrip("\n").split("\n")
    return lines[:-1], json.loads(lines[-1])


def refuse(*args) -> str:
    with translation.override("en"), pytest.raises(CommandError) as exc:
        call_command("dispatch_eval", *args, stdout=StringIO())
    return str(exc.value)


COLS = ("--text-col", "诉求内容", "--label-col", "类别")


def test_holdout(tmp_path):
    long = "幸福小区的自来水停了，" + "家里老人孩子都没水用，已经好几天了，" * 600
    extra = [["x1", "", "", "路灯"], ["x2", "", "路灯坏了", " "], ["x3", "", '多行的\n"引号"\n路灯不亮了', "路灯"]]
    train = export(tmp_path / "train.csv", 12, seed=1)
    test = export(tmp_path / "test.csv", 5, seed=2, places=OTHER_PLACES, extra=[*extra, ["x4", "", long, "供水"]])
    lines, report = run("--train", train, "--test", test, *COLS)
    assert report["mode"] == "holdout" and report["files"] == {"train": train, "test": test}
    assert report["rows"] == 96 + 42 and report["skipped"] == 2 and report["n_train"] == 96 and report["n_test"] == 42
    assert report["labels"] == 8 and sorted(report["per_label_f1"]) == LABELS
    assert report["label_rows"]["路灯"] == 6 and report["label_rows"]["供水"] == 6
    assert report["macro_f1"] >= 0.85 and report["accuracy"] >= 0.85
    assert all(0.0 <= f <= 1.0 for f in report["per_label_f1"].values())
    assert set(report["coverage_at_precision"]) == {"0.90", "0.95"}
    assert 0.0 < report["coverage_at_precision"]["0.95"] <= report["coverage_at_precision"]["0.90"] <= 1.0
    assert report["labels_unseen_in_training"] == [] and report["seed"] == 0
    text = "\n".join(lines)
    assert "96 rows, 8 labels, 0 rows skipped" in text and "42 rows, 8 labels, 2 rows skipped" in text
    assert "At 90.0% precision" in text and "F1 per label" in text


def test_cross_validation(tmp_path):
    path = export(tmp_path / "all.csv", 9, seed=3)
    lines, report = run("--csv", path, *COLS, "--cv", "3", "--repeats", "2", "--seed", "7")
    assert report["mode"] == "cv" and report["folds"] == 3 and report["repeats"] == 2 and report["seed"] == 7
    assert report["rows"] == 72 and report["n_train"] == 48 and report["labels"] == 8 and report["skipped"] == 0
    assert 0.5 <= report["macro_f1"] <= 1.0 and 0.0 <= report["macro_f1_std"] < 0.2
    assert 0.5 <= report["accuracy"] <= 1.0
    assert sorted(report["per_label_f1"]) == LABELS and set(report["coverage_at_precision"]) == {"0.90", "0.95"}
    assert any("3 folds × 2 repeats, 6 models" in line for line in lines)
    assert any("over 2 repeats" in line for line in lines)


def test_holdout_names_test_labels_the_training_lacks(tmp_path):
    train = export(tmp_path / "train.csv", 6, seed=1)
    test = export(
        tmp_path / "test.csv", 2, seed=2, extra=[["x1", "", "燃气泄漏了", "燃气"], ["x2", "", "煤气味", "燃气"]]
    )
    lines, report = run("--train", train, "--test", test, *COLS)
    assert report["labels_unseen_in_training"] == ["燃气"] and report["labels"] == 9
    assert report["per_label_f1"]["燃气"] == 0.0 and report["label_rows"]["燃气"] == 2
    assert any("the training file lacks" in line and "燃气" in line for line in lines)


def test_title_column_is_joined_to_the_text(tmp_path):
    """The text says nothing ("见标题"); the matter is in the title."""
    train_texts, train_labels = dataset(10, seed=1)
    test_texts, test_labels = dataset(4, seed=2, places=OTHER_PLACES)
    train = write(
        tmp_path / "train.csv",
        [[i, t, "见标题", y] for i, (t, y) in enumerate(zip(train_texts, train_labels, strict=True))],
    )
    test = write(
        tmp_path / "test.csv",
        [[i, t, "见标题", y] for i, (t, y) in enumerate(zip(test_texts, test_labels, strict=True))],
    )
    _, with_title = run("--train", train, "--test", test, *COLS, "--title-col", "标题")
    _, without = run("--train", train, "--test", test, *COLS)
    assert with_title["accuracy"] >= 0.85
    assert without["accuracy"] <= 0.25  # every text the same: one label for all
    # A title alone is an appeal; nothing at all is skipped.
    rows = [["1", "路灯坏了", "", "路灯"], ["2", "", "", "路灯"], ["3", "垃圾没人清运", "见标题", "垃圾"]]
    rows += [[str(i), t, "", y] for i, (t, y) in enumerate(zip(train_texts, train_labels, strict=True), start=4)]
    _, report = run("--csv", write(tmp_path / "titles.csv", rows), *COLS, "--title-col", "标题", "--cv", "2")
    assert report["rows"] == 82 and report["skipped"] == 1


def test_a_file_with_a_byte_order_mark(tmp_path):
    """Excel's "CSV UTF-8" starts with a BOM, which must not stick to the first column's name."""
    texts, labels = dataset(4, seed=5)
    path = write(
        tmp_path / "bom.csv", zip(texts, labels, strict=True), header=["诉求内容", "类别"], encoding="utf-8-sig"
    )
    with open(path, "rb") as f:
        assert f.read(3) == b"\xef\xbb\xbf"
    _, report = run("--csv", path, *COLS, "--cv", "2")
    assert report["rows"] == 32 and report["labels"] == 8


def test_a_missing_column_is_named_with_the_header(tmp_path):
    path = export(tmp_path / "a.csv", 3, seed=1)
    message = refuse("--csv", path, "--text-col", "内容", "--label-col", "类别")
    assert '"内容"' in message and '"编号", "标题", "诉求内容", "类别"' in message
    message = refuse("--csv", path, *COLS, "--title-col", "主题")
    assert '"主题"' in message and '"诉求内容"' in message


def test_an_empty_file_a_header_only_and_no_usable_rows(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert "is empty" in refuse("--csv", str(empty), *COLS)
    bom_only = tmp_path / "bom_only.csv"
    bom_only.write_bytes(b"\xef\xbb\xbf\r\n")
    assert "is empty" in refuse("--csv", str(bom_only), *COLS)
    header_only = write(tmp_path / "header.csv", [])
    assert "header but no rows" in refuse("--csv", header_only, *COLS)
    blanks = write(tmp_path / "blanks.csv", [["1", "", "", "路灯"], ["2", "", "路灯坏了", ""]])
    message = refuse("--csv", blanks, *COLS)
    assert "no usable rows" in message and "2 rows" in message and '"诉求内容"' in message


def test_a_label_with_fewer_rows_than_folds_is_named(tmp_path):
    rows = [["1", "", "燃气泄漏了", "燃气"], ["2", "", "煤气味很重", "燃气"], ["3", "", "宠物狗乱叫", "养犬"]]
    path = export(tmp_path / "a.csv", 5, seed=1, extra=rows)
    message = refuse("--csv", path, *COLS, "--cv", "5")
    assert '"养犬" (1), "燃气" (2)' in message and "5 folds" in message
    message = refuse("--csv", path, *COLS, "--cv", "2")
    assert '"养犬" (1)' in message and "燃气" not in message and "2 folds" in message


def test_a_file_that_is_not_utf8(tmp_path):
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes("诉求内容,类别\n路灯坏了,路灯\n".encode("gb18030"))
    message = refuse("--csv", str(gbk), *COLS)
    assert "is not UTF-8" in message and "line 1" in message and "CSV UTF-8" in message
    # A UTF-8 file with one bad row further down names that row's line.
    path = export(tmp_path / "late.csv", 3, seed=1)
    with open(path, "ab") as f:
        f.write("99,,垃圾没人清运,垃圾\n".encode("gbk"))
    assert "line 26" in refuse("--csv", path, *COLS)


def test_a_runaway_field_is_refused_and_the_csv_limit_restored(tmp_path):
    """A 10,000-character appeal reads; an unclosed quote that swallows a megabyte does not."""
    limit = csv.field_size_limit()
    path = export(tmp_path / "a.csv", 3, seed=1, extra=[["x", "", "路灯" * 5000, "路灯"]])
    _, report = run("--csv", path, *COLS, "--cv", "2")
    assert report["rows"] == 25
    with open(path, "a", encoding="utf-8") as f:
        f.write('99,,"' + "垃圾" * 600_000 + "\n")
    message = refuse("--csv", path, *COLS)
    assert "not a readable CSV file at line 27" in message and "field larger than field limit" in message
    assert csv.field_size_limit() == limit


def test_file_missing_or_unreadable(tmp_path):
    message = refuse("--csv", str(tmp_path / "nowhere.csv"), *COLS)
    assert "Cannot read" in message and "nowhere.csv" in message
    assert "Cannot read" in refuse("--csv", str(tmp_path), *COLS)


def test_only_one_label(tmp_path):
    path = write(tmp_path / "one.csv", [[str(i), "", f"路灯坏了{i}", "路灯"] for i in range(10)])
    assert 'only one label ("路灯")' in refuse("--csv", path, *COLS)
    assert 'only one label ("路灯")' in refuse("--train", path, "--test", path, *COLS)


def test_the_arguments(tmp_path):
    path = export(tmp_path / "a.csv", 3, seed=1)
    assert "at least 2" in refuse("--csv", path, *COLS, "--cv", "1")
    assert "--repeats must be at least 1" in refuse("--csv", path, *COLS, "--repeats", "0")
    assert "not both" in refuse("--csv", path, "--train", path, "--test", path, *COLS)
    assert "either --csv" in refuse(*COLS)
    assert "either --csv" in refuse("--train", path, *COLS)
    assert "go with --csv" in refuse("--train", path, "--test", path, *COLS, "--cv", "3")
