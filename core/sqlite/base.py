"""Django's SQLite backend, with writers of one process queueing on a lock instead of sleeping.

SQLite allows one writer at a time. A transaction that finds the database locked is retried by SQLite's
busy handler, which sleeps between tries — up to 100 ms a sleep — and favours no one: under load, some
requests wait seconds while others pass (bench/intake.py saw p99 above 5 s at 50 clients). Here a write
transaction (BEGIN IMMEDIATE, as settings.py asks) first takes a lock shared by the process's threads,
so they queue in order and each starts the moment the one before commits. Writers in other processes
still meet SQLite's own lock and busy handler; with one server process (`make run`) there are none.
"""

from __future__ import annotations

import threading

from django.db import OperationalError
from django.db.backends.sqlite3 import base

_WRITE_LOCK = threading.Lock()


class DatabaseWrapper(base.DatabaseWrapper):
    _holds_write_lock = False

    def _start_transaction_under_autocommit(self) -> None:
        timeout = float(self.settings_dict.get("OPTIONS", {}).get("timeout", 20))
        if not _WRITE_LOCK.acquire(timeout=timeout):
            raise OperationalError("database is locked (waited for this process's other writers)")
        self._holds_write_lock = True
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._release_write_lock()
            raise

    def _release_write_lock(self) -> None:
        if self._holds_write_lock:
            self._holds_write_lock = False
            _WRITE_LOCK.release()

    def _commit(self) -> None:
        try:
            super()._commit()
        finally:
            self._release_write_lock()

    def _rollback(self) -> None:
        try:
            super()._rollback()
        finally:
            self._release_write_lock()

    def _close(self) -> None:
        try:
            super()._close()
        finally:
            self._release_write_lock()
