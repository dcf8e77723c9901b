"""The command-centre pages as people use them: the board, a node's and a department's indicators with
drill-down, rankings, the monthly assessment with its bulletin, appeals (甄别申诉) and the Excel
downloads — the right numbers for the right people, 404 for everyone outside, and bad input that says
what is wrong and changes nothing."""

from __future__ import annotations

import datetime as dt
import io
import re
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.utils import translation
from openpyxl import load_workbook

from core.clock import today
from dashboards import excel, indicators, rollups, services
from dashboards.models import Exemption, Result, ResultLog, SpecialItem
from dashboards.selectors import ranking_rows
from dashboards.views import RANKING_COLUMNS, RESULT_COLUMNS, UNIT_COLUMNS
from workorders import services as wo
from workorders.models import Channel, WorkOrder
from workorders.states import State
from workorders.tests.helpers import housing, order_in, submit

pytestmark = pytest.mark.django_db

NAV = "dashboards.context.nav"


@pytest.fixture(autouse=True)
def _nav(settings):
    """The menu link needs the dashboards' context processor (settings.py lists it once it lands)."""
    processors = settings.TEMPLATES[0]["OPTIONS"]["context_processors"]
    if NAV not in processors:
        settings.TEMPLATES = [
            {**settings.TEMPLATES[0], "OPTIONS": {**settings.TEMPLATES[0]["OPTIONS"],
                                                  "context_processors": [*processors, NAV]}},
            *settings.TEMPLATES[1:],
        ]  # fmt: skip


@pytest.fixture
def dw(world):
    """Four orders in 东镇's A1 (two rated solved and very satisfied, one reopened after a bad rating,
    one signed for and open) and one in 南镇's C1, taken by hotline and dispatched to 住建局."""
    c = world.c
    order_in(world, State.RATED)
    order_in(world, State.RATED)
    order_in(world, State.REOPENED)
    order_in(world, State.ACCEPTED)
    south = submit(world, by=c.u_zhao, channel=Channel.HOTLINE, grid=c.c1, contact_name="孙大伯")
    wo.workorder_dispatch(order=WorkOrder.objects.get(pk=south.pk), to=housing(world), by=c.u_zhao)
    rollups.apply_all()
    return world


# --- reading pages ------------------------------------------------------------------------------------------


class _Tables(HTMLParser):
    """Every dashboard table's rows: data-table name → [{data-col: text}], with each row's links."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[dict[str, str]]] = {}
        self.headers: dict[str, list[str]] = {}
        self.links: dict[str, list[str]] = {}
        self._table: str | None = None
        self._row: dict[str, str] | None = None
        self._col: str | None = None
        self._head: bool = False
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table" and a.get("data-table"):
            self._table = a["data-table"]
            self.tables[self._table] = []
            self.headers[self._table] = []
            self.links[self._table] = []
        elif self._table and tag == "thead":
            self._head = True
        elif self._table and tag == "tr" and "data-key" in a:
            self._row = {}
            self.tables[self._table].append(self._row)
            self.links[self._table].append("")
        elif self._table and tag in ("td", "th") and (self._head or (self._row is not None and "data-col" in a)):
            self._col = a.get("data-col") or ""
            self._text = []
        elif tag == "a" and self._row is not None and self._col == "name":
            self.links[self._table][-1] = a.get("href") or ""  # type: ignore[index]

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._col is not None:
            value = re.sub(r"\s+", " ", "".join(self._text)).strip()
            if self._head:
                self.headers[self._table].append(value)  # type: ignore[index]
            elif self._row is not None:
                self._row[self._col] = value
            self._col = None
        elif tag == "thead":
            self._head = False
        elif tag == "tr":
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._col is not None:
            self._text.append(data)


def tables(response) -> _Tables:
    p = _Tables()
    p.feed(response.content.decode())
    return p


def rows_of(response, name: str) -> list[dict[str, str]]:
    return tables(response).tables[name]


def by_name(rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    """Rows by name, without the tag that marks the viewer's own unit (whatever its translation)."""
    tags = {f" {translation.gettext('you')}", " you"}
    out = {}
    for r in rows:
        name = r["name"]
        for tag in tags:
            name = name.removesuffix(tag)
        out[name.strip()] = r
    return out


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def indicator(response, key: str) -> str:
    m = re.search(rf'data-indicator="{key}".*?data-value>([^<]*)<', response.content.decode(), re.S)
    assert m, f"no indicator {key} on the page"
    return m.group(1).strip()


def workbook_rows(response) -> tuple[list[Any], list[list[Any]]]:
    ws = load_workbook(io.BytesIO(response.content)).worksheets[0]
    return [c.value for c in ws[2]], [list(r) for r in ws.iter_rows(min_row=3, values_only=True)]


def as_shown(value: Any, kind: str) -> str:
    """An Excel cell as the page writes it."""
    if kind == "listed":
        return value or ""
    if value == "—" or kind in ("text", "int"):
        return str(value)
    return excel.text(Decimal(str(value)), kind)


def assert_workbook_matches_page(xlsx, page_rows: list[dict[str, str]], columns) -> None:
    headers, cells = workbook_rows(xlsx)
    assert headers == [str(c.label) for c in columns]
    assert len(cells) == len(page_rows)
    for cells_row, page_row in zip(cells, page_rows, strict=True):
        for col, value in zip(columns, cells_row, strict=True):
            shown = page_row[col.key].replace(" 您", "").replace(" you", "").strip()
            assert as_shown(value, col.kind) == shown, (col.key, value, page_row)


def this_month() -> str:
    return f"{today():%Y-%m}"


# --- who sees what ------------------------------------------------------------------------------------------


def test_everyone_outside_the_command_centre_gets_404_and_strangers_log_in(dw, client_as):
    c = dw.c
    resident = client_as(c.u_zhang)
    month = this_month()
    urls = [
        "/dashboard/", f"/dashboard/node/{c.county.pk}/", f"/dashboard/node/{c.county.pk}/xlsx/",
        f"/dashboard/department/{c.civil_affairs.pk}/", "/dashboard/ranking/", "/dashboard/ranking/xlsx/",
        "/dashboard/assessment/", f"/dashboard/assessment/{month}/village/", "/dashboard/exemptions/",
    ]  # fmt: skip
    for url in urls:
        assert resident.get(url).status_code == 404, url
        r = client_as(None).get(url)
        assert r.status_code == 302 and r["Location"].startswith("/accounts/login/"), url


def test_the_menu_links_to_the_command_centre_for_those_with_a_dashboard(dw, client_as):
    c = dw.c
    assert 'href="/dashboard/"' in client_as(c.u_qian).get("/").content.decode()
    assert 'href="/dashboard/"' in client_as(c.u_wang).get("/").content.decode()
    assert 'href="/dashboard/"' not in client_as(c.u_zhang).get("/").content.decode()


def test_a_town_sees_its_own_subtree_only(dw, client_as):
    c = dw.c
    wu = client_as(c.u_wu)
    for node in (c.t1, c.v1, c.v2, c.a1, c.a2, c.b1):
        assert wu.get(f"/dashboard/node/{node.pk}/").status_code == 200, node.name
    for node in (c.county, c.t2, c.v3, c.c1):
        assert wu.get(f"/dashboard/node/{node.pk}/").status_code == 404, node.name
        assert wu.get(f"/dashboard/node/{node.pk}/xlsx/").status_code == 404, node.name
        assert wu.get(f"/dashboard/?node={node.pk}").status_code == 404, node.name
    assert wu.get("/dashboard/node/999999/").status_code == 404
    assert wu.get("/dashboard/?node=abc").status_code == 404
    # The breadcrumb starts at the town: the county is not theirs to open.
    crumbs = wu.get(f"/dashboard/node/{c.v1.pk}/").content.decode()
    assert f'href="/dashboard/node/{c.t1.pk}/' in crumbs and f'href="/dashboard/node/{c.county.pk}/' not in crumbs
    # A village clerk sees the village, not the town above it.
    zhou = client_as(c.u_zhou)
    assert zhou.get(f"/dashboard/node/{c.v1.pk}/").status_code == 200
    assert zhou.get(f"/dashboard/node/{c.t1.pk}/").status_code == 404
    # Department staff have no place in the tree.
    assert client_as(c.u_wang).get(f"/dashboard/node/{c.county.pk}/").status_code == 404


# --- 1. the board ---------------------------------------------------------------------------------------------


def test_the_board_shows_what_is_happening_now(dw, client_as):
    c = dw.c
    r = client_as(c.u_qian).get("/dashboard/")
    assert r.status_code == 200
    html = r.content.decode()
    live = dict(re.findall(r'data-live="(\w+)"[^>]*><dt>[^<]*</dt><dd>(\d+)</dd>', html))
    # Five orders today; open: the reopened, the signed-for and the dispatched one.
    assert live == {"today": "5", "open": "3", "open_overdue": "0", "urged": "0", "sos_open": "0", "disputes_red": "0"}
    grids = by_name(rows_of(r, "grids"))
    assert grids["A1湾组"]["total"] == "4" and grids["A1湾组"]["open"] == "2"
    assert grids["C1湾组"]["total"] == "1" and grids["B1湾组"]["total"] == "0"
    assert f'href="/dashboard/node/{c.a1.pk}/"' in html  # each grid opens its own dashboard
    assert 'id="board-map-data"' in html  # the map's data, drawn by the script where Leaflet is installed
    assert 'hx-trigger="every 30s"' in html  # BOARD_REFRESH_SECONDS
    assert "城乡建设" in html  # the hot category of the week (street lights)
    # The refreshing part alone, for htmx.
    part = client_as(c.u_qian).get(f"/dashboard/?part=live&node={c.county.pk}")
    assert part.status_code == 200 and "<html" not in part.content.decode()
    assert 'data-live="today"' in part.content.decode()


def test_the_board_of_a_town_and_of_a_department(dw, client_as, settings):
    c = dw.c
    settings.GONGZHI = {**settings.GONGZHI, "DASHBOARD": {**settings.GONGZHI["DASHBOARD"], "BOARD_REFRESH_SECONDS": 12}}
    r = client_as(c.u_wu).get("/dashboard/")
    html = r.content.decode()
    assert r.status_code == 200 and "东镇" in html and 'hx-trigger="every 12s"' in html
    assert "C1湾组" not in html  # another town's grid
    r = client_as(c.u_wu).get(f"/dashboard/?node={c.v1.pk}")
    assert r.status_code == 200 and set(by_name(rows_of(r, "grids"))) == {"A1湾组", "A2湾组"}
    # Department staff: their board is their department's numbers.
    r = client_as(c.u_wang).get("/dashboard/")
    assert r.status_code == 302 and r["Location"] == f"/dashboard/department/{c.civil_affairs.pk}/"


def test_the_board_draws_on_the_configured_tiles_or_on_nothing(dw, client_as, settings):
    c = dw.c
    html = client_as(c.u_qian).get("/dashboard/").content.decode()
    if 'id="board-map"' in html:  # Leaflet installed (npm)
        assert 'data-tiles=""' in html
    settings.GONGZHI = {
        **settings.GONGZHI,
        "DASHBOARD": {**settings.GONGZHI["DASHBOARD"], "MAP_TILE_URL": "https://tiles.example.gov.cn/{z}/{x}/{y}.png"},
    }
    html = client_as(c.u_qian).get("/dashboard/").content.decode()
    if 'id="board-map"' in html:
        assert 'data-tiles="https://tiles.example.gov.cn/{z}/{x}/{y}.png"' in html
    # No asset from another host: every src/href is ours (relative) or the configured tiles. (Not a plain
    # "cdn" substring test: a random CSRF token may contain those letters.)
    foreign = [u for u in re.findall(r'(?:src|href)="(https?://[^"]+)"', html) if "tiles.example.gov.cn" not in u]
    assert foreign == []


# --- 2. a node over a range -------------------------------------------------------------------------------------


def test_the_county_its_rates_and_its_towns(dw, client_as):
    c = dw.c
    r = client_as(c.u_qian, lang="en").get(f"/dashboard/node/{c.county.pk}/")
    assert r.status_code == 200
    start, end = today().replace(day=1), today()
    n = indicators.for_unit(node_id=c.county.pk, start=start, end=end)
    assert n.counters["total"] == 5
    assert indicator(r, "total") == "5"
    assert indicator(r, "resolution") == "66.7%"  # two solved of three verdicts
    assert indicator(r, "satisfaction") == excel.text(n.rates["satisfaction"], "rate") == "66.7%"
    assert indicator(r, "response") == "100.0%"
    html = r.content.decode()
    for i in indicators.INDICATORS:  # every indicator with its written definition
        assert str(i.definition).replace("'", "&#x27;") in html, i.key
    towns = by_name(rows_of(r, "children"))
    assert set(towns) == {"东镇", "南镇"}
    assert towns["东镇"]["total"] == "4" and towns["南镇"]["total"] == "1"
    assert towns["东镇"]["resolution"] == "66.7%" and towns["南镇"]["resolution"] == "—"
    # Each town links one level down, keeping the range.
    links = tables(r).links["children"]
    assert f"/dashboard/node/{c.t1.pk}/?start={start}&amp;end={end}" in html
    assert any(link.startswith(f"/dashboard/node/{c.t2.pk}/") for link in links)
    # Volumes by channel, type and category, each a chart's table.
    assert sum(int(row["total"]) for row in rows_of(r, "volume-c")) == 5
    assert sum(int(row["total"]) for row in rows_of(r, "volume-g")) == 5
    # The departments serving the county, for those who see them.
    assert f'href="/dashboard/department/{dw.housing.pk}/' in html


def test_drill_down_county_town_village_grid(dw, client_as):
    c = dw.c
    qian = client_as(c.u_qian)
    town = qian.get(f"/dashboard/node/{c.t1.pk}/")
    assert set(by_name(rows_of(town, "children"))) == {"东村", "西村"}
    assert f'href="/dashboard/node/{c.county.pk}/' in town.content.decode()  # the breadcrumb, back up
    village = qian.get(f"/dashboard/node/{c.v1.pk}/")
    grids = by_name(rows_of(village, "children"))
    assert grids["A1湾组"]["total"] == "4" and grids["A2湾组"]["total"] == "0"
    grid = qian.get(f"/dashboard/node/{c.a1.pk}/")
    assert grid.status_code == 200 and "children" not in tables(grid).tables
    assert indicator(grid, "total") == "4"
    assert sum(int(row["total"]) for row in rows_of(grid, "volume-k")) == 4  # counted from the orders


def test_a_range_of_last_month_is_empty_and_bad_ranges_say_so(dw, client_as):
    c = dw.c
    en = client_as(c.u_qian, lang="en")
    url = f"/dashboard/node/{c.county.pk}/"
    first = today().replace(day=1)
    last_month = (first - dt.timedelta(days=1)).replace(day=1)
    r = en.get(url, {"start": last_month, "end": first - dt.timedelta(days=1)})
    assert r.status_code == 200 and indicator(r, "total") == "0" and messages_of(r) == []
    for params, says in (
        ({"start": "2026-13-01"}, "is not a date"),
        ({"end": "yesterday"}, "is not a date"),
        ({"start": "1899-01-01"}, "is not a date"),
        ({"start": "2026-11-20", "end": "2026-11-01"}, "The start comes after the end."),
        ({"start": "2020-01-01", "end": "2026-01-01"}, "Choose at most three years."),
    ):
        r = en.get(url, params)
        assert r.status_code == 200, params
        assert any(says in m for m in messages_of(r)), (params, messages_of(r))
        assert indicator(r, "total") == "5"  # this month instead
    # The quick links: this month, last month, this year.
    html = en.get(url).content.decode()
    assert f"start={last_month}&amp;end={first - dt.timedelta(days=1)}" in html
    assert f"start={today().replace(month=1, day=1)}&amp;end={today()}" in html


def test_the_node_table_downloads_as_excel_with_the_numbers_of_the_page(dw, client_as):
    c = dw.c
    qian = client_as(c.u_qian)
    page = qian.get(f"/dashboard/node/{c.county.pk}/")
    xlsx = qian.get(f"/dashboard/node/{c.county.pk}/xlsx/")
    assert xlsx.status_code == 200
    assert xlsx["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "attachment;" in xlsx["Content-Disposition"] and "filename*=UTF-8''" in xlsx["Content-Disposition"]
    assert tables(page).headers["children"] == [str(col.label) for col in UNIT_COLUMNS]
    assert_workbook_matches_page(xlsx, rows_of(page, "children"), UNIT_COLUMNS)


# --- 3. a department ------------------------------------------------------------------------------------------


def test_a_department_sees_its_numbers_and_where_it_stands(dw, client_as):
    c = dw.c
    feng = client_as(dw.u_feng)
    r = feng.get(f"/dashboard/department/{dw.housing.pk}/")
    assert r.status_code == 200
    assert indicator(r, "total") == "5"  # every order went to 住建局
    ranking = tables(r)
    assert ranking.headers["ranking"] == [str(col.label) for col in (RANKING_COLUMNS[:3])]  # no peers' detail
    names = by_name(ranking.tables["ranking"])
    assert set(names) == {"民政局", "住建局"}
    # Only its own department links to a dashboard.
    assert [bool(link) for link in ranking.links["ranking"]] == [
        row["name"].startswith("住建局") for row in ranking.tables["ranking"]
    ]
    expected = ranking_rows(dw.u_feng, "department", today().replace(day=1), today(), None)["rows"]
    assert [(row["rank"], row["name"], excel.text(row["score"], "score")) for row in expected] == [
        (int(p["rank"]), n, p["score"]) for n, p in by_name(ranking.tables["ranking"]).items()
    ]
    # Another department's detail is not theirs.
    assert feng.get(f"/dashboard/department/{c.civil_affairs.pk}/").status_code == 404
    assert client_as(c.u_wang).get(f"/dashboard/department/{dw.housing.pk}/").status_code == 404
    assert client_as(c.u_wang).get(f"/dashboard/department/{c.civil_affairs.pk}/").status_code == 200
    assert feng.get("/dashboard/department/99999/").status_code == 404
    # Towns do not see the county's departments.
    assert client_as(c.u_wu).get(f"/dashboard/department/{dw.housing.pk}/").status_code == 404


def test_a_leader_sees_every_department_in_full(dw, client_as):
    r = client_as(dw.c.u_qian).get(f"/dashboard/department/{dw.housing.pk}/")
    assert r.status_code == 200
    t = tables(r)
    assert t.headers["ranking"] == [str(col.label) for col in RANKING_COLUMNS]
    assert all(t.links["ranking"])


# --- 4. rankings -------------------------------------------------------------------------------------------------


def test_the_ranking_of_villages_and_its_excel(dw, client_as):
    c = dw.c
    qian = client_as(c.u_qian)
    r = qian.get("/dashboard/ranking/", {"group": "village"})
    assert r.status_code == 200
    rows = rows_of(r, "ranking")
    expected = ranking_rows(c.u_qian, "village", today().replace(day=1), today(), None)["rows"]
    assert [(row["name"], excel.text(row["score"], "score")) for row in expected] == [
        (p["name"], p["score"]) for p in rows
    ]
    names = by_name(rows)
    assert set(names) == {"东村", "西村", "南村"}
    assert names["东村"]["total"] == "4" and names["东村"]["resolution"] == "66.7%"
    assert names["西村"]["score"] == "100.00"  # nothing to rate: 100
    xlsx = qian.get("/dashboard/ranking/xlsx/", {"group": "village"})
    assert xlsx.status_code == 200
    assert_workbook_matches_page(xlsx, rows, RANKING_COLUMNS)


def test_rankings_of_towns_grids_and_departments(dw, client_as):
    c = dw.c
    qian = client_as(c.u_qian)
    assert set(by_name(rows_of(qian.get("/dashboard/ranking/?group=town"), "ranking"))) == {"东镇", "南镇"}
    assert len(rows_of(qian.get("/dashboard/ranking/?group=grid"), "ranking")) == 4
    grids = rows_of(qian.get(f"/dashboard/ranking/?group=grid&node={c.v1.pk}"), "ranking")
    assert {row["name"] for row in grids} == {"A1湾组", "A2湾组"}
    assert set(by_name(rows_of(qian.get("/dashboard/ranking/?group=department"), "ranking"))) == {"民政局", "住建局"}
    # A town ranks its villages, not the county's.
    wu = client_as(c.u_wu)
    assert set(by_name(rows_of(wu.get("/dashboard/ranking/?group=village"), "ranking"))) == {"东村", "西村"}
    assert wu.get(f"/dashboard/ranking/?group=village&node={c.t2.pk}").status_code == 404
    # A department ranks the departments only.
    wang = client_as(c.u_wang, lang="en")
    r = wang.get("/dashboard/ranking/?group=village")
    assert r.status_code == 200 and any("Unknown group" in m for m in messages_of(r))
    assert set(by_name(rows_of(r, "ranking"))) == {"民政局", "住建局"}
    xlsx = wang.get("/dashboard/ranking/xlsx/?group=department")
    assert_workbook_matches_page(xlsx, rows_of(r, "ranking"), RANKING_COLUMNS[:3])


def test_an_unknown_group_or_a_bad_range_says_so(dw, client_as):
    en = client_as(dw.c.u_qian, lang="en")
    r = en.get("/dashboard/ranking/", {"group": "planet"})
    assert r.status_code == 200 and any("Unknown group" in m for m in messages_of(r))
    assert set(by_name(rows_of(r, "ranking"))) == {"东村", "西村", "南村"}  # the villages instead
    r = en.get("/dashboard/ranking/", {"group": "town", "start": "2026-02-30"})
    assert any("is not a date" in m for m in messages_of(r))
    assert en.get("/dashboard/ranking/?group=grid&node=xyz").status_code == 404
    assert en.get("/dashboard/ranking/xlsx/?group=planet").status_code == 404
    r = en.get("/dashboard/ranking/xlsx/", {"group": "town", "start": "2026-02-30"})  # this month, said nowhere
    assert r.status_code == 200 and messages_of(en.get("/dashboard/ranking/")) == []


# --- 5. the monthly assessment ------------------------------------------------------------------------------


def assessment(month: str | None = None, group: str = "village", action: str = "") -> str:
    return f"/dashboard/assessment/{month or this_month()}/{group}/" + (f"{action}/" if action else "")


def test_only_assessors_open_the_assessment_and_bad_months_are_404(dw, client_as):
    c = dw.c
    for user in (c.u_wu, c.u_zhou, c.u_zhao, c.u_wang, dw.u_feng):
        client = client_as(user)
        assert client.get(assessment()).status_code == 404, user
        assert client.post(assessment(action="compute")).status_code == 404, user
        assert client.get("/dashboard/assessment/").status_code == 404, user
    qian = client_as(c.u_qian)
    for url in (
        assessment("2026-13"), assessment("2026-1"), assessment("abcd-ef"), assessment("1999-12"),
        assessment(group="grid"), assessment(group="planet"), assessment(action="bulletin"),
        assessment(action="xlsx"),
    ):  # fmt: skip
        assert qian.get(url).status_code == 404, url
    assert qian.post(assessment("2026-13", action="compute")).status_code == 404
    assert not Result.objects.exists()
    # The picker lands on last month's villages by default.
    r = qian.get("/dashboard/assessment/")
    last = (today().replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    assert r.status_code == 302 and r["Location"] == assessment(f"{last:%Y-%m}")
    r = qian.get("/dashboard/assessment/?month=2026-99&group=town")
    assert r.status_code == 302 and r["Location"] == assessment(f"{last:%Y-%m}", "town")


def test_compute_publish_and_recompute_only_with_a_reason(dw, client_as):
    c = dw.c
    en = client_as(c.u_qian, lang="en")
    r = en.get(assessment())
    assert r.status_code == 200 and "Not computed yet." in r.content.decode()
    assert "Three rates" in r.content.decode() or "三率" in r.content.decode()  # the scheme and its weights

    r = en.post(assessment(action="compute"), follow=True)
    assert any("Computed the scores" in m for m in messages_of(r))
    result = Result.objects.get(group="village")
    rows = by_name(rows_of(r, "result"))
    assert set(rows) == {"东村", "西村", "南村"}
    east = result.rows.get(name="东村")
    assert rows["东村"]["score"] == excel.text(east.score, "score")
    assert rows["东村"]["resolution"] == "66.7%" and rows["东村"]["rank"] == str(east.rank)
    # Three villages, one list place each: 南村 and 西村 tie at the top (two of three is no top list),
    # 东村 is last.
    assert {n: r["listed"] for n, r in rows.items()} == {"南村": "", "西村": "", "东村": "Bottom list"}

    # A special item (专项) before publishing, counted when computed again.
    r = en.post(
        assessment(action="specials"), {"unit": f"n:{c.v1.pk}", "points": "2.5", "reason": "创建示范村"}, follow=True
    )
    assert any("Special item added" in m for m in messages_of(r)), messages_of(r)
    en.post(assessment(action="compute"))
    east = Result.objects.get(pk=result.pk).rows.get(name="东村")
    assert east.special == Decimal("2.50") and east.score == east.base + Decimal("2.50")
    assert by_name(rows_of(en.get(assessment()), "result"))["东村"]["special"] == "+2.50"

    r = en.post(assessment(action="publish"), follow=True)
    assert any("Published" in m for m in messages_of(r))
    result.refresh_from_db()
    assert result.published_at is not None
    logged = ResultLog.objects.filter(result=result).count()

    # Published: frozen. Computing again without a reason, adding a special item, publishing twice: refused.
    before = list(result.rows.values_list("name", "score", "rank"))
    r = en.post(assessment(action="compute"), {"reason": "  "}, follow=True)
    assert any("needs a reason" in m for m in messages_of(r)), messages_of(r)
    r = en.post(assessment(action="specials"), {"unit": f"n:{c.v2.pk}", "points": "-1", "reason": "迟报"}, follow=True)
    assert any("published" in m for m in messages_of(r)), messages_of(r)
    r = en.post(assessment(action="publish"), follow=True)
    assert any("already published" in m for m in messages_of(r))
    assert ResultLog.objects.filter(result=result).count() == logged
    assert SpecialItem.objects.count() == 1
    assert list(result.rows.values_list("name", "score", "rank")) == before

    r = en.post(assessment(action="compute"), {"reason": "甄别通过后重算"}, follow=True)
    assert any("Recomputed" in m for m in messages_of(r))
    log = ResultLog.objects.filter(result=result).last()
    assert (log.action, log.reason, log.by_id) == ("recompute", "甄别通过后重算", c.u_qian.pk)
    assert "甄别通过后重算" in r.content.decode()  # the history on the page


def test_a_bad_special_item_says_so_and_changes_nothing(dw, client_as):
    c = dw.c
    en = client_as(c.u_qian, lang="en")
    for data, says in (
        ({"unit": "", "points": "1", "reason": "x"}, "Choose the unit."),
        ({"unit": f"n:{c.v1.pk}", "points": "lots", "reason": "x"}, "Points:"),
        ({"unit": f"n:{c.v1.pk}", "points": "NaN", "reason": "x"}, "Points:"),
        ({"unit": f"n:{c.v1.pk}", "points": "500", "reason": "x"}, "Between -100 and 100."),
        ({"unit": f"n:{c.v1.pk}", "points": "1", "reason": "  "}, "Please give the reason."),
        ({"unit": f"d:{dw.housing.pk}", "points": "1", "reason": "x"}, "Choose the unit."),  # not a village
        ({"unit": f"n:{c.t1.pk}", "points": "1", "reason": "x"}, "Choose the unit."),  # a town
    ):
        r = en.post(assessment(action="specials"), data, follow=True)
        assert any(says in m for m in messages_of(r)), (data, messages_of(r))
    assert en.post(assessment(action="specials"), {"unit": "n:999999", "points": "1", "reason": "x"}).status_code == 404
    assert not SpecialItem.objects.exists()
    r = en.post(assessment(action="publish"), follow=True)
    assert any("Compute the scores before publishing" in m for m in messages_of(r))
    assert not Result.objects.exists()


def test_the_assessment_excel_and_the_bulletin_say_what_the_page_says(dw, client_as):
    c = dw.c
    qian = client_as(c.u_qian)
    qian.post(assessment(action="compute"))
    page = qian.get(assessment())
    rows = rows_of(page, "result")
    assert tables(page).headers["result"] == [str(col.label) for col in RESULT_COLUMNS]
    xlsx = qian.get(assessment(action="xlsx"))
    assert xlsx.status_code == 200
    disposition = xlsx["Content-Disposition"]
    assert disposition.startswith("attachment;") and f"assessment-{this_month()}-village.xlsx" in disposition
    assert "filename*=UTF-8''" in disposition
    assert_workbook_matches_page(xlsx, rows, RESULT_COLUMNS)
    wb = load_workbook(io.BytesIO(xlsx.content))
    assert len(wb.worksheets) == 2  # the result, and the weights with the definitions
    rate_cells = [row[3] for row in wb.worksheets[0].iter_rows(min_row=3)]
    assert all(cell.number_format == "0.0%" for cell in rate_cells if not isinstance(cell.value, str))

    bulletin = qian.get(assessment(action="bulletin"))
    html = bulletin.content.decode()
    assert bulletin.status_code == 200
    red = re.search(r'data-list="red">(.*?)</ol>', html, re.S).group(1)
    black = re.search(r'data-list="black">(.*?)</ol>', html, re.S).group(1)
    # Three villages: the lists name what the page's table marks, and nobody on both.
    for row in rows:
        assert (row["name"] in red, row["name"] in black) == (row["listed"] == "红榜", row["listed"] == "黑榜")
    assert "东村" in black and "东村" not in red
    assert rows_of(bulletin, "bulletin") == rows
    assert str(indicators.BY_KEY["resolution"].definition).replace("'", "&#x27;") in html
    assert "@media print" in Path("static/css/dashboards.css").read_text(encoding="utf-8")


def test_department_assessment_and_its_units(dw, client_as):
    c = dw.c
    qian = client_as(c.u_qian, lang="en")
    r = qian.get(assessment(group="department"))
    assert f'value="d:{dw.housing.pk}"' in r.content.decode() and f'value="n:{c.v1.pk}"' not in r.content.decode()
    qian.post(
        assessment(group="department", action="specials"),
        {"unit": f"d:{dw.housing.pk}", "points": "-3", "reason": "超期较多"},
    )
    qian.post(assessment(group="department", action="compute"))
    rows = by_name(rows_of(qian.get(assessment(group="department")), "result"))
    assert rows["住建局"]["special"] == "-3.00" and rows["住建局"]["total"] == "5"


# --- 6. appeals (甄别申诉) ------------------------------------------------------------------------------------


def test_the_handling_unit_appeals_and_a_leader_decides(dw, client_as):
    c = dw.c
    order = WorkOrder.objects.filter(state=State.REOPENED).get()
    feng = client_as(dw.u_feng, lang="en")
    r = feng.post(
        "/dashboard/exemptions/", {"order": str(order.pk), "reason": "居民反映的问题不属实，现场核实无误"}, follow=True
    )
    assert any("is filed" in m for m in messages_of(r)), messages_of(r)
    e = Exemption.objects.get()
    assert (e.order_id, e.status, e.requested_by_id) == (order.pk, "pending", dw.u_feng.pk)
    assert order.tracking_code in r.content.decode()  # in the list of their appeals

    # Filing it again, or for an order nobody can find, says so and changes nothing.
    r = feng.post("/dashboard/exemptions/", {"order": order.tracking_code, "reason": "再次申诉一下"})
    assert r.status_code == 422 and any("already waiting" in m for m in messages_of(r))
    r = feng.post("/dashboard/exemptions/", {"order": "999999", "reason": "没有这个工单"})
    assert r.status_code == 422 and any("No such work order" in m for m in messages_of(r))
    r = feng.post("/dashboard/exemptions/", {"order": "'; drop table", "reason": "没有这个工单"})
    assert r.status_code == 422
    other = WorkOrder.objects.filter(state=State.RATED).first()
    r = feng.post("/dashboard/exemptions/", {"order": str(other.pk), "reason": "短"})
    assert r.status_code == 422 and any("reason for the appeal" in m for m in messages_of(r))
    assert Exemption.objects.count() == 1

    # A town clerk is neither the handling unit nor a dispatcher.
    r = client_as(c.u_wu, lang="en").post(
        "/dashboard/exemptions/", {"order": str(other.pk), "reason": "不属于本镇职责"}
    )
    assert r.status_code == 422 and any("Only the handling unit" in m for m in messages_of(r))
    assert Exemption.objects.count() == 1

    # The leader sees it waiting, with the order; others cannot decide.
    en = client_as(c.u_qian, lang="en")
    page = en.get("/dashboard/exemptions/").content.decode()
    assert f'data-exemption="{e.pk}"' in page and "居民反映的问题不属实" in page
    assert client_as(c.u_wu).post(f"/dashboard/exemptions/{e.pk}/decide/", {"decision": "approve"}).status_code == 404
    assert feng.post(f"/dashboard/exemptions/{e.pk}/decide/", {"decision": "approve"}).status_code == 404
    r = en.post(f"/dashboard/exemptions/{e.pk}/decide/", {"decision": "maybe"}, follow=True)
    assert any("approve or refuse" in m for m in messages_of(r))
    e.refresh_from_db()
    assert e.status == "pending"

    r = en.post(f"/dashboard/exemptions/{e.pk}/decide/", {"decision": "approve", "note": "核实属实"}, follow=True)
    assert any("left out of the rates" in m for m in messages_of(r))
    e.refresh_from_db()
    order.refresh_from_db()
    assert e.status == "approved" and e.decision_note == "核实属实" and order.excluded
    r = en.post(f"/dashboard/exemptions/{e.pk}/decide/", {"decision": "refuse"}, follow=True)
    assert any("already been decided" in m for m in messages_of(r))
    e.refresh_from_db()
    assert e.status == "approved"

    # Left out of the rates: the county's resolution is two of two now, and the order still counts.
    rollups.apply_all()
    r = en.get(f"/dashboard/node/{c.county.pk}/")
    assert indicator(r, "resolution") == "100.0%" and indicator(r, "excluded") == "1" and indicator(r, "total") == "5"
    assert en.post("/dashboard/exemptions/999/decide/", {"decision": "approve"}).status_code == 404


def test_a_leader_does_not_decide_their_own_appeal(dw, client_as):
    c = dw.c
    order = WorkOrder.objects.filter(state=State.REOPENED).get()
    # The dispatcher files; the dispatcher is no assessor; the leader decides. The leader who filed may not.
    r = client_as(c.u_zhao, lang="en").post(
        "/dashboard/exemptions/", {"order": str(order.pk), "reason": "重复诉求，已合并处理"}
    )
    assert r.status_code == 302
    e = Exemption.objects.get()
    assert client_as(c.u_zhao).post(f"/dashboard/exemptions/{e.pk}/decide/", {"decision": "approve"}).status_code == 404
    e.requested_by = c.u_qian
    e.save(update_fields=["requested_by"])
    r = client_as(c.u_qian, lang="en").post(
        f"/dashboard/exemptions/{e.pk}/decide/", {"decision": "approve"}, follow=True
    )
    assert any("someone other than who filed it" in m for m in messages_of(r))
    e.refresh_from_db()
    assert e.status == "pending"
    assert not WorkOrder.objects.get(pk=order.pk).excluded


# --- cost --------------------------------------------------------------------------------------------------------


def test_the_pages_cost_a_bounded_number_of_queries(dw, client_as, django_assert_max_num_queries):
    c = dw.c
    qian = client_as(c.u_qian)
    services.scheme_for(today().replace(day=1))
    qian.get("/dashboard/")  # warm the scope's memory
    for url in ("/dashboard/", f"/dashboard/node/{c.county.pk}/", "/dashboard/ranking/?group=grid"):
        # (27: the board lists the rising hot topics, the matters and their place: two queries)
        with django_assert_max_num_queries(27):
            assert qian.get(url).status_code == 200


# --- the workbook itself ----------------------------------------------------------------------------------------


def test_a_rate_reads_the_same_on_the_page_and_in_excel_and_a_name_is_never_a_formula():
    t = excel.Table((excel.Column("name", "名称", "text"), excel.Column("r", "率", "rate")))
    t.add(['=HYPERLINK("http://x")', 13 / 16])  # 81.25%: half up in both places
    t.add(["西村", None])
    ws = load_workbook(io.BytesIO(excel.workbook([("s", "标题", t)]))).worksheets[0]
    assert ws["A3"].data_type == "s" and ws["A3"].value.startswith("=HYPERLINK")
    assert ws["B3"].value == 0.813 and ws["B3"].number_format == "0.0%"
    assert excel.text(13 / 16, "rate") == "81.3%" and [r["text"]["r"] for r in t.shown()] == ["81.3%", "—"]
    assert ws["B4"].value == "—"
