"""The one source of 'now', so tests, workers and the demo loader can control time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from zoneinfo import ZoneInfo

from django.utils import timezone

SHANGHAI = ZoneInfo("Asia/Shanghai")

# The days a request may ask about (a week to show, a month to count): far-off years overflow when a
# date is widened to a period or converted for the database, so they are refused or ignored.
EARLIEST = dt.date(2000, 1, 1)
LATEST = dt.date(2199, 12, 1)

_frozen: ContextVar[dt.datetime | None] = ContextVar("gongzhi_frozen_now", default=None)


def now() -> dt.datetime:
    return _frozen.get() or timezone.now()


def today() -> dt.date:
    return timezone.localdate(now(), SHANGHAI)


@contextmanager
def frozen(at: dt.datetime) -> Iterator[None]:
    """Within the block (in this thread), `now()` is `at`: replaying history, testing deadlines."""
    if at.tzinfo is None:
        raise ValueError("aware datetimes only")
    token = _frozen.set(at)
    try:
        yield
    finally:
        _frozen.reset(token)


def aware(value: dt.datetime) -> dt.datetime:
    """A time as given, or, without a zone (an API client's "2026-01-05T10:00"), Asia/Shanghai wall-clock time:
    comparing it with now() would otherwise fail."""
    return value if value.tzinfo is not None else value.replace(tzinfo=SHANGHAI)
