from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from core.worker import Loop
from integrations.services import import_step


class Command(BaseCommand):
    help = "Import the hotline files dispatchers upload (runs until SIGTERM; --once to drain and exit)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        n = Loop("run_imports", import_step).run(once=opts["once"])
        self.stdout.write(f"imported {n}")
