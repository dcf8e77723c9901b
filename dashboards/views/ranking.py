"""4. Rankings: units of one kind ranked by the weighted three rates over a range, and the workbook."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from accounts.http import AuthedRequest
from core.pages import gate, to_int
from dashboards import excel, indicators, selectors
from dashboards.excel import Table
from dashboards.views.common import (
    RANKING_COLUMNS,
    RANKING_COLUMNS_SHORT,
    base_context,
    date_range,
    group_label,
    range_context,
    scope_or_404,
    weights_list,
)
from org.models import Level, Node


def ranking_table(
    request: HttpRequest, group: str, start: dt.date, end: dt.date, node_id: int | None
) -> tuple[Table, dict[str, Any]]:
    """selectors.ranking_rows as a table (the page, its workbook and the API agree). A department's staff
    see their peers' ranks and scores; the detail (the rates, the page) of their own department only."""
    ds = selectors.dash_scope(request.user)
    data = selectors.ranking_rows(request.user, group, start, end, node_id)
    full = group != "department" or bool(ds.department_paths)
    table = Table(RANKING_COLUMNS if full else RANKING_COLUMNS_SHORT)
    query = urlencode({"start": start.isoformat(), "end": end.isoformat()})
    for r in data["rows"]:
        if group == "department":
            link = (
                reverse("dashboards:department", args=[r["id"]]) + "?" + query
                if full or r["id"] in ds.department_ids
                else ""
            )
        else:
            link = reverse("dashboards:node", args=[r["id"]]) + "?" + query
        values = [r["rank"], r["name"], r["score"]]
        if full:
            values += [r["orders"], *(r["rates"][k] for k in indicators.THREE)]
        table.add(values, link, key=r["id"])
    return table, data


def _groups_for(user: Any, ds: selectors.DashScope) -> list[str]:
    """What the user may rank: the levels below their node, and the departments."""
    groups = []
    home = selectors.home_node(user) if ds.paths else None
    if home is not None:
        groups += [
            g for g, lvl in (("village", Level.VILLAGE), ("town", Level.TOWN), ("grid", Level.GRID)) if home.level < lvl
        ]
    if ds.department_paths or ds.department_ids:
        groups.append("department")
    return groups


def _ranking_params(request: HttpRequest, *, strict: bool = False) -> tuple[str, list[str], int | None]:
    """The group to rank (one the user may: else a message and their first, or for a download 404)."""
    ds = scope_or_404(request.user)
    groups = _groups_for(request.user, ds)
    if not groups:
        raise Http404
    group = request.GET.get("group", "") or groups[0]
    if group not in groups and strict:
        raise Http404
    if group not in groups:
        messages.error(
            request,
            _("Unknown group “%(group)s”: choose one of %(groups)s.")
            % {"group": group[:20], "groups": "、".join(group_label(g) for g in groups)},
        )
        group = groups[0]
    node_id = None
    if group != "department" and request.GET.get("node"):
        node_id = to_int(request.GET.get("node"))
        if node_id is None:
            raise Http404
        gate(selectors.access_node, request.user, node_id)
    return group, groups, node_id


@login_required
def ranking_page(request: AuthedRequest) -> HttpResponse:
    """Units of one kind ranked by the weighted three rates over a range."""
    group, groups, node_id = _ranking_params(request)
    start, end = date_range(request)
    table, data = gate(ranking_table, request, group, start, end, node_id)
    root = Node.objects.filter(pk=node_id).first() if node_id else selectors.home_node(request.user)
    return render(
        request,
        "dashboards/ranking.html",
        {
            "group": group,
            "group_label": group_label(group),
            "groups": [{"key": g, "label": group_label(g)} for g in groups],
            "root": root if group != "department" else None,
            "table": table,
            "rows": table.shown(),
            "scheme": data["scheme"],
            "weights": weights_list(data["weights"]),
            "definitions": [indicators.BY_KEY[k] for k in indicators.THREE],
            **range_context(request, start, end, group=group, node=node_id),
            **base_context(request),
        },
    )


@login_required
def ranking_xlsx(request: AuthedRequest) -> HttpResponse:
    group, _groups, node_id = _ranking_params(request, strict=True)
    start, end = date_range(request, say=False)
    table, data = gate(ranking_table, request, group, start, end, node_id)
    heading = _("Ranking of %(group)s, %(start)s to %(end)s (%(scheme)s)") % {
        "group": group_label(group), "start": start, "end": end, "scheme": data["scheme"],
    }  # fmt: skip
    content = excel.workbook([(group_label(group), heading, table)], excel.definitions(indicators.THREE))
    name = _("Ranking of %(group)s %(start)s-%(end)s") % {
        "group": group_label(group), "start": excel.stamp(start), "end": excel.stamp(end),
    }  # fmt: skip
    return excel.attachment(content, f"{name}.xlsx", f"ranking-{group}-{excel.stamp(start)}-{excel.stamp(end)}.xlsx")
