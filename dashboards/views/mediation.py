"""小事不出村 in the command centre: where disputes were settled, for the children of a node (towns of the county,
villages of a town, grids of a village) and month by month, over a range, with drill-down and the same tables as
an Excel download. Read through mediation.reports (scope: mediation.watch; out of scope is the 404 page). Counts
only: no party, no account."""

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
from mediation import reports
from org.models import Level, Node


def _columns(first: Any) -> list[Column]:
    cols = [Column("name", first, "text")]
    cols += [Column(key, label, "rate") for key, label in reports.RATES]
    cols += [Column(key, label, "int") for key, label in reports.columns()]
    return cols


def _values(r: reports.Row, name: str) -> list[Any]:
    return [name, r.settle_rate, r.village_rate, r.town_rate, *(getattr(r, k) for k, _l in reports.columns())]


def mediation_tables(
    request: AuthedRequest, node_id: int | None, start: dt.date, end: dt.date
) -> tuple[Node, Table, Table]:
    node = reports.report_node(request.user, node_id)
    rep = reports.settlement(node, start=start, end=end)
    units = Table(_columns(gettext_lazy("Unit")))
    query = f"start={start.isoformat()}&end={end.isoformat()}"
    for r in rep.rows:
        link = (
            f"{reverse('dashboards:mediation')}?node={r.node_id}&{query}"
            if r.level < Level.GRID and r.node_id != node.pk
            else ""
        )
        units.add(_values(r, r.name), link, r.node_id)
    units.add(_values(rep.total, _("Total")), "", None)
    months = Table(_columns(gettext_lazy("Month")))
    for r in reports.by_month(node, start=start, end=end):
        months.add(_values(r, r.name), "", r.name)
    return node, units, months


@login_required
def mediation_page(request: AuthedRequest) -> HttpResponse:
    start, end = date_range(request)
    node_id = to_int(request.GET.get("node"))
    node, units, months = gate(mediation_tables, request, node_id, start, end)
    return render(
        request, "dashboards/mediation.html",
        {
            "node": node, "units": units, "unit_rows": units.shown(), "months": months, "month_rows": months.shown(),
            **range_context(request, start, end, node=node_id), **base_context(request),
        },
    )  # fmt: skip


@login_required
def mediation_xlsx(request: AuthedRequest) -> HttpResponse:
    start, end = date_range(request, say=False)
    node, units, months = gate(mediation_tables, request, to_int(request.GET.get("node")), start, end)
    heading = _("Disputes settled in %(place)s, %(start)s to %(end)s") % {
        "place": node.name,
        "start": start,
        "end": end,
    }
    content = excel.workbook(
        [(node.name, heading, units), (_("By month"), heading, months)],
        [(str(label), str(reports.DEFINITIONS[key])) for key, label in reports.columns()],
    )
    name = _("Disputes %(place)s %(start)s-%(end)s") % {
        "place": node.name, "start": excel.stamp(start), "end": excel.stamp(end),
    }  # fmt: skip
    return excel.attachment(
        content, f"{name}.xlsx", f"mediation-{node.pk}-{excel.stamp(start)}-{excel.stamp(end)}.xlsx"
    )
