"""2–3. A node's and a department's indicators over a range, with drill-down to the grids, and their
Excel downloads."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from accounts.http import AuthedRequest
from core.pages import gate
from dashboards import board, excel, indicators, selectors
from dashboards.excel import Table
from dashboards.views.common import (
    THREE,
    UNIT_COLUMNS,
    base_context,
    basic_weight_for,
    date_range,
    empty_numbers,
    indicator_list,
    range_context,
    scope_or_404,
    unit_row,
    volume_tables,
    weights_list,
)
from dashboards.views.ranking import ranking_table
from org.models import Department, Level, Node


def _node_table(request: HttpRequest, node: Node, start: dt.date, end: dt.date) -> tuple[list[Node], Table]:
    kids = selectors.children(node)
    weight = basic_weight_for(start)
    below = (
        indicators.for_units(level=kids[0].level, start=start, end=end, paths=(node.path,), basic_weight=weight)
        if kids
        else {}
    )
    table = Table(UNIT_COLUMNS)
    empty = empty_numbers()
    for k in kids:
        link = (
            reverse("dashboards:node", args=[k.pk])
            + "?"
            + urlencode({"start": start.isoformat(), "end": end.isoformat()})
        )
        table.add(unit_row(k.name, below.get(k.pk, empty)), link)
    return kids, table


@login_required
def node_page(request: AuthedRequest, node_id: int) -> HttpResponse:
    """A node's indicators over a range, its children's (each a link one level down), and its volumes."""
    ds = scope_or_404(request.user)
    node = gate(selectors.access_node, request.user, node_id)
    start, end = date_range(request)
    n = indicators.for_unit(node_id=node.pk, start=start, end=end, basic_weight=basic_weight_for(start))
    kids, table = _node_table(request, node, start, end)
    rows = table.shown()
    departments = []
    if ds.department_paths:
        departments = [
            d
            for d in Department.objects.filter(jurisdiction=node, is_active=True).order_by("code")
            if ds.sees_department(d)
        ]
    child_level = kids[0].get_level_display() if kids else ""
    return render(
        request,
        "dashboards/node.html",
        {
            "node": node,
            "breadcrumb": selectors.breadcrumb(request.user, node),
            "numbers": n,
            "indicators": indicator_list(n),
            "children": kids,
            "child_level": child_level,
            "table": table,
            "rows": rows,
            "rates_chart": {
                "type": "bar",
                "percent": True,
                "labels": [r["values"]["name"] for r in rows],
                "series": [
                    {"name": str(c.label), "values": [_chart_rate(r["values"][c.key]) for r in rows]} for c in THREE
                ],
            },
            "volumes": volume_tables(board.volume(node=node, start=start, end=end)),
            "departments": departments,
            "ranking_group": _ranking_group_below(node),
            **range_context(request, start, end),
            **base_context(request),
        },
    )


def _chart_rate(x: float | None) -> float | None:
    r = excel.rate(x)
    return None if r is None else float(r * 100)


def _ranking_group_below(node: Node) -> str:
    below: dict[int, str] = {Level.COUNTY: "town", Level.TOWN: "village", Level.VILLAGE: "grid"}
    return below.get(node.level, "")


@login_required
def node_xlsx(request: AuthedRequest, node_id: int) -> HttpResponse:
    scope_or_404(request.user)
    node = gate(selectors.access_node, request.user, node_id)
    start, end = date_range(request, say=False)
    n = indicators.for_unit(node_id=node.pk, start=start, end=end, basic_weight=basic_weight_for(start))
    _kids, table = _node_table(request, node, start, end)
    own = Table(UNIT_COLUMNS)
    own.add(unit_row(node.name, n))
    heading = _("%(name)s, %(start)s to %(end)s") % {"name": node.name, "start": start, "end": end}
    content = excel.workbook(
        [(_("Below"), heading, table), (node.name, heading, own)],
        excel.definitions(c.key for c in UNIT_COLUMNS[1:]),
    )
    name = _("%(name)s indicators %(start)s-%(end)s") % {
        "name": node.name, "start": excel.stamp(start), "end": excel.stamp(end),
    }  # fmt: skip
    return excel.attachment(content, f"{name}.xlsx", f"node-{node.pk}-{excel.stamp(start)}-{excel.stamp(end)}.xlsx")


@login_required
def department_page(request: AuthedRequest, department_id: int) -> HttpResponse:
    """A department's own numbers and volumes, and where it stands among the departments."""
    scope_or_404(request.user)
    d = gate(selectors.access_department, request.user, department_id)
    start, end = date_range(request)
    n = indicators.for_unit(department_id=d.pk, start=start, end=end, basic_weight=basic_weight_for(start))
    ranking, data = ranking_table(request, "department", start, end, None)
    rows = ranking.shown()
    for r in rows:
        r["mine"] = r["key"] == d.pk
    return render(
        request,
        "dashboards/department.html",
        {
            "department": d,
            "numbers": n,
            "indicators": indicator_list(n),
            "ranking": ranking,
            "rows": rows,
            "weights": weights_list(data["weights"]),
            "scheme": data["scheme"],
            "volumes": volume_tables(board.volume(department_id=d.pk, start=start, end=end)),
            **range_context(request, start, end),
            **base_context(request),
        },
    )
