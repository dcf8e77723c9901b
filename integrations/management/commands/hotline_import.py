"""`manage.py hotline_import FILE --source CODE [--dry-run]`: import a 12345 hotline's export (Excel or CSV)
in this process, for files too large to upload, with a progress line on the terminal. The same rules as the
page's import: each refused row is listed with its line number and reason, the rest are filed, and an order
number already imported is passed over."""

from __future__ import annotations

import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from integrations import hotline
from integrations.models import HotlineSource
from integrations.services import Progress, import_file

PROGRESS = gettext_lazy(
    "%(done)s/%(total)s rows · %(created)s created · %(existing)s already there · %(refused)s refused · %(rate)s rows/s"
)
SUMMARY = gettext_lazy(
    "%(rows)s rows: %(created)s orders created, %(existing)s already there, %(refused)s refused, in %(seconds)s s."
)
DRY_SUMMARY = gettext_lazy(
    "Dry run, nothing imported. %(rows)s rows: %(created)s orders would be created, %(existing)s already there, "
    "%(refused)s refused, in %(seconds)s s."
)


class Command(BaseCommand):
    help = "Import a 12345 hotline's export file (Excel .xlsx or CSV) into the work orders."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--source", required=True, help="The hotline source's code")
        parser.add_argument("--dry-run", action="store_true", help="Check every row, import nothing")
        parser.add_argument("--quiet", action="store_true", help="No progress line")

    def handle(self, *args: Any, **opts: Any) -> None:
        source = (
            HotlineSource.objects.select_related("account", "node", "default_category")
            .filter(code=opts["source"])
            .first()
        )
        if source is None:
            raise CommandError(_("No such hotline source: %(code)s") % {"code": opts["source"]})
        if not source.is_active:
            raise CommandError(_("This source is switched off."))
        try:
            total = hotline.count_rows(opts["file"])
        except (OSError, hotline.RowError) as exc:
            raise CommandError(str(exc)) from exc
        started = time.monotonic()
        tty = sys.stderr.isatty()

        def show(p: Progress) -> None:
            if opts["quiet"]:
                return
            rate = p.done / max(0.001, time.monotonic() - started)
            line = PROGRESS % {
                "done": p.done, "total": total, "created": p.created, "existing": p.existing, "refused": p.refused,
                "rate": int(rate),
            }  # fmt: skip
            self.stderr.write(("\r" + line) if tty else line, ending="" if tty else "\n")

        try:
            p = import_file(
                source=source, path=opts["file"], dry_run=opts["dry_run"], progress=Progress(total=total), on_chunk=show
            )
        except hotline.RowError as exc:
            raise CommandError(str(exc)) from exc
        if tty and not opts["quiet"]:
            self.stderr.write("")
        for e in p.errors:
            self.stdout.write(_("line %(line)s (%(number)s): %(reason)s") % e)
        if p.refused > len(p.errors):
            self.stdout.write(_("…and %(n)s more refused rows.") % {"n": p.refused - len(p.errors)})
        self.stdout.write(
            str(DRY_SUMMARY if opts["dry_run"] else SUMMARY) % {
                "rows": p.done, "created": p.created, "existing": p.existing, "refused": p.refused,
                "seconds": round(time.monotonic() - started, 1),
            }
        )  # fmt: skip
