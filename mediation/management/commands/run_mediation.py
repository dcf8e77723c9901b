from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from core.worker import Loop
from mediation.services import handle_one


class Command(BaseCommand):
    help = (
        "Watch dispute cases: warn before a mediation's time limit, flag it overdue after, and remind mediators of "
        "follow-up visits that are due. Runs until SIGTERM; --once to work off what is due and exit."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true")
        parser.add_argument("--idle-sleep", type=float, default=1.0)

    def handle(self, *args: Any, **opts: Any) -> None:
        n = Loop("run_mediation", handle_one, idle_sleep=opts["idle_sleep"]).run(once=opts["once"])
        self.stdout.write(f"handled {n}")
