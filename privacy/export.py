"""The access log as CSV for an audit, for the page (streamed) and the management command (to a file)."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any

from core.clock import SHANGHAI

HEADER = ["time", "viewer_username", "viewer", "resident_id", "resident", "subject", "field", "channel", "path"]


def cell(value: str) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """Days `start`…`end` (both included) as Asia/Shanghai times: from the start of `start` to the start of
    the day after `end`."""
    since = dt.datetime.combine(start, dt.time(), tzinfo=SHANGHAI)
    return since, dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=SHANGHAI)


class _Echo:
    def write(self, value: str) -> str:
        return value


def stream(rows: Iterable[list[str]]) -> Iterator[str]:
    """The CSV text a piece at a time (a StreamingHttpResponse's body), with the mark Excel reads UTF-8 by."""
    writer = csv.writer(_Echo())
    yield "\ufeff"
    yield writer.writerow(HEADER)
    for row in rows:
        yield writer.writerow([cell(x) for x in row])


def write(out: Any, rows: Iterable[list[str]]) -> int:
    """Write the CSV to a file object; the number of rows."""
    writer = csv.writer(out)
    writer.writerow(HEADER)
    n = 0
    for row in rows:
        writer.writerow([cell(x) for x in row])
        n += 1
    return n
