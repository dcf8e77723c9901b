"""`manage.py restore ARCHIVE [--yes]`: put back the database and the uploads of a backup (see core.backup)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from core import backup


class Command(BaseCommand):
    help = (
        "Restore an archive made by `manage.py backup` (SQLite): verified first, then the database file and the "
        "uploads are replaced. Stop the server and the workers before. PostgreSQL: use pg_restore."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("archive", help="the .tar.gz that `manage.py backup` made")
        parser.add_argument(
            "--yes", action="store_true", help="replace a database that holds data, and the uploads that are there"
        )

    def handle(self, *args: Any, archive: str, yes: bool = False, **options: Any) -> None:
        if not backup.is_sqlite():
            raise CommandError(
                _(
                    "This site runs on PostgreSQL: restore its pg_dump with pg_restore --clean --if-exists "
                    '--no-owner -d "$DATABASE_URL" FILE (with the site stopped), then copy the uploads back.'
                )
            )
        db_path, media_root = backup.sqlite_paths()
        restored = backup.restore_sqlite(archive, db_path, media_root, overwrite=yes)
        for note in restored.notes:
            self.stderr.write(note)
        if options["verbosity"] > 0:
            self.stdout.write(
                _("Restored %(path)s (%(summary)s).") % {"path": db_path, "summary": backup.describe(restored.manifest)}
            )
