from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from core.worker import Loop
from notify.webhooks import deliver_one


class Command(BaseCommand):
    help = (
        "POST queued webhook deliveries to the systems that subscribed, retrying with backoff "
        "(runs until SIGTERM; --once to work off what is due and exit)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true")
        parser.add_argument("--idle-sleep", type=float, default=1.0, help="seconds between looks when idle")

    def handle(self, *args: Any, **opts: Any) -> None:
        n = Loop("run_webhooks", deliver_one, idle_sleep=opts["idle_sleep"]).run(once=opts["once"])
        self.stdout.write(f"handled {n}")
