from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from core.worker import Loop
from sos.services import handle_one


class Command(BaseCommand):
    help = (
        "Escalate one-key calls nobody has acknowledged (next responder → village → command centre) and "
        "remind responders of follow-up visits. Runs until SIGTERM; --once to work off what is due and exit."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true")
        parser.add_argument("--idle-sleep", type=float, default=0.2, help="seconds between looks when idle")

    def handle(self, *args: Any, **opts: Any) -> None:
        n = Loop("run_sos", handle_one, idle_sleep=opts["idle_sleep"]).run(once=opts["once"])
        self.stdout.write(f"handled {n}")
