"""The top list (红榜) and the bottom list (黑榜) scale with the group: nobody is on both, and in a small
group not everyone is named."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from dashboards import services
from dashboards.models import Result, ResultRow
from dashboards.report import result_rows

pytestmark = pytest.mark.django_db


def _result(world, scores: list[int], month: dt.date) -> Result:
    """A result whose rows score as given, ranked as the service ranks them (equal scores, one rank)."""
    result = Result.objects.create(
        node=world.c.county, month=month, group="village",
        scheme=services._saved(services.scheme_for(month)), computed_at=dt.datetime.now(dt.UTC),
    )  # fmt: skip
    ordered = sorted(scores, reverse=True)
    rows = []
    for i, s in enumerate(ordered):
        rank = rows[i - 1].rank if i and s == ordered[i - 1] else i + 1
        rows.append(ResultRow(result=result, name=f"u{i:03d}", rates={}, base=Decimal(s), score=Decimal(s), rank=rank))
    ResultRow.objects.bulk_create(rows)
    return result


def _lists(world, scores: list[int], month: dt.date) -> tuple[set[str], set[str]]:
    rows = result_rows(_result(world, scores, month))
    return {r["name"] for r in rows if r["listed"] == "red"}, {r["name"] for r in rows if r["listed"] == "black"}


@pytest.mark.parametrize(("n", "size"), [(1, 0), (2, 0), (3, 1), (4, 1), (10, 1), (15, 2), (100, 10)])
def test_the_lists_scale_with_the_group_and_never_overlap(world, n, size) -> None:
    red, black = _lists(world, list(range(50, 50 + n)), dt.date(2026, 1, 1))
    assert not red & black
    assert (len(red), len(black)) == (size, size)
    assert len(red | black) < n  # never everyone
    if size:
        assert "u000" in red and f"u{n - 1:03d}" in black  # the best and the worst


def test_ties_come_in_whole_unless_they_fill_half_the_group(world) -> None:
    month = dt.date(2026, 2, 1)
    # Ten units, two sharing the top score and two the bottom one: both of each tie are named.
    red, black = _lists(world, [90, 90, 80, 79, 78, 77, 76, 75, 60, 60], month)
    assert (red, black) == ({"u000", "u001"}, {"u008", "u009"})
    # Everyone equal: nobody stands out, nobody is named.
    assert _lists(world, [100] * 10, month.replace(month=3)) == (set(), set())
    # Three units, two at the top: a list of two out of three says nothing; the last is still last.
    assert _lists(world, [100, 100, 65], month.replace(month=4)) == (set(), {"u002"})
    # Ten units, five sharing the top score: half the group, off the list.
    assert _lists(world, [99] * 5 + [90, 80, 70, 60, 50], month.replace(month=5)) == (set(), {"u009"})


def test_ten_villages_are_not_all_on_a_list(world, clock, client_as) -> None:
    """The county's ten villages, apart only by their special items: one on each list."""
    from org import services as org
    from org.models import Level

    clock.set("2026-11-02 09:00")
    c = world.c
    villages = [c.v1, c.v2, c.v3]
    for i in range(7):
        villages.append(
            org.node_create(parent=c.t2, level=Level.VILLAGE, kind="village", name=f"新村{i}", code=f"42999910210{i}")
        )
    leader = client_as(c.u_qian)
    url = "/api/v1/dashboard/assessment/2026-11/village"
    for i, v in enumerate(villages):
        body = {"node_id": v.pk, "points": str(i + 1), "reason": "专项"}
        assert leader.post(f"{url}/specials", json.dumps(body), content_type="application/json").status_code == 201
    rows = leader.post(f"{url}/compute", "{}", content_type="application/json").json()["rows"]
    assert len(rows) == 10
    marks = {r["name"]: r["listed"] for r in rows}
    assert [n for n, m in marks.items() if m == "red"] == [villages[-1].name]
    assert [n for n, m in marks.items() if m == "black"] == [villages[0].name]
