"""Django's SQLite backend, with writers of one process queueing on a lock instead of sleeping, and
connections kept for the next request instead of closed.

SQLite allows one writer at a time. A transaction that finds the database locked is retried by SQLite's
busy handler, which sleeps between tries — up to 100 ms a sleep — and favours no one: under load, some
requests wait seconds while others pass (bench/intake.py saw p99 above 5 s at 50 clients). Here a write
transaction (BEGIN IMMEDIATE, as settings.py asks) first takes a lock shared by the process's threads,
so they queue in order and each starts the moment the one before commits; then it takes an flock() on
a file beside the database, which does the same between processes (the kernel wakes the next waiter
when the lock is released, and releases it if its holder dies). SQLite's own lock and busy handler stay
underneath, for writers that do not come through here (a sqlite3 shell, another program).

Under ASGI every request runs its synchronous code in a thread of its own, so Django's persistent
connections (CONN_MAX_AGE, per thread) never get reused, and each request paid for a new connection:
opening it, registering Django's SQL functions, the PRAGMAs, parsing the schema and preparing every
statement afresh — about 4.5 ms of a 10 ms request. A closed connection goes back to a small pool of
the process instead (SQLite connections may move between threads when only one uses them at a time;
Django opens them with check_same_thread=False), and the next request takes it.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from typing import Any

from django.db import OperationalError
from django.db.backends.sqlite3 import base

_WRITE_LOCK = threading.Lock()
_POOL_LOCK = threading.Lock()
_POOL: dict[str, list[sqlite3.Connection]] = {}  # database file → idle connections
POOL_SIZE = 8
_LOCK_FILES: dict[str, int] = {}  # database file → this process's descriptor of its lock file


def _lock_file(name: str) -> int:
    fd = _LOCK_FILES.get(name)
    if fd is None:
        fd = os.open(f"{name}.writelock", os.O_RDWR | os.O_CREAT, 0o600)
        _LOCK_FILES[name] = fd
    return fd


class DatabaseWrapper(base.DatabaseWrapper):
    _holds_write_lock = False

    def _start_transaction_under_autocommit(self) -> None:
        timeout = float(self.settings_dict.get("OPTIONS", {}).get("timeout", 20))
        if not _WRITE_LOCK.acquire(timeout=timeout):
            raise OperationalError("database is locked (waited for this process's other writers)")
        self._holds_write_lock = True
        try:
            if not self.is_in_memory_db():
                # Blocks until other processes' write transactions end; the thread lock above ensures
                # that only one thread of this process waits here.
                self._lock_fd = _lock_file(str(self.settings_dict["NAME"]))
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            super()._start_transaction_under_autocommit()  # type: ignore[misc]  # Django's private hook; django-stubs does not declare it
        except BaseException:
            self._release_write_lock()
            raise

    _lock_fd: int | None = None

    def _release_write_lock(self) -> None:
        if self._holds_write_lock:
            self._holds_write_lock = False
            if self._lock_fd is not None:
                fd, self._lock_fd = self._lock_fd, None
                fcntl.flock(fd, fcntl.LOCK_UN)
            _WRITE_LOCK.release()

    def _commit(self) -> None:
        try:
            super()._commit()  # type: ignore[misc]  # Django's private hook; django-stubs does not declare it
        finally:
            self._release_write_lock()

    def _rollback(self) -> None:
        try:
            super()._rollback()  # type: ignore[misc]  # Django's private hook; django-stubs does not declare it
        finally:
            self._release_write_lock()

    def get_new_connection(self, conn_params: dict[str, Any]) -> sqlite3.Connection:
        with _POOL_LOCK:
            idle = _POOL.get(str(conn_params["database"]))
            if idle:
                return idle.pop()
        return super().get_new_connection(conn_params)

    def _close(self) -> None:
        try:
            conn = self.connection
            key = str(self.settings_dict["NAME"])
            if conn is not None and not conn.in_transaction and not self.is_in_memory_db():
                with _POOL_LOCK:
                    idle = _POOL.setdefault(key, [])
                    if len(idle) < POOL_SIZE:
                        idle.append(conn)
                        return
            super()._close()  # type: ignore[misc]  # Django's private hook; django-stubs does not declare it
        finally:
            self._release_write_lock()
