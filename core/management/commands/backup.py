"""`manage.py backup [--output DIR_OR_FILE]`: an online backup of the database and the uploads (see core.backup)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils.translation import gettext as _

from core import backup


class Command(BaseCommand):
    help = (
        "Back up the site while it serves. SQLite: the database (SQLite's online backup API) and the uploads "
        "in one tar.gz with a manifest, default var/backups/gongzhi-YYYYmmdd-HHMMSS.tar.gz. PostgreSQL: "
        "pg_dump -Fc. Prints the path of the backup."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--output",
            default=None,
            help="a file name ending in .tar.gz (.dump on PostgreSQL), or a folder where the file is named by the "
            "time; default var/backups/",
        )

    def handle(self, *args: Any, output: str | None = None, **options: Any) -> None:
        if backup.is_sqlite():
            db_path, media_root = backup.sqlite_paths()
            made = backup.backup_sqlite(db_path, media_root, output)
            if options["verbosity"] > 1:
                self.stderr.write(backup.describe(made.manifest))
        else:
            made = backup.backup_postgres(output)
            if options["verbosity"] > 0:
                self.stderr.write(_("pg_dump done. The uploads (MEDIA_ROOT) are not in it: copy them beside it."))
        if options["verbosity"] > 1:
            self.stderr.write(_("Backed up in %(s).1f s.") % {"s": made.seconds})
        self.stdout.write(str(made.path))
