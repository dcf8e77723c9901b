from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dashboards import rollups


class Command(BaseCommand):
    help = (
        "Recount every order from scratch and compare with the dashboard tallies (after folding in what is "
        "waiting). Exits non-zero on any difference; --rebuild throws the tallies away and counts again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rebuild", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["rebuild"]:
            self.stdout.write(f"rebuilt from {rollups.rebuild()} orders")
        diffs = rollups.differences()
        for d in diffs[:50]:
            self.stdout.write(d)
        self.stdout.write(f"differences {len(diffs)}")
        if diffs:
            raise CommandError(f"{len(diffs)} tallies differ from the recount")
