"""Fixtures shared by every app's tests: the persona county and clients logged in as someone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from django.test import Client

from gongzhi.test import County, WorkWorld, build_county, build_work_world


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every transactional test restores the migrated data after its flush (serialized_rollback).

    A flush without it leaves the content types recreated under new ids and the data migrations'
    rows (catalogue, points rules) gone, and the next test that restores the serialized database then
    clashes with them: which tests pass would depend on their order."""
    for item in items:
        marker = item.get_closest_marker("django_db")
        if marker is not None and marker.kwargs.get("transaction") and "serialized_rollback" not in marker.kwargs:
            item.add_marker(
                pytest.mark.django_db(*marker.args, **marker.kwargs, serialized_rollback=True), append=False
            )


_SNAPSHOTS: dict[str, str] = {}


def _keep_snapshot() -> None:
    """Keep the serialized test database (what serialized_rollback restores) on whichever connection
    object this thread has now. A browser test's live server leaves the main thread a new connection
    object without it: its own flush then ran the post-migrate handlers (content types made anew), and the
    next serialized test restored nothing (the data migrations' rows — catalogue, points rules — were
    gone for every test after it), or clashed with those content types."""
    from django.db import connections

    for alias in connections:
        conn = connections[alias]
        if hasattr(conn, "_test_serialized_contents"):
            _SNAPSHOTS[alias] = conn._test_serialized_contents
        elif alias in _SNAPSHOTS:
            conn._test_serialized_contents = _SNAPSHOTS[alias]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    _keep_snapshot()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    _keep_snapshot()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """argon2 costs ~0.2 s a hash by design; tests hash hundreds. Production keeps argon2 (a test checks)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _rate_limits(request, settings):
    """Counters start at zero in every test, and the limits are far away unless a test asks for them
    (`@pytest.mark.ratelimit`): tests file dozens of orders a second from one address, as no person does."""
    from django.core.cache import cache

    cache.clear()
    if request.node.get_closest_marker("ratelimit") is None:
        settings.GONGZHI = {**settings.GONGZHI, "RATE_LIMIT_FACTOR": 1000}
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _fresh_memory_copies():
    """Each test rolls the database back under the server's in-memory copies (core.memo): start afresh."""
    from core.memo import forget_all

    forget_all()
    yield
    forget_all()


@pytest.fixture(autouse=True)
def _points_books_balance(request):
    """After every test that used the database, before its data goes: the points ledger reconciles —
    every cached balance equals its entries and its lots, and all balances add up to zero."""
    marker = request.node.get_closest_marker("django_db")
    names = set(request.fixturenames)
    if marker is None and not names & {"db", "transactional_db"}:
        yield
        return
    # Asking for the database here makes it set up before, and torn down after, this check.
    transactional = "transactional_db" in names or (marker is not None and marker.kwargs.get("transaction"))
    request.getfixturevalue("transactional_db" if transactional else "db")
    yield
    from django.db import connection

    from points.reconcile import reconcile

    if connection.connection is None or connection.needs_rollback:
        return  # the test closed its connection (threads, processes) or left a broken transaction
    _n, diffs, total = reconcile()
    assert diffs == [], diffs
    assert total == 0, total


@pytest.fixture
def steady_memo(settings):
    """For a test that counts a page's queries: the in-memory copies (core.memo) are checked against the database
    at most once a second, so whether a check lands inside the counted request is the clock's doing, not the page's
    (a slow run made a query-count test fail on PostgreSQL). Here they are checked once, on the first request, and
    kept."""
    settings.GONGZHI = {**settings.GONGZHI, "MEMO_CHECK_SECONDS": 3600}


@pytest.fixture
def county(db) -> County:
    return build_county()


@pytest.fixture
def world(county, settings, tmp_path) -> WorkWorld:
    """The county with the catalogue, a second department and dispatch rules; photos go to tmp_path."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.NOTIFY_GATEWAY = "notify.gateways.FakeGateway"
    return build_work_world(county)


@pytest.fixture
def client_as() -> Callable[..., Client]:
    """client_as(user) → a Django test client with that user's session (or anonymous for None)."""

    def make(user=None, *, lang: str | None = None) -> Client:
        client = Client(HTTP_ACCEPT_LANGUAGE=lang) if lang else Client()
        if user is not None:
            client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        return client

    return make


@pytest.fixture(scope="session", autouse=True)
def _remove_sqlite_write_lock_files():
    """The SQLite backend's lock file lives beside the test database; it goes when the run ends."""
    yield
    from django.conf import settings

    name = str(settings.DATABASES["default"].get("TEST", {}).get("NAME") or "")
    if name and "sqlite" in settings.DATABASES["default"]["ENGINE"]:
        Path(f"{name}.writelock").unlink(missing_ok=True)
