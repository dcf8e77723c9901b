"""Deadlines in working days and hours around 2026's National Day (Oct 1–7 off, Saturday Oct 10 a
调休 workday), with administrator overrides and a year the package does not know."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.clock import SHANGHAI
from core.models import CalendarDay
from core.workcal import add_working_days, add_working_hours, is_workday, working_hours_between


def at(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s).replace(tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("day", "working"),
    [
        ("2026-09-30", True),  # Wednesday before the holiday
        ("2026-10-01", False),  # National Day
        ("2026-10-07", False),
        ("2026-10-08", True),
        ("2026-10-10", True),  # Saturday, a make-up workday (调休)
        ("2026-10-11", False),  # Sunday
        ("2026-09-26", False),  # Mid-autumn weekend
    ],
)
def test_is_workday_follows_the_official_calendar(db, day, working):
    assert is_workday(dt.date.fromisoformat(day)) is working


def test_seven_working_days_across_national_day(db):
    # Oct 8, 9, 10 (Sat, 调休), 12, 13, 14, 15: due at the end of Oct 15.
    assert add_working_days(at("2026-09-30T15:00"), 7) == at("2026-10-16T00:00")


def test_a_day_submitted_in_the_holiday_counts_from_the_first_working_day(db):
    assert add_working_days(at("2026-10-03T10:00"), 1) == at("2026-10-09T00:00")


def test_the_make_up_saturday_is_a_working_day(db):
    assert add_working_days(at("2026-10-09T16:00"), 1) == at("2026-10-11T00:00")


def test_working_hours_jump_the_holiday(db):
    # One hour left on Sep 30 (16:30–17:30), the second on the first morning after the holiday.
    assert add_working_hours(at("2026-09-30T16:30"), 2) == at("2026-10-08T09:30")
    assert working_hours_between(at("2026-09-30T16:30"), at("2026-10-08T09:30")) == pytest.approx(2.0)


def test_working_hours_skip_lunch_and_start_at_the_next_window(db):
    assert add_working_hours(at("2026-10-09T12:30"), 1) == at("2026-10-09T15:30")
    assert add_working_hours(at("2026-10-09T20:00"), 0.5) == at("2026-10-10T09:00")  # Saturday 调休
    assert working_hours_between(at("2026-10-12T08:00"), at("2026-10-13T08:00")) == pytest.approx(6.5)
    assert working_hours_between(at("2026-10-13T08:00"), at("2026-10-12T08:00")) == 0.0


def test_override_beats_the_package(db):
    CalendarDay.objects.create(date=dt.date(2026, 10, 8), is_workday=False, note="county arrangement")
    assert add_working_days(at("2026-09-30T15:00"), 1) == at("2026-10-10T00:00")
    CalendarDay.objects.create(date=dt.date(2026, 10, 4), is_workday=True, note="make-up")
    assert is_workday(dt.date(2026, 10, 4))


def test_a_year_the_package_does_not_know(db, caplog):
    # 2027 is not in chinese-calendar 1.11: Monday–Friday, with a warning, until someone adds overrides.
    assert is_workday(dt.date(2027, 1, 1))  # a Friday
    CalendarDay.objects.create(date=dt.date(2027, 1, 1), is_workday=False, note="元旦")
    assert not is_workday(dt.date(2027, 1, 1))
    assert add_working_days(at("2026-12-31T09:00"), 1) == at("2027-01-05T00:00")  # Jan 4 is Monday


def test_bad_arguments(db):
    with pytest.raises(ValueError, match="aware"):
        add_working_days(dt.datetime(2026, 10, 1, 9, 0), 1)
    with pytest.raises(ValueError, match="negative"):
        add_working_days(at("2026-10-01T09:00"), -1)
    with pytest.raises(ValueError, match="negative"):
        add_working_hours(at("2026-10-01T09:00"), -1)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    start=st.datetimes(min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2026, 12, 20)),
    hours=st.floats(min_value=0, max_value=60, allow_nan=False).map(lambda h: round(h, 2)),
)
def test_adding_then_measuring_working_hours_round_trips(db, start, hours):
    start = start.replace(tzinfo=SHANGHAI)
    due = add_working_hours(start, hours)
    assert due >= start
    assert working_hours_between(start, due) == pytest.approx(hours, abs=1e-6)
