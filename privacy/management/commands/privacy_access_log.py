"""Export the personal-data access log of a period as CSV for an audit (all of it: this is the server's
operator, not a user of the site)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from core.models import PersonalDataAccess
from privacy import export
from privacy.selectors import access_log_rows


def _day(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(_("Not a date (YYYY-MM-DD): %(value)s") % {"value": value}) from exc


class Command(BaseCommand):
    help = "Export the personal-data access log of --from … --to (days, both included) as CSV."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="start", required=True, help="first day, YYYY-MM-DD")
        parser.add_argument("--to", dest="end", required=True, help="last day, YYYY-MM-DD")
        parser.add_argument("--output", default="-", help="file to write (default: standard output)")

    def handle(self, *args: Any, **options: Any) -> None:
        start, end = _day(options["start"]), _day(options["end"])
        if start > end:
            raise CommandError(_("--to is before --from."))
        since, until = export.bounds(start, end)
        qs = (
            PersonalDataAccess.objects.filter(at__gte=since, at__lt=until)
            .select_related("user", "resident")
            .order_by("at", "id")
        )
        if options["output"] == "-":
            n = export.write(self.stdout, access_log_rows(qs))
        else:
            with open(options["output"], "w", encoding="utf-8-sig", newline="") as out:
                n = export.write(out, access_log_rows(qs))
        self.stderr.write(_("%(n)s rows") % {"n": n})
