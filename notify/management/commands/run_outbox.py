from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from core.worker import Loop
from notify.services import send_one


class Command(BaseCommand):
    help = "Send queued notifications through the gateway (runs until SIGTERM; --once to drain and exit)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        n = Loop("run_outbox", send_one).run(once=opts["once"])
        self.stdout.write(f"sent {n}")
