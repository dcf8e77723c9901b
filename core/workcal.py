"""Working days and working hours on the official calendar, for deadlines (承诺时限, 限时办结).

A day is a working day when, in this order:
1. an administrator's override (core.CalendarDay) says so — years the package does not know yet, a
   county's own arrangements;
2. the `chinese-calendar` package says so — official holidays and 调休 make-up workdays;
3. otherwise Monday to Friday (and a warning is logged once per year, so that someone adds overrides).

Working hours are the windows in settings.GONGZHI["WORK_HOURS"] (default 8:30–12:00 and 14:30–17:30,
as the service points in the source articles keep) on working days. All times are Asia/Shanghai.

Conventions, as 12345 practice counts them:
- `add_working_days(t, n)`: the end (24:00) of the n-th working day after the day of `t`; the day of
  submission does not count, whatever the hour.
- `add_working_hours(t, h)`: h hours of working time counted from `t` (from the next window if `t` is
  outside one).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from functools import lru_cache

import chinese_calendar
from django.conf import settings

from core.clock import SHANGHAI

log = logging.getLogger(__name__)

_MAX_SCAN_DAYS = 3 * 366  # no real deadline lies further; a bigger ask is a bug, not a wait


def _local(t: dt.datetime) -> dt.datetime:
    if t.tzinfo is None:
        raise ValueError("aware datetimes only")
    return t.astimezone(SHANGHAI)


@lru_cache(maxsize=8)
def _warn_unknown_year(year: int) -> None:
    log.warning("chinese-calendar has no data for %s: counting Monday–Friday; add CalendarDay overrides", year)


def _package_says(day: dt.date) -> bool:
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        _warn_unknown_year(day.year)
        return day.weekday() < 5


class Calendar:
    """Working-day answers for a span of dates, with the overrides of that span read in one query."""

    def __init__(self, start: dt.date, end: dt.date) -> None:
        from core.models import CalendarDay

        self.start, self.end = start, end
        self.overrides = dict(
            CalendarDay.objects.filter(date__gte=start, date__lte=end).values_list("date", "is_workday")
        )

    def is_workday(self, day: dt.date) -> bool:
        if day in self.overrides:
            return self.overrides[day]
        return _package_says(day)

    def workdays_after(self, day: dt.date) -> Iterator[dt.date]:
        d = day
        while True:
            d += dt.timedelta(days=1)
            if d > self.end:
                raise ValueError("deadline lies beyond the calendar span")
            if self.is_workday(d):
                yield d


def is_workday(day: dt.date) -> bool:
    return Calendar(day, day).is_workday(day)


def add_working_days(start: dt.datetime, days: int) -> dt.datetime:
    if days < 0:
        raise ValueError("days must not be negative")
    local = _local(start)
    if days == 0:
        return local
    cal = Calendar(local.date(), local.date() + dt.timedelta(days=_MAX_SCAN_DAYS))
    it = cal.workdays_after(local.date())
    last = None
    for _ in range(days):
        last = next(it)
    assert last is not None
    # The end of that day: 24:00, i.e. the start of the next calendar day.
    return dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0, 0), tzinfo=SHANGHAI)


def _windows() -> list[tuple[dt.time, dt.time]]:
    return [(dt.time.fromisoformat(a), dt.time.fromisoformat(b)) for a, b in settings.GONGZHI["WORK_HOURS"]]


def _working_intervals(cal: Calendar, from_day: dt.date) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """The working windows from `from_day` on, in order."""
    windows = _windows()
    day = from_day
    while day <= cal.end:
        if cal.is_workday(day):
            for a, b in windows:
                yield (
                    dt.datetime.combine(day, a, tzinfo=SHANGHAI),
                    dt.datetime.combine(day, b, tzinfo=SHANGHAI),
                )
        day += dt.timedelta(days=1)
    raise ValueError("deadline lies beyond the calendar span")


def add_working_hours(start: dt.datetime, hours: float) -> dt.datetime:
    if hours < 0:
        raise ValueError("hours must not be negative")
    local = _local(start)
    remaining = dt.timedelta(hours=hours)
    cal = Calendar(local.date(), local.date() + dt.timedelta(days=_MAX_SCAN_DAYS))
    for a, b in _working_intervals(cal, local.date()):
        if b <= local:
            continue
        begin = max(a, local)
        if begin + remaining <= b:
            return begin + remaining
        remaining -= b - begin
    raise AssertionError("unreachable: _working_intervals raises at the end of the span")


def working_hours_between(a: dt.datetime, b: dt.datetime) -> float:
    """Working time from a to b, in hours (0 if b is not after a)."""
    a, b = _local(a), _local(b)
    if b <= a:
        return 0.0
    if (b.date() - a.date()).days > _MAX_SCAN_DAYS:
        raise ValueError("span too long")
    cal = Calendar(a.date(), b.date())
    total = dt.timedelta()
    day = a.date()
    windows = _windows()
    while day <= b.date():
        if cal.is_workday(day):
            for s, e in windows:
                lo = max(a, dt.datetime.combine(day, s, tzinfo=SHANGHAI))
                hi = min(b, dt.datetime.combine(day, e, tzinfo=SHANGHAI))
                if hi > lo:
                    total += hi - lo
        day += dt.timedelta(days=1)
    return total.total_seconds() / 3600
