from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from core.worker import Loop
from points.services import handle_one


class Command(BaseCommand):
    help = (
        "Expire points lots that have reached their date (oldest first, as ledger entries) and cancel shop "
        "reservations not picked up in time (points and stock back). Runs until SIGTERM; --once to work off "
        "what is due and exit."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true")
        parser.add_argument("--idle-sleep", type=float, default=30.0, help="seconds between looks when idle")

    def handle(self, *args: Any, **opts: Any) -> None:
        n = Loop("run_points", handle_one, idle_sleep=opts["idle_sleep"]).run(once=opts["once"])
        self.stdout.write(f"handled {n}")
