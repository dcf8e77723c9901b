"""`manage.py dispatch_eval`: how well smart dispatch would work on a county's own closed orders, before it
is switched on — from a CSV export, with no database and no work orders needed.

    manage.py dispatch_eval --train A.csv --test B.csv --text-col 诉求内容 --label-col 类别 [--title-col 标题]
    manage.py dispatch_eval --csv A.csv --text-col 诉求内容 --label-col 类别 --cv 5 --repeats 5 [--seed 0]

The first form trains on one file and scores on the other (e.g. last year's orders against this quarter's);
the second is repeated stratified k-fold over one file. Progress and a summary go to stdout as lines of
text, and the last line is one JSON object with the figures (triage.evaluation's report plus the row
counts), for a script or a spreadsheet to pick up.
"""

from __future__ import annotations

import codecs
import csv
import json
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from triage import evaluation

# A 10,000-character appeal is far below this; the limit only stops a broken quote from swallowing a whole
# file into one field.
FIELD_SIZE_LIMIT = 1_000_000
# How many rare labels an error message names before it says "and N more".
NAMED_AT_MOST = 20


@dataclass(frozen=True)
class Rows:
    """The usable rows of one CSV file."""

    path: str
    texts: list[str]
    labels: list[str]
    skipped: int


def _column(header: list[str], name: str, path: str) -> int:
    try:
        return header.index(name.strip())
    except ValueError:
        raise CommandError(
            _('%(path)s has no column "%(column)s". Its header has these columns: %(columns)s')
            % {"path": path, "column": name, "columns": ", ".join(f'"{c}"' for c in header)}
        ) from None


def _first_bad_line(path: str) -> int:
    """The line (1-based, as an editor counts) of the first bytes that are not UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with open(path, "rb") as f:
        while chunk := f.read(1 << 16):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return line + chunk[: max(0, exc.start)].count(b"\n")
            line += chunk.count(b"\n")
    return line


def read_rows(path: str, *, text_col: str, label_col: str, title_col: str | None) -> Rows:
    """Stream the CSV once. A row whose text (title and text together) or label is blank is skipped and
    counted; a row with no cells at all (a blank line) is not a row."""
    previous_limit = csv.field_size_limit()
    csv.field_size_limit(max(previous_limit, FIELD_SIZE_LIMIT))
    texts: list[str] = []
    labels: list[str] = []
    skipped = 0
    line = 0  # lines read so far: a csv.Error is in the record that starts on the next one
    try:
        # utf-8-sig: Excel's "CSV UTF-8" starts with a byte order mark, which would otherwise stick to the
        # first column's name.
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f)
            header = [c.strip() for c in next(reader, [])]
            line = reader.line_num
            if not any(header):
                raise CommandError(_("%(path)s is empty: it needs a header line and rows.") % {"path": path})
            text_at = _column(header, text_col, path)
            label_at = _column(header, label_col, path)
            title_at = _column(header, title_col, path) if title_col is not None else None
            for row in reader:
                line = reader.line_num
                if not row:
                    continue
                text = row[text_at].strip() if text_at < len(row) else ""
                if title_at is not None and title_at < len(row) and row[title_at].strip():
                    text = f"{row[title_at].strip()}\n{text}" if text else row[title_at].strip()
                label = row[label_at].strip() if label_at < len(row) else ""
                if not text or not label:
                    skipped += 1
                    continue
                texts.append(text)
                labels.append(label)
    except UnicodeDecodeError:
        raise CommandError(
            _(
                "%(path)s is not UTF-8 text: line %(line)s has bytes of another encoding. Save it again as "
                '"CSV UTF-8" (an export in GBK or GB18030, Excel\'s usual Chinese encoding, must be '
                "converted first)."
            )
            % {"path": path, "line": _first_bad_line(path)}
        ) from None
    except csv.Error as exc:
        raise CommandError(
            _("%(path)s is not a readable CSV file at line %(line)s: %(reason)s")
            % {"path": path, "line": line + 1, "reason": exc}
        ) from None
    except OSError as exc:
        raise CommandError(
            _("Cannot read %(path)s: %(reason)s") % {"path": path, "reason": exc.strerror or exc}
        ) from None
    finally:
        csv.field_size_limit(previous_limit)
    if not texts:
        if skipped:
            raise CommandError(
                _('%(path)s has no usable rows: all %(skipped)s rows have an empty "%(text)s" or "%(label)s".')
                % {"path": path, "skipped": skipped, "text": text_col, "label": label_col}
            )
        raise CommandError(_("%(path)s has a header but no rows.") % {"path": path})
    return Rows(path=path, texts=texts, labels=labels, skipped=skipped)


def _percent(x: float) -> str:
    return f"{x * 100:.1f}%"


class Command(BaseCommand):
    help = (
        "Measure how well smart dispatch's text classifier would dispatch a county's appeals, from a CSV "
        "export of closed orders: train on one file and test on another (--train/--test), or stratified "
        "k-fold cross-validation over one file (--csv --cv K --repeats R). The last line printed is JSON."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--csv", help="One file for cross-validation")
        parser.add_argument("--train", help="The training file (with --test)")
        parser.add_argument("--test", help="The test file (with --train)")
        parser.add_argument("--text-col", required=True, help="The column with the appeal's text")
        parser.add_argument("--label-col", required=True, help="The column with the right label (category)")
        parser.add_argument("--title-col", help="A title column, put before the text")
        parser.add_argument("--cv", type=int, help="Folds of cross-validation (default 5)")
        parser.add_argument("--repeats", type=int, help="Repeats of cross-validation (default 1)")
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args: Any, **opts: Any) -> None:
        started = time.monotonic()
        columns = {"text_col": opts["text_col"], "label_col": opts["label_col"], "title_col": opts["title_col"]}
        one, train, test = opts["csv"], opts["train"], opts["test"]
        if one and (train or test):
            raise CommandError(_("Give either --csv (cross-validation) or --train and --test (holdout), not both."))
        if not one and not (train and test):
            raise CommandError(_("Give either --csv (cross-validation) or both --train and --test (holdout)."))
        if one:
            folds = 5 if opts["cv"] is None else opts["cv"]
            repeats = 1 if opts["repeats"] is None else opts["repeats"]
            if folds < 2:
                raise CommandError(_("--cv must be at least 2 (it is %(n)s).") % {"n": folds})
            if repeats < 1:
                raise CommandError(_("--repeats must be at least 1 (it is %(n)s).") % {"n": repeats})
            report = self.cv(read_rows(one, **columns), folds=folds, repeats=repeats, seed=opts["seed"])
        else:
            if opts["cv"] is not None or opts["repeats"] is not None:
                raise CommandError(_("--cv and --repeats go with --csv, not with --train and --test."))
            report = self.holdout(read_rows(train, **columns), read_rows(test, **columns), seed=opts["seed"])
        report["seed"] = opts["seed"]
        report["seconds"] = round(time.monotonic() - started, 1)
        self.summary(report)
        self.stdout.write(json.dumps(report, ensure_ascii=False))

    def read_line(self, rows: Rows) -> None:
        self.stdout.write(
            _("%(path)s: %(rows)s rows, %(labels)s labels, %(skipped)s rows skipped (empty text or label).")
            % {"path": rows.path, "rows": len(rows.texts), "labels": len(set(rows.labels)), "skipped": rows.skipped}
        )

    def cv(self, rows: Rows, *, folds: int, repeats: int, seed: int) -> dict[str, Any]:
        self.read_line(rows)
        counts = Counter(rows.labels)
        if len(counts) < 2:
            raise CommandError(
                _('%(path)s has only one label ("%(label)s"): a classifier needs at least two.')
                % {"path": rows.path, "label": rows.labels[0]}
            )
        rare = evaluation.smallest_labels(rows.labels, folds)
        if rare:
            named = ", ".join(f'"{label}" ({n})' for label, n in rare[:NAMED_AT_MOST])
            if len(rare) > NAMED_AT_MOST:
                named += _(" and %(n)s more") % {"n": len(rare) - NAMED_AT_MOST}
            raise CommandError(
                _(
                    "Stratified folds need every label in each of the %(folds)s folds, and these labels have fewer "
                    "rows (label and rows): %(labels)s. Use fewer folds (--cv), or leave these labels out of the file."
                )
                % {"folds": folds, "labels": named}
            )
        self.stdout.write(
            _("Cross-validating: %(folds)s folds × %(repeats)s repeats, %(models)s models to train…")
            % {"folds": folds, "repeats": repeats, "models": folds * repeats}
        )
        self.stdout.flush()
        try:
            result = evaluation.cross_validate(rows.texts, rows.labels, folds=folds, repeats=repeats, seed=seed)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        return {
            "mode": "cv",
            "rows": len(rows.texts),
            "skipped": rows.skipped,
            "files": {"csv": rows.path},
            "label_rows": dict(sorted(counts.items())),
            **result,
        }

    def holdout(self, train: Rows, test: Rows, *, seed: int) -> dict[str, Any]:
        self.read_line(train)
        self.read_line(test)
        if len(set(train.labels)) < 2:
            raise CommandError(
                _('%(path)s has only one label ("%(label)s"): a classifier needs at least two.')
                % {"path": train.path, "label": train.labels[0]}
            )
        self.stdout.write(_("Training on %(n)s rows…") % {"n": len(train.texts)})
        self.stdout.flush()
        try:
            result = evaluation.holdout(train.texts, train.labels, test.texts, test.labels, seed=seed)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if result["labels_unseen_in_training"]:
            self.stdout.write(
                _("Labels in the test file that the training file lacks (counted as errors): %(labels)s")
                % {"labels": ", ".join(result["labels_unseen_in_training"])}
            )
        return {
            "mode": "holdout",
            "rows": len(train.texts) + len(test.texts),
            "skipped": train.skipped + test.skipped,
            "files": {"train": train.path, "test": test.path},
            "label_rows": dict(sorted(Counter(test.labels).items())),
            **result,
        }

    def summary(self, report: dict[str, Any]) -> None:
        spread = (
            _(" (± %(std)s over %(repeats)s repeats)")
            % {"std": f"{report['macro_f1_std']:.4f}", "repeats": report["repeats"]}
            if report["mode"] == "cv" and report["repeats"] > 1
            else ""
        )
        self.stdout.write(
            _("macro-F1 %(macro)s%(spread)s, accuracy %(accuracy)s, %(labels)s labels, in %(seconds)s s.")
            % {
                "macro": f"{report['macro_f1']:.4f}",
                "spread": spread,
                "accuracy": f"{report['accuracy']:.4f}",
                "labels": report["labels"],
                "seconds": report["seconds"],
            }
        )
        for key, coverage in report["coverage_at_precision"].items():
            threshold = report["thresholds_at_precision"].get(key)
            self.stdout.write(
                _(
                    "At %(precision)s precision, %(coverage)s of appeals could be dispatched automatically "
                    "(confidence threshold %(threshold)s)."
                )
                % {
                    "precision": _percent(float(key)),
                    "coverage": _percent(coverage),
                    "threshold": "—" if threshold is None else f"{threshold:.4f}",
                }
            )
        self.stdout.write(_("F1 per label, weakest first:"))
        rows = report["label_rows"]
        for label, f1 in sorted(report["per_label_f1"].items(), key=lambda x: (x[1], x[0])):
            self.stdout.write(f"  {f1:.4f}  {label}  ({rows.get(label, 0)})")
