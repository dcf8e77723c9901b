import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from core.worker import Loop
from dashboards.rollups import apply_pending
from dashboards.rollups import lock as lock_rollups
from workorders import hot


class HotScan:
    """Hot topics (workorders.hot) rebuilt every GONGZHI["TRIAGE"]["HOT_SCAN_SECONDS"], between batches."""

    def __init__(self) -> None:
        self.next = 0.0

    def __call__(self) -> None:
        if time.monotonic() >= self.next:
            self.next = time.monotonic() + settings.GONGZHI["TRIAGE"]["HOT_SCAN_SECONDS"]
            # Under the rollup workers' lock row: a second worker's scan waits, then finds the first's topics
            # (by their appeals) already made and flagged, so a topic is neither made nor told twice.
            with transaction.atomic():
                lock_rollups()
                hot.scan()


class Command(BaseCommand):
    help = (
        "Fold changed work orders into the dashboard tallies (a batch of up to 500 at a time), and rebuild the "
        "hot topics every few minutes. Runs until SIGTERM; --once to work off what is waiting and exit."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true")
        parser.add_argument("--idle-sleep", type=float, default=1.0, help="seconds between looks when idle")

    def handle(self, *args: Any, **opts: Any) -> None:
        scan = HotScan()

        def step() -> bool:
            scan()
            return apply_pending() > 0

        n = Loop("run_rollups", step, idle_sleep=opts["idle_sleep"]).run(once=opts["once"])
        self.stdout.write(f"passes {n}")
