"""A 12345 hotline file in a real browser: the dispatcher uploads the hotline's export with a bad row in it; the
worker imports it while the page shows the progress bar, and the page ends with the count and the refused row's
line and reason; the export back downloads the hotline's orders."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import login, shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HEADER = "工单编号,受理时间,来电人,来电号码,事发地址,诉求内容,诉求分类,诉求类型,承办单位,办理时限\n"


def test_a_dispatcher_imports_a_hotline_file_and_sees_it_through(live_server, browser, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    from gongzhi.test import build_county, build_work_world
    from integrations import services
    from integrations.models import HotlineOrder, ImportRun

    c = build_county()
    build_work_world(c)
    for u in (c.u_zhao,):
        u.set_password("gongzhi-demo")
        u.save()
    source = services.source_create(by=c.u_admin, name="12345热线", code="h12345", node=c.county)
    line = (
        "HL{n:04d},2026-11-17 09:{n:02d}:00,市民,1390000{n:04d},东镇东村A1湾组{n}号,路灯不亮第{n}处,路灯损坏,投诉,,\n"
    )
    rows = [line.format(n=n) for n in range(1, 9)]
    rows.insert(3, "HL0099,2026-11-17 09:30:00,市民,13900000099,火星基地1号,路灯不亮,路灯损坏,投诉,,\n")
    path = tmp_path / "hotline.csv"
    path.write_text(HEADER + "".join(rows), encoding="utf-8-sig")
    base = live_server.url

    ctx, page = login(browser, base, "zhao")
    page.goto(f"{base}/integrations/")
    page.click("a[href='/integrations/import/']")
    page.select_option("#imp-source", str(source.pk))
    page.set_input_files("#imp-file", str(path))
    page.uncheck("[name='dry_run']")
    page.click("button[type='submit'].primary")
    page.wait_for_url("**/integrations/imports/*/")
    assert page.locator("#import-progress[data-state='queued']").count() == 1
    while services.import_step():  # the run_imports worker, in this process
        pass
    page.wait_for_selector("#import-progress[data-state='done']")  # the page asks every second by itself
    assert page.locator("[data-created]").inner_text() == "8"
    assert page.locator("[data-refused]").inner_text() == "1"
    assert "火星基地" in page.locator("#import-progress table").inner_text()
    assert page.locator("#import-progress td").first.inner_text() == "5"  # the line in the file
    shot(page, "integrations-import")
    run = ImportRun.objects.get()
    assert (run.state, run.created, run.refused) == ("done", 8, 1)
    assert HotlineOrder.objects.filter(source=source).count() == 8

    page.goto(f"{base}/integrations/sources/{source.pk}/export/")
    with page.expect_download() as dl:
        page.click("button[type='submit'].primary")
    assert dl.value.suggested_filename.startswith("h12345-") and dl.value.suggested_filename.endswith(".xlsx")
    ctx.close()
