"""The coverage report equals a recount, row by row, on generated data (seeded, so a failure replays):
random households, members and links (some members over the limit), visits inside and outside the period,
needs settled, open or relayed with orders in every state — for the county, a town and a village."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict

import pytest

from org import services as org
from org.models import Household, HouseholdLink, Node, PartyMember, path_ids
from partylink import reports, selectors
from partylink.models import Need, Project, Visit
from partylink.reports import DONE_ORDER_STATES, FIGURES
from workorders.models import WorkOrder
from workorders.tests.helpers import at

START, END = at("2026-11-01 00:00"), at("2026-12-01 00:00")


def _generate(world, seed: int) -> None:
    c = world.c
    rng = random.Random(seed)
    grids = [c.a1, c.a2, c.b1, c.c1]
    for i in range(rng.randint(10, 30)):
        org.household_create(grid=rng.choice(grids), address=f"新户{i}号", number=str(100 + i))
    residents = list(c.zhang.__class__.objects.order_by("id"))
    members = [c.liu.party_member]
    for r in residents:
        if not hasattr(r, "party_member") and rng.random() < 0.5:
            branch = r.household.grid if rng.random() < 0.5 else r.household.grid.parent
            members.append(org.party_member_create(resident=r, branch=branch))
    households = list(Household.objects.order_by("id"))
    HouseholdLink.objects.all().delete()
    for h in households:
        if rng.random() < 0.7:
            HouseholdLink.objects.create(member=rng.choice(members), household=h, since=dt.date(2026, 1, 1))
    visits = []
    for h in households:
        for _ in range(rng.randint(0, 3)):
            when = START + dt.timedelta(days=rng.uniform(-40, 45))  # before, inside and after the period
            visits.append(Visit(household=h, path=h.path, visitor=c.u_li, visited_at=when, created_at=when))
    Visit.objects.bulk_create(visits)
    from partylink.models import Project

    for i in range(rng.randint(1, 5)):
        village = rng.choice([c.v1, c.v2, c.v3])
        state = rng.choice(["proposed", "approved", "done", "done", "cancelled"])
        done_at = START + dt.timedelta(days=rng.uniform(-20, 40)) if state == "done" else None
        Project.objects.create(
            village=village, path=village.path, title=f"项目{i}", goals="修路", lead=rng.choice(members),
            proposed_by=c.u_zhou, proposed_at=START - dt.timedelta(days=30), state=state, done_at=done_at,
        )  # fmt: skip
    orders = list(WorkOrder.objects.order_by("id"))
    for i, v in enumerate(visits):
        if rng.random() < 0.4:
            state = rng.choice(["open", "settled", "relayed"])
            order = orders.pop() if state == "relayed" and orders else None
            Need.objects.create(
                visit=v, household=v.household, path=v.path, text=f"需求{i}", raised_by=c.u_li, created_at=v.visited_at,
                state="relayed" if order else ("open" if state == "relayed" else state), order=order,
            )  # fmt: skip


@pytest.fixture
def orders(world):
    """Orders in several states to relay needs to (resolved, closed, open)."""
    from workorders.models import Kind
    from workorders.services.intake import workorder_submit

    c = world.c
    made = []
    for i in range(8):
        o = workorder_submit(
            by=c.u_li, kind=Kind.HELP, category=world.streetlight, text=f"路灯坏了{i}", channel="patrol",
            owner=c.zhang, grid=c.a1,
        ).order  # fmt: skip
        made.append(o.pk)
    for pk, state in zip(
        made, ["resolved", "rated", "closed", "dispatched", "submitted", "resolved", "closed", "accepted"], strict=True
    ):
        WorkOrder.objects.filter(pk=pk).update(state=state)
    return made


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_the_coverage_report_equals_a_recount(world, orders, settings, seed):
    settings.GONGZHI = {**settings.GONGZHI, "PARTY": {**settings.GONGZHI["PARTY"], "MAX_HOUSEHOLDS": 3}}
    _generate(world, seed)
    c = world.c
    for node in (c.county, c.t1, c.v1):
        report = reports.coverage(node, start=START, end=END)
        expected = recount(node, start=START, end=END)
        got = {r.node_id: {f: getattr(r, f) for f in reports.FIGURES} for r in report.rows}
        for node_id, figures in got.items():
            assert figures == expected.get(node_id, dict.fromkeys(reports.FIGURES, 0)), (node.name, node_id)
        assert set(expected) <= set(got)
        assert report.total.households == sum(r.households for r in report.rows)


def test_the_report_counts_what_a_clerk_would(world, clock):
    """A small case by hand: 东村 in November."""
    from partylink import services

    c = world.c
    services.visit_log(by=c.u_liu, household_id=c.h_zhang.pk, notes="看望", visited_at=at("2026-11-10 10:00"),
                       needs=[services.NeedIn(text="要帮忙买药", then="order"),
                              services.NeedIn(text="问政策", then="settle", outcome="已解答")])  # fmt: skip
    report = reports.coverage(c.v1, start=START, end=END)
    a1, a2 = sorted(report.rows, key=lambda r: r.name)
    assert (a1.households, a1.linked, a1.unlinked, a1.unvisited, a1.visits) == (2, 1, 1, 0, 1)
    assert (a2.households, a2.linked, a2.unvisited) == (1, 1, 1)  # 陈家: linked, not visited in November
    assert (a1.needs, a1.settled, a1.relayed, a1.resolved, a1.open) == (2, 1, 1, 0, 0)
    assert report.total.members == 1  # 刘党员, branch 东村 (the village itself, not a grid)


def test_the_report_over_the_api_and_in_the_command_centre_with_its_excel_file(world, client_as, clock):
    import io

    from openpyxl import load_workbook

    from partylink import services

    c = world.c
    services.visit_log(by=c.u_liu, household_id=c.h_zhang.pk, notes="看望")
    zhou = client_as(c.u_zhou)
    r = zhou.get("/api/v1/party/report")
    assert r.status_code == 200
    body = r.json()
    assert body["name"] == "东村" and body["start"] == "2026-11-01" and body["end"] == "2026-11-18"
    assert {x["name"]: (x["households"], x["linked"], x["unvisited"], x["visits"]) for x in body["rows"]} == {
        "A1湾组": (2, 1, 0, 1), "A2湾组": (1, 1, 1, 0),
    }  # fmt: skip
    county = client_as(c.u_qian).get(f"/api/v1/party/report?node={c.county.pk}").json()
    assert [x["name"] for x in county["rows"]] == ["东镇", "南镇"] and county["total"]["households"] == 5
    assert zhou.get(f"/api/v1/party/report?node={c.t2.pk}").status_code == 404  # another town
    assert client_as(c.u_li).get("/api/v1/party/report").status_code == 404  # grid workers read no reports
    assert client_as(c.u_wang).get("/api/v1/party/report").status_code == 404
    bad = zhou.get("/api/v1/party/report?start=2026-11-10&end=2026-11-01")
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "report.bad_range"
    assert zhou.get("/api/v1/party/report?start=2024-01-01&end=2026-11-01").status_code == 422

    page = zhou.get("/dashboard/party/")
    assert page.status_code == 200
    rows = {r["values"]["name"]: r["values"] for r in page.context["rows"]}
    assert rows["A2湾组"]["unvisited"] == 1 and rows["A1湾组"]["coverage"] == 0.5
    assert client_as(c.u_li).get("/dashboard/party/").status_code == 404
    xlsx = zhou.get("/dashboard/party/xlsx/?start=2026-11-01&end=2026-11-18")
    assert xlsx.status_code == 200 and xlsx["Content-Type"].startswith("application/vnd.openxmlformats")
    ws = load_workbook(io.BytesIO(xlsx.content)).worksheets[0]
    cells = {row[0]: row for row in ws.iter_rows(min_row=3, values_only=True)}
    header = [c.value for c in ws[2]]
    assert cells["A2湾组"][header.index("Linked, not visited") if "Linked, not visited" in header else 7] == 1


def test_the_command_centre_board_shows_this_months_household_work_to_those_who_read_it(world, client_as, clock):
    from partylink import services

    c = world.c
    services.visit_log(by=c.u_liu, household_id=c.h_zhang.pk, notes="看望", needs=[services.NeedIn(text="要帮忙买药")])
    page = client_as(c.u_qian).get("/dashboard/")
    assert page.context["party"] == {"coverage": 0.4, "unvisited": 1, "open": 1, "visits": 1}  # 2 of 5 linked
    assert 'data-board="party"' in page.content.decode()
    from partylink.models import Need

    Need.objects.update(created_at=at("2026-10-02 10:00"))  # found last month, still open: on the board all the same
    assert client_as(c.u_qian).get("/dashboard/").context["party"]["open"] == 1
    grid = client_as(c.u_li).get("/dashboard/")  # a grid worker's board: no household-work figures
    assert grid.status_code == 200 and grid.context["party"] is None


def recount(node: Node, *, start: dt.datetime, end: dt.datetime) -> dict[int, dict[str, int]]:
    """The same figures counted the slow way, row by row in Python (for the tests)."""
    depth = len(path_ids(node.path))
    out: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(FIGURES, 0))
    limit = int(selectors.setting("MAX_HOUSEHOLDS"))

    def child(path: str) -> int | None:
        return reports._child_of(node, depth, path)

    link_of = {x.household_id: x for x in HouseholdLink.objects.all()}
    visited = {v.household_id for v in Visit.objects.all() if start <= v.visited_at < end}
    for h in Household.objects.all():
        if not h.path.startswith(node.path) or child(h.path) is None:
            continue
        r = out[child(h.path)]  # type: ignore[index]
        r["households"] += 1
        if h.pk in link_of:
            r["linked"] += 1
            r["unvisited"] += h.pk not in visited
        else:
            r["unlinked"] += 1
    for m in PartyMember.objects.select_related("branch"):
        if m.branch.path.startswith(node.path) and child(m.branch.path) is not None:
            r = out[child(m.branch.path)]  # type: ignore[index]
            r["members"] += 1
            r["over_limit"] += sum(1 for x in link_of.values() if x.member_id == m.pk) > limit
    for v in Visit.objects.all():
        if v.path.startswith(node.path) and child(v.path) is not None and start <= v.visited_at < end:
            out[child(v.path)]["visits"] += 1  # type: ignore[index]
    for n in Need.objects.select_related("order"):
        if not (n.path.startswith(node.path) and child(n.path) is not None and start <= n.created_at < end):
            continue
        r = out[child(n.path)]  # type: ignore[index]
        r["needs"] += 1
        r[{"settled": "settled", "relayed": "relayed", "open": "open"}[n.state]] += 1
        r["resolved"] += n.state == "relayed" and n.order is not None and n.order.state in DONE_ORDER_STATES
    for p in Project.objects.all():
        if not (p.path.startswith(node.path) and child(p.path) is not None):
            continue
        r = out[child(p.path)]  # type: ignore[index]
        r["projects"] += p.state == "approved"
        r["projects_done"] += p.state == "done" and p.done_at is not None and start <= p.done_at < end
    return dict(out)
