"""The 12345 exchange by file: a hotline's export imported with every refused row reported (line and reason),
nothing twice on a second import, nothing at all in a dry run; the worker's progress; the export back."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import translation
from openpyxl import Workbook, load_workbook

from catalog.models import UNCLASSIFIED
from integrations import services
from integrations.models import HotlineOrder, ImportRun
from workorders.models import Channel, WorkOrder
from workorders.services import Unit, workorder_accept, workorder_dispatch, workorder_resolve

HEADER = ["工单编号", "受理时间", "来电人", "来电号码", "事发地址", "诉求内容", "诉求分类", "诉求类型", "承办单位",
          "办理时限"]  # fmt: skip


def good(n: int) -> list[str]:
    return [f"HL{n:06d}", "2026-11-17 09:30:00", "张先生", "13800000000", "东镇东村A1湾组3号", f"路灯不亮第{n}处",
            "路灯损坏", "投诉", "住建局", "2026-11-24 18:00:00"]  # fmt: skip


# Twenty rows a hotline file may carry that cannot be filed, each with what the dispatcher is told.
BAD: list[tuple[list[str], str]] = [
    (["", "2026-11-17 09:30", "", "", "东镇东村A1湾组", "路灯不亮", "路灯损坏", "", "", ""], "number is missing"),
    (["HL 1", "", "", "", "东镇东村A1湾组", "路灯不亮", "路灯损坏", "", "", ""], "only letters"),
    (["B000003", "", "", "", "东镇东村A1湾组", "", "路灯损坏", "", "", ""], "content is missing"),
    (["B000004", "", "", "", "", "路灯不亮", "路灯损坏", "", "", ""], "address is missing"),
    (["B000005", "", "", "", "北京市朝阳区", "路灯不亮", "路灯损坏", "", "", ""], "names no grid"),
    (["B000006", "", "", "", "东镇东村", "路灯不亮", "路灯损坏", "", "", ""], "names no grid"),  # two grids
    (["B000007", "", "", "", "东镇东村A1湾组", "路灯不亮", "天上掉馅饼", "", "", ""], "Unknown category"),
    (["B000008", "", "", "", "东镇东村A1湾组", "路灯不亮", "路灯损坏", "闲聊", "", ""], "Unknown type"),
    (["B000009", "", "", "电话打不通", "东镇东村A1湾组", "路灯不亮", "路灯损坏", "", "", ""], "not a phone"),
    (["B000010", "昨天下午", "", "", "东镇东村A1湾组", "路灯不亮", "路灯损坏", "", "", ""], "not a date"),
    (["B000011", "", "", "", "东镇东村A1湾组", "路灯不亮", "路灯损坏", "", "财神局", ""], "Unknown handling unit"),
    (["B000012", "", "", "", "东镇东村A1湾组", "路灯不亮", "路灯损坏", "", "", "下周"], "not a date"),
    (["B000013", "", "", "", "东镇东村A1湾组", "灯" * 10_001, "路灯损坏", "", "", ""], "longer than"),
    (["B000014", "", "来" * 41, "", "东镇东村A1湾组", "路灯不亮", "路灯损坏", "", "", ""], "longer than"),
    (["B000015", "", "", "", "东镇东村A1湾组" + "号" * 200, "路灯不亮", "路灯损坏", "", "", ""], "longer than"),
    (["X" * 41, "", "", "", "东镇东村A1湾组", "路灯不亮", "路灯损坏", "", "", ""], "longer than"),
    (["B000017", "", "", "", "东镇东村A1湾组", "路灯不亮", "天上的星星", "", "", ""], "Unknown category"),
    (["HL000001", "", "", "", "东镇东村A1湾组", "同一号码再来一次", "路灯损坏", "", "", ""], "same order number"),
    (["B000019", "", "", "", "南镇南村C1湾组", "路灯不亮", "路灯损坏", "", "住建局", "2026-13-45"], "not a date"),
    (["B000020", "2026-11-31 10:00", "", "", "东镇东村A1湾组", "路灯不亮", "路灯损坏", "", "", ""], "not a date"),
]


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8-sig") -> Path:
    with path.open("w", encoding=encoding, newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        w.writerows(rows)
    return path


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):  # the reasons below are checked in English
        yield


@pytest.fixture
def source(world):
    return services.source_create(by=world.c.u_admin, name="12345热线", code="h12345", node=world.c.county)


@pytest.fixture
def mixed(tmp_path):
    """Ten good rows with the twenty bad ones among them: (file, {line: expected reason})."""
    rows: list[list[str]] = []
    expected: dict[int, str] = {}
    bad = iter(BAD)
    for n in range(1, 11):
        rows.append(good(n))
        for _ in range(2):
            row, reason = next(bad)
            rows.append(row)
            expected[len(rows) + 1] = reason  # line 1 is the header
    return write_csv(tmp_path / "mixed.csv", rows), expected


def test_a_file_with_twenty_bad_rows_reports_exactly_those_and_imports_the_rest(world, source, mixed):
    path, expected = mixed
    p = services.import_file(source=source, path=path)
    assert (p.done, p.created, p.existing, p.refused) == (30, 10, 0, 20)
    assert {e["line"]: e["reason"] for e in p.errors}.keys() == expected.keys()
    for e in p.errors:
        assert expected[e["line"]] in e["reason"], e
    orders = WorkOrder.objects.filter(channel=Channel.HOTLINE)
    assert orders.count() == 10 == HotlineOrder.objects.filter(source=source).count()
    o = HotlineOrder.objects.select_related("order").get(number="HL000003").order
    assert o.submitted_by == source.account and o.grid == world.c.a1
    assert o.category.code == "010101" and o.kind == "complaint"
    assert o.contact_name == "张先生" and o.contact_phone == "13800000000"
    assert o.created_at.isoformat() == "2026-11-17T01:30:00+00:00"  # 09:30 in Shanghai
    assert o.suggested_department == world.housing  # the hotline's handling unit, one click from dispatch


def test_a_row_without_a_category_is_filed_to_be_classified(world, source, tmp_path):
    row = good(1)
    row[6] = ""  # no category: free text, as many hotlines send it
    p = services.import_file(source=source, path=write_csv(tmp_path / "free.csv", [row]))
    assert (p.created, p.refused) == (1, 0)
    assert HotlineOrder.objects.select_related("order__category").get().order.category.code == UNCLASSIFIED


def test_the_same_file_again_creates_nothing(world, source, mixed):
    path, _expected = mixed
    services.import_file(source=source, path=path)
    before = WorkOrder.objects.count()
    p = services.import_file(source=source, path=path)
    assert (p.created, p.existing, p.refused) == (0, 10, 20)
    assert WorkOrder.objects.count() == before


def test_a_dry_run_reports_the_same_rows_and_changes_nothing(world, source, mixed):
    path, expected = mixed
    before = (WorkOrder.objects.count(), HotlineOrder.objects.count())
    p = services.import_file(source=source, path=path, dry_run=True)
    assert (p.created, p.refused) == (10, 20)
    assert {e["line"] for e in p.errors} == set(expected)
    assert (WorkOrder.objects.count(), HotlineOrder.objects.count()) == before


def test_excel_and_gb18030_files_read_alike(world, source, tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.append(HEADER)
    for n in range(1, 4):
        ws.append(good(n))
    ws.append([*good(4)[:4], "", *good(4)[5:]])  # no address: refused, line 5
    wb.save(tmp_path / "f.xlsx")
    p = services.import_file(source=source, path=tmp_path / "f.xlsx")
    assert (p.created, p.refused, p.errors[0]["line"]) == (3, 1, 5)
    gbk = write_csv(tmp_path / "gbk.csv", [good(n) for n in range(10, 13)], encoding="gb18030")
    p = services.import_file(source=source, path=gbk)
    assert p.created == 3
    assert WorkOrder.objects.filter(text="路灯不亮第11处").exists()


def test_a_file_without_a_required_column_is_refused_whole(world, source, tmp_path):
    path = tmp_path / "cols.csv"
    path.write_text("编号,内容\n1,路灯不亮\n", encoding="utf-8")
    with pytest.raises(services.hotline.RowError, match="工单编号"):
        services.import_file(source=source, path=path)
    assert not WorkOrder.objects.exists()


def test_the_source_mapping_names_other_columns_categories_and_units(world, source, tmp_path):
    columns = {"number": "单号", "content": "内容", "address": "地点", "category": "类别", "unit": "单位"}
    source.mapping = {"columns": columns, "categories": {"路灯不亮": "010101"}, "units": {"东镇政府": world.c.t1.code}}
    source.save()
    path = tmp_path / "m.csv"
    path.write_text("单号,内容,地点,类别,单位\nM1,村口路灯不亮,东镇东村A2湾组,路灯不亮,东镇政府\n", encoding="utf-8")
    p = services.import_file(source=source, path=path)
    assert p.created == 1, p.errors
    o = WorkOrder.objects.get(hotline__number="M1")
    assert (o.grid, o.category.code, o.suggested_node) == (world.c.a2, "010101", world.c.t1)


def test_the_worker_imports_an_upload_and_the_page_shows_progress(world, source, mixed, client_as):
    path, _expected = mixed
    upload = SimpleUploadedFile("hotline.csv", path.read_bytes(), content_type="text/csv")
    run = services.import_queue(source=source, by=world.c.u_zhao, upload=upload, dry_run=False)
    assert run.state == ImportRun.State.QUEUED
    c = client_as(world.c.u_zhao)
    assert "hotline.csv" in c.get(f"/integrations/imports/{run.pk}/").content.decode()
    while services.import_step():
        pass
    run.refresh_from_db()
    assert (run.state, run.total, run.done, run.created, run.refused, run.percent) == ("done", 30, 30, 10, 20, 100)
    html = c.get(f"/integrations/imports/{run.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert 'value="100"' in html and "every 1s" not in html  # finished: the page stops asking
    refused = c.get(f"/integrations/imports/{run.pk}/refused.csv").content.decode("utf-8-sig")
    assert len(list(csv.reader(io.StringIO(refused)))) == 21


def test_an_import_taken_over_after_a_crash_goes_on_from_the_rows_done(world, source, tmp_path):
    path = write_csv(tmp_path / "r.csv", [good(n) for n in range(1, 9)])
    upload = SimpleUploadedFile("r.csv", path.read_bytes())
    run = services.import_queue(source=source, by=world.c.u_zhao, upload=upload, dry_run=False)
    services.import_file(source=source, path=run.file.path, start=0)  # the dead worker's part ...
    ImportRun.objects.filter(pk=run.pk).update(state="running", done=5, created=5, total=8)  # ... saved up to row 5
    while services.import_step():
        pass
    run.refresh_from_db()
    assert (run.state, run.done, run.created, run.existing) == ("done", 8, 5 + 0, 3)
    assert WorkOrder.objects.count() == 8


def test_the_command_imports_with_a_progress_line(world, source, mixed):
    path, _expected = mixed
    out, err = io.StringIO(), io.StringIO()
    with translation.override("en"):
        call_command("hotline_import", str(path), "--source", "h12345", stdout=out, stderr=err)
    assert "30/30" in err.getvalue()
    assert sum(1 for x in out.getvalue().splitlines() if x.startswith("line ")) == 20
    assert "30 rows: 10 orders created, 0 already there, 20 refused" in out.getvalue()
    assert WorkOrder.objects.count() == 10


def test_who_may_import_and_who_manages_sources(world, source, client_as):
    assert client_as(world.c.u_li).get("/integrations/").status_code == 404  # a grid worker
    assert client_as(world.c.u_zhao).get("/integrations/import/").status_code == 200  # the dispatcher imports
    assert client_as(world.c.u_zhao).get(f"/integrations/sources/{source.pk}/").status_code == 404  # ... not manages
    page = client_as(world.c.u_admin).get(f"/integrations/sources/{source.pk}/").content.decode()
    assert source.secret in page and "/api/v1/hotline/h12345/orders" in page
    run = services.import_queue(
        source=source, by=world.c.u_zhao, upload=SimpleUploadedFile("y.csv", b"a,b\n"), dry_run=True
    )
    assert client_as(world.c.u_zhao).get(f"/integrations/imports/{run.pk}/").status_code == 200
    assert client_as(world.c.u_wu).get(f"/integrations/imports/{run.pk}/").status_code == 404  # a town's clerk
    assert client_as(world.c.u_wu).get(f"/integrations/sources/{source.pk}/export/").status_code == 404
    upload = SimpleUploadedFile("x.csv", b"a,b\n")
    with pytest.raises(services.NotFound):
        services.import_queue(source=source, by=world.c.u_li, upload=upload, dry_run=False)


def test_export_round_trips_the_states(world, source, tmp_path, client_as):
    path = write_csv(tmp_path / "e.csv", [good(n) for n in range(1, 4)])
    services.import_file(source=source, path=path)
    a, b, _c = (WorkOrder.objects.get(hotline__number=f"HL{n:06d}") for n in range(1, 4))
    zhao, wang = world.c.u_zhao, world.c.u_wang
    workorder_dispatch(order=a, to=Unit(department=world.c.civil_affairs), by=zhao)
    workorder_dispatch(order=b, to=Unit(department=world.c.civil_affairs), by=zhao)
    workorder_accept(order=WorkOrder.objects.get(pk=b.pk), by=wang)
    workorder_resolve(order=WorkOrder.objects.get(pk=b.pk), by=wang, reply="已修好")
    c = client_as(zhao)
    r = c.post(f"/integrations/sources/{source.pk}/export/", {"format": "xlsx", "since": "", "mark": "on"})
    assert r.status_code == 200
    wb = load_workbook(io.BytesIO(r.content))
    rows = list(wb.active.iter_rows(values_only=True))
    body = rows[1:]
    states = {row[0]: row[3] for row in body}  # number, unit, tracking code, state code, …
    assert states == {f"HL{n:06d}": WorkOrder.objects.get(hotline__number=f"HL{n:06d}").state for n in range(1, 4)}
    assert {row[0]: row[5] for row in body}["HL000002"] == "已修好"
    source.refresh_from_db()
    assert source.exported_until is not None
    # The next export starts where this one ended: nothing changed since, nothing exported.
    since = source.exported_until.isoformat()
    r = c.post(f"/integrations/sources/{source.pk}/export/", {"format": "csv", "since": since})
    assert len(list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))) == 1
