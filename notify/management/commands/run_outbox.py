from django.core.management.base import BaseCommand

from core.worker import Loop
from notify.services import send_one


class Command(BaseCommand):
    help = "Send queued notifications through the gateway (runs until SIGTERM; --once to drain and exit)."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--once", action="store_true")

    def handle(self, *args, **opts):  # type: ignore[no-untyped-def]
        n = Loop("run_outbox", send_one).run(once=opts["once"])
        self.stdout.write(f"sent {n}")
