from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from core.worker import Loop
from dashboards.rollups import apply_pending


class Command(BaseCommand):
    help = (
        "Fold changed work orders into the dashboard tallies (a batch of up to 500 at a time). Runs until "
        "SIGTERM; --once to work off what is waiting and exit."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true")
        parser.add_argument("--idle-sleep", type=float, default=1.0, help="seconds between looks when idle")

    def handle(self, *args: Any, **opts: Any) -> None:
        n = Loop("run_rollups", lambda: apply_pending() > 0, idle_sleep=opts["idle_sleep"]).run(once=opts["once"])
        self.stdout.write(f"passes {n}")
