"""Anonymise the personal fields of work orders closed more than PERSONAL_DATA_RETENTION_YEARS ago (0: never),
and prune the growing logs past their RETENTION_DAYS (privacy/retention.py). Run it daily (cron or
deploy/systemd/gongzhi-retention.timer); a run that finds nothing to do changes nothing."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils.translation import gettext as _

from privacy import retention
from privacy.conf import retention_years
from privacy.services import BATCH, anonymise_closed_orders


class Command(BaseCommand):
    help = "Prune the growing logs past their retention and anonymise closed work orders past theirs."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--years", type=int, default=None, help="override PERSONAL_DATA_RETENTION_YEARS")
        parser.add_argument("--batch", type=int, default=BATCH, help="orders per transaction")

    def handle(self, *args: Any, **options: Any) -> None:
        for kind, n in retention.prune().items():
            self.stdout.write(
                _("%(kind)s: %(n)s rows older than %(days)s days deleted")
                % {"kind": kind, "n": n, "days": retention.days(kind)}
            )
        years = options["years"] if options["years"] is not None else retention_years()
        if years <= 0:
            self.stdout.write(_("Retention is off (PERSONAL_DATA_RETENTION_YEARS=0): nothing anonymised."))
            return
        n = anonymise_closed_orders(years=years, batch=max(1, options["batch"]))
        self.stdout.write(
            _("%(n)s work orders anonymised (closed more than %(years)s years ago).") % {"n": n, "years": years}
        )
