"""党员联户 in the command centre: coverage and activity of household work for the children of a node
(towns of the county, villages of a town, grids of a village) over a range, with drill-down and the same
table as an Excel download. Read through partylink (scope: party.watch; out of scope is the 404 page)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.http import AuthedRequest
from core.pages import gate, to_int
from dashboards import excel
from dashboards.excel import Column, Table
from dashboards.views.common import base_context, date_range, range_context
from org.models import Level
from partylink import reports, selectors

COVERAGE = Column("coverage", gettext_lazy("Coverage"), "rate")


def party_table(request: AuthedRequest, node_id: int | None, start: dt.date, end: dt.date) -> tuple[Any, Table]:
    node = selectors.report_node(request.user, node_id)
    since, until = selectors.day_bounds(start, end)
    report = reports.coverage(node, start=since, end=until)
    columns = [Column("name", gettext_lazy("Unit"), "text"), COVERAGE]
    columns += [Column(key, label, "int") for key, label in reports.columns()]
    table = Table(columns)
    query = f"start={start.isoformat()}&end={end.isoformat()}"
    for r in [*report.rows, report.total]:
        assert r is not None
        link = (
            f"{reverse('dashboards:party')}?node={r.node_id}&{query}"
            if r.level < Level.GRID and r is not report.total
            else ""
        )
        name = r.name if r is not report.total else _("Total")
        table.add([name, r.coverage, *(getattr(r, key) for key, _label in reports.columns())], link, r.node_id)
    return node, table


@login_required
def party_page(request: AuthedRequest) -> HttpResponse:
    start, end = date_range(request)
    node_id = to_int(request.GET.get("node"))
    node, table = gate(party_table, request, node_id, start, end)
    return render(
        request, "dashboards/party.html",
        {
            "node": node, "table": table, "rows": table.shown(),
            **range_context(request, start, end, node=node_id), **base_context(request),
        },
    )  # fmt: skip


@login_required
def party_xlsx(request: AuthedRequest) -> HttpResponse:
    start, end = date_range(request, say=False)
    node, table = gate(party_table, request, to_int(request.GET.get("node")), start, end)
    heading = _("Household work in %(place)s, %(start)s to %(end)s") % {"place": node.name, "start": start, "end": end}
    content = excel.workbook([(node.name, heading, table)], _notes())
    name = _("Household work %(place)s %(start)s-%(end)s") % {
        "place": node.name, "start": excel.stamp(start), "end": excel.stamp(end),
    }  # fmt: skip
    return excel.attachment(content, f"{name}.xlsx", f"party-{node.pk}-{excel.stamp(start)}-{excel.stamp(end)}.xlsx")


def _notes() -> list[tuple[str, str]]:
    return [(str(label), str(reports.DEFINITIONS[key])) for key, label in reports.columns()]
