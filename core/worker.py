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

# --once gives up after this many failed steps in a row (the database is down, not one bad row).
MAX_FAILURES_IN_A_ROW = 10


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
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            return self._loop(once=once)
        finally:
            # Give the signals back: run from a test or embedded in another program, the worker kept
            # Ctrl-C for a loop that had already ended, and nothing could be interrupted any more.
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _loop(self, *, once: bool) -> int:
        done = 0
        failures = 0  # in a row
        while not self.stopping:
            close_old_connections()
            try:
                worked = self.handle_one()
                failures = 0
            except Exception:
                # One bad row must not stop the county's deadlines; the row stays due and is logged.
                log.exception("%s: step failed", self.name)
                failures += 1
                time.sleep(self.idle_sleep)
                # The failed row was claimed (leased) before its step failed, so the next step takes the
                # next row: --once still works off everything else that is due (it used to stop at the
                # first bad row). Failing again and again is no longer about one row: stop then.
                if once and failures < MAX_FAILURES_IN_A_ROW:
                    continue
                worked = False
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
