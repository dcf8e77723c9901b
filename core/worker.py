"""The shape of every worker command (run_deadlines, run_outbox, run_sos): call `handle_one()` until it
finds nothing, sleep a little, repeat; stop cleanly between steps on SIGTERM or SIGINT.

Work lives in database rows with deadline columns, claimed by compare-and-set, so a worker holds no
state worth losing: kill it at any point and the next one picks up where it stopped.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable

from django.db import close_old_connections

log = logging.getLogger("gongzhi.worker")


class Loop:
    def __init__(self, name: str, handle_one: Callable[[], bool], idle_sleep: float = 1.0) -> None:
        self.name = name
        self.handle_one = handle_one
        self.idle_sleep = idle_sleep
        self.stopping = False

    def _stop(self, signum: int, frame: object) -> None:
        log.info("%s: stopping after the current step (signal %s)", self.name, signum)
        self.stopping = True

    def run(self, *, once: bool = False) -> int:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        done = 0
        while not self.stopping:
            close_old_connections()
            try:
                worked = self.handle_one()
            except Exception:
                # One bad row must not stop the county's deadlines; the row stays due and is logged.
                log.exception("%s: step failed", self.name)
                worked = False
                time.sleep(self.idle_sleep)
            if worked:
                done += 1
                continue
            if once:
                break
            slept = 0.0
            while slept < self.idle_sleep and not self.stopping:
                time.sleep(0.1)
                slept += 0.1
        return done
