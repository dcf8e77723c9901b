"""A reopened order waits on the dispatchers: late while it waits is not counted against the unit it names."""

from __future__ import annotations

import datetime as dt

from dashboards.facts import IDX, Extra, contribution
from workorders.states import State


def _order(state: str, overdue: bool) -> dict:
    t = dt.datetime(2026, 11, 2, 9, tzinfo=dt.UTC)
    return {
        "id": 1, "created_at": t, "path": "/1/7/", "department_id": 7, "category_id": 1, "channel": "mobile",
        "kind": "complaint", "excluded": False, "round": 2, "dispatched_at": t, "accepted_at": t,
        "respond_overdue": False, "resolved_at": None, "overdue": overdue, "state": state,
    }  # fmt: skip


def _counters(o: dict) -> list[int]:
    out = contribution(o, Extra(assignments=[(7, False)]), None)
    return next(iter(out["units"].values()))


def test_late_while_reopened_is_not_the_units_lateness() -> None:
    waiting = _counters(_order(State.REOPENED, overdue=True))
    assert waiting[IDX["open_overdue"]] == 0 and waiting[IDX["overdue"]] == 0
    handling = _counters(_order(State.IN_PROGRESS, overdue=True))
    assert handling[IDX["open_overdue"]] == 1 and handling[IDX["overdue"]] == 1
