"""The command centre in a real browser: the county leader opens the board (the map drawn on a plain
background, no tiles), drills down county → town → village on the node dashboards, computes last
month's assessment of the villages, downloads its Excel file and finds there the numbers the page shows."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.e2e.conftest import login, shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


NAV = "dashboards.context.nav"  # the context processor behind the menu's link to the command centre


@pytest.fixture
def demo(live_server, browser, settings):  # the browser first: no data is seeded where the test will skip
    from django.core.management import call_command

    settings.GONGZHI = {**settings.GONGZHI, "DASHBOARD": {**settings.GONGZHI["DASHBOARD"], "BOARD_REFRESH_SECONDS": 5}}
    processors = settings.TEMPLATES[0]["OPTIONS"]["context_processors"]
    if NAV not in processors:
        settings.TEMPLATES = [
            {**settings.TEMPLATES[0], "OPTIONS": {**settings.TEMPLATES[0]["OPTIONS"],
                                                  "context_processors": [*processors, NAV]}},
            *settings.TEMPLATES[1:],
        ]  # fmt: skip

    from dashboards import rollups

    call_command(
        "seed_demo", "--scale", "small", "--seed", "1", "--orders", "300", "--calls", "0", "--points", "0",
        verbosity=0,
    )  # fmt: skip
    rollups.apply_all()  # what the rollup worker does beside the server
    return live_server.url


def table_rows(page, name: str) -> list[dict[str, str]]:
    """A dashboard table as the page shows it: column key → text, a dict a row."""
    return page.eval_on_selector_all(
        f"table[data-table='{name}'] tbody tr[data-key]",
        """rows => rows.map(tr => Object.fromEntries(
            [...tr.querySelectorAll('[data-col]')].map(c => [c.dataset.col, c.innerText.trim()])))""",
    )


def shown(value, kind: str) -> str:
    """An Excel cell as the page writes it."""
    if value is None or value == "—":
        return "—"
    if kind == "rate":
        return f"{Decimal(str(value)) * 100:.1f}%"
    if kind == "score":
        return f"{Decimal(str(value)):.2f}"
    if kind == "signed":
        return f"{Decimal(str(value)):+.2f}"
    return str(value)


def test_the_leader_drills_down_and_downloads_the_monthly_assessment(demo, browser, tmp_path):
    url = demo
    ctx, page = login(browser, url, "leader")

    # The board: live counts, the grids on the map (circles on a plain background), hot topics.
    page.click("nav.nav a[href='/dashboard/']")
    page.wait_for_selector("[data-live='open'] dd")
    assert page.locator("[data-live]").count() >= 5
    page.wait_for_selector("#board-map.leaflet-container.no-tiles path.leaflet-interactive")
    assert page.locator("#board-map path.leaflet-interactive").count() >= 1
    assert page.locator("table[data-table='grids'] tbody tr").count() >= 1
    shot(page, "dashboard-board")
    # It refreshes itself (htmx), and the map keeps its place and its circles.
    updated = page.inner_text(".board-updated")
    page.wait_for_function(
        "before => document.querySelector('.board-updated').innerText !== before", arg=updated, timeout=20_000
    )
    assert page.locator("#board-map path.leaflet-interactive").count() >= 1

    # County → town → village, each a link in the table of the level below.
    page.click("nav.dash-tabs a[href^='/dashboard/node/']")
    page.wait_for_selector("table[data-table='children']")
    county = page.inner_text("h1")
    assert page.locator(".three-rates .rate-card").count() == 3
    page.locator("table[data-table='children'] tbody tr[data-key] th a").first.click()
    page.wait_for_selector("nav.dash-crumbs li[data-level='3'] a")  # the county, one click back
    town = page.inner_text("h1")
    assert town != county
    page.locator("table[data-table='children'] tbody tr[data-key] th a").first.click()
    page.wait_for_selector("nav.dash-crumbs li[data-level='4'] a")
    assert page.locator("nav.dash-crumbs li a").count() == 2  # county and town above the village
    page.wait_for_selector(".chart.drawn")  # ECharts from node_modules drew beside the tables
    page.locator("nav.dash-crumbs li[data-level='4'] a").click()
    page.wait_for_selector("table[data-table='children'] tbody tr[data-key]")
    shot(page, "dashboard-node")

    # Last month's assessment of the villages: compute, then the Excel file says what the page says.
    page.locator("nav.dash-tabs a[href='/dashboard/assessment/']").click()
    page.wait_for_selector("[data-action='compute']")
    page.click("[data-action='compute']")
    page.wait_for_selector("table[data-table='result'] tbody tr[data-key]")
    rows = table_rows(page, "result")
    assert len(rows) >= 5
    # The lists scale with the group (dashboards.report): 10 % of the villages on each, ties included, fewer
    # than half on either, nobody on both.
    from dashboards.report import list_size

    first_cells = page.locator("table[data-table='result'] tbody tr[data-key] td:first-child")
    size = list_size(len(rows))
    red = page.locator(".list-tag.list-red").count()
    black = page.locator(".list-tag.list-black").count()
    # The data are played up to now, so last month may have villages tied at the top (none with an order
    # scores alike): a tie that would fill half the group puts nobody on the red list.
    top = sum(1 for r in first_cells.all_inner_texts() if int(r) <= size)
    assert red == (top if 2 * top < len(rows) else 0)
    assert red < len(rows) / 2 and black < len(rows) / 2
    assert red + black < len(rows)
    shot(page, "dashboard-assessment")

    with page.expect_download() as info:
        page.click("[data-action='xlsx']")
    download = info.value
    assert download.suggested_filename.endswith(".xlsx")
    path = tmp_path / "assessment.xlsx"
    download.save_as(path)

    from openpyxl import load_workbook

    from dashboards.views import RESULT_COLUMNS

    ws = load_workbook(path).worksheets[0]
    headers = [c.value for c in ws[2]]
    page_headers = page.eval_on_selector_all(
        "table[data-table='result'] thead th", "ths => ths.map(th => th.innerText.trim())"
    )
    assert headers == page_headers
    cells = [list(r) for r in ws.iter_rows(min_row=3, values_only=True)]
    assert len(cells) == len(rows)
    for excel_row, page_row in zip(cells, rows, strict=True):
        for col, value in zip(RESULT_COLUMNS, excel_row, strict=True):
            if col.kind == "listed":
                assert (value or "") == page_row[col.key]
            else:
                assert shown(value, col.kind) == page_row[col.key], (col.key, value, page_row)
    ctx.close()
