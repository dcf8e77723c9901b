import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from triage import services as triage
from workorders.services.routing import setting, training_rows


class Command(BaseCommand):
    help = (
        "Train the smart-dispatch text model on this county's decided appeals (the final category and handling "
        "unit after returns, transfers and corrections), measure it on a held-back share, and make it the "
        "current model of every process (no restart). The last line printed is the evaluation as JSON."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--limit", type=int, default=None, help="At most this many of the newest appeals.")
        parser.add_argument("--holdout", type=float, default=0.1, help="Share held back to measure the model.")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--dry-run", action="store_true", help="Train and measure, but keep the current model.")

    def handle(self, *args: Any, **opts: Any) -> None:
        if not 0 <= opts["holdout"] < 0.9:
            raise CommandError(_("--holdout is a share between 0 and 0.9."))
        started = time.perf_counter()
        rows = list(training_rows(limit=opts["limit"]))
        least = setting("TRAIN_MIN_ORDERS")
        if len(rows) < least:
            raise CommandError(
                _("Only %(n)s decided appeals to learn from; at least %(least)s are needed.")
                % {"n": len(rows), "least": least}
            )
        if len({r[1] for r in rows}) < 2:
            raise CommandError(_("All these appeals are in one category: there is nothing to tell apart."))
        try:
            trained = triage.train(rows, holdout=opts["holdout"], seed=opts["seed"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        report = trained.report | {"seconds": round(time.perf_counter() - started, 1)}
        if opts["dry_run"]:
            self.stdout.write(_("Dry run: the current model is unchanged."))
        else:
            stored = triage.classifier_store(trained=trained, orders=len(rows), by="dispatch_train")
            report["version"] = stored.pk
            self.stdout.write(_("Model v%(v)s is now current.") % {"v": stored.pk})
        self.stdout.write(json.dumps(report, ensure_ascii=False))
