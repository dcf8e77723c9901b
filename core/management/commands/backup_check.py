"""`manage.py backup_check ARCHIVE` or `manage.py backup_check --database-url URL`: is a backup sound?
(see core.backup)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from core import backup


class Command(BaseCommand):
    help = (
        "Check a backup without touching the site. ARCHIVE (SQLite): unpack it in a temporary folder, verify "
        "the checksum and the migrations, run PRAGMA integrity_check and compare row counts with the manifest. "
        "--database-url (PostgreSQL, a scratch database pg_restore filled): migrations known and applied, and "
        "the row counts of the key tables."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("archive", nargs="?", help="a .tar.gz that `manage.py backup` made")
        parser.add_argument("--database-url", default=None, help="postgres://… of a database restored from a dump")

    def handle(self, *args: Any, archive: str | None = None, database_url: str | None = None, **options: Any) -> None:
        if bool(archive) == bool(database_url):
            raise CommandError(_("Give either an archive or --database-url."))
        if database_url:
            self._postgres(database_url)
            return
        assert archive is not None
        manifest, problems, notes = backup.check_archive(archive)
        for note in notes:
            self.stderr.write(note)
        if problems:
            raise CommandError(_("The backup fails its check: %(problems)s") % {"problems": " ".join(problems)})
        self.stdout.write(_("OK: %(summary)s") % {"summary": backup.describe(manifest)})

    def _postgres(self, url: str) -> None:
        try:
            migrations, counts, unknown, missing = backup.check_postgres(url)
        except Exception as e:  # any failure to connect or read is the answer
            raise CommandError(_("Could not read the database: %(error)s") % {"error": e}) from e
        for table, n in counts.items():
            self.stdout.write(f"{table}\t{n}")
        if not migrations:
            raise CommandError(_("The database has no applied migrations: the restore did not work."))
        if unknown:
            raise CommandError(
                _("The database has migrations this code does not know: %(names)s.") % {"names": ", ".join(unknown)}
            )
        if missing:
            self.stderr.write(
                _("%(n)s migration(s) of this code are not applied: run `manage.py migrate` after restoring.")
                % {"n": len(missing)}
            )
        self.stdout.write(_("OK: %(n)s migrations applied.") % {"n": sum(len(v) for v in migrations.values())})
