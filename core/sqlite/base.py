"""Django's SQLite backend, with writers of one process queueing on a lock instead of sleeping, and
connections kept for the next request instead of closed.

SQLite allows one writer at a time. A transaction that finds the database locked is retried by SQLite's
busy handler, which sleeps between tries — up to 100 ms a sleep — and favours no one: under load, some
requests wait seconds while others pass (bench/intake.py saw p99 above 5 s at 50 clients). Here a write
transaction (BEGIN IMMEDIATE, as settings.py asks) first takes a lock shared by the process's threads,
so they queue in order and each starts the moment the one before commits. Writers in other processes
still meet SQLite's own lock and busy handler; with one server process (`make run`) there are none.

Under ASGI every request runs its synchronous code in a thread of its own, so Django's persistent
connections (CONN_MAX_AGE, per thread) never get reused, and each request paid for a new connection:
opening it, registering Django's SQL functions, the PRAGMAs, parsing the schema and preparing every
statement afresh — about 4.5 ms of a 10 ms request. A closed connection goes back to a small pool of
the process instead (SQLite connections may move between threads when only one uses them at a time;
Django opens them with check_same_thread=False), and the next request takes it.
"""

from __future__ import annotations

import threading

from django.db import OperationalError
from django.db.backends.sqlite3 import base

_WRITE_LOCK = threading.Lock()
_POOL_LOCK = threading.Lock()
_POOL: dict[str, list] = {}  # database file → idle connections
POOL_SIZE = 8


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

    def get_new_connection(self, conn_params):  # type: ignore[no-untyped-def]
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
            super()._close()
        finally:
            self._release_write_lock()
