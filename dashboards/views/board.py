"""1. The board (综合指挥平台): what is happening now under a node, refreshed by itself."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from accounts.http import AuthedRequest
from core.clock import today
from core.pages import gate, to_int
from dashboards import board, selectors
from dashboards.views.common import base_context, scope_or_404
from org.models import Node
from org.policy import under
from workorders.hot import with_bars
from workorders.selectors import hot_topics_for

MAP_DAYS = 30  # the board's map counts the orders of the last 30 days
ALL_GRIDS = 200  # up to this many grids the board lists them all, quiet ones too


@login_required
def board_page(request: AuthedRequest) -> HttpResponse:
    """综合指挥平台: what is happening now under the user's node (or ?node=), refreshed by itself."""
    ds = scope_or_404(request.user)
    node_id = to_int(request.GET.get("node"))
    if request.GET.get("node") and node_id is None:
        raise Http404
    node = gate(selectors.access_node, request.user, node_id) if node_id else selectors.home_node(request.user)
    if node is None:
        # Department staff have no place in the tree: their board is their department's numbers.
        return redirect("dashboards:department", department_id=sorted(ds.department_ids)[0])
    t = today()
    grids = board.grid_map(node, t - dt.timedelta(days=MAP_DAYS - 1), t)
    if len(grids) > ALL_GRIDS:  # a whole county: the grids with something to show
        grids = [g for g in grids if g["total"] or g["open"]]
    for g in grids:
        g["url"] = reverse("dashboards:node", args=[g["id"]])
    hot = board.hot_categories(node)
    worst = board.most_overdue(node)
    refresh = max(5, int(settings.GONGZHI["DASHBOARD"].get("BOARD_REFRESH_SECONDS", 30)))
    ctx = {
        "node": node,
        "breadcrumb": selectors.breadcrumb(request.user, node),
        "live": board.live(node),
        "grids": sorted(grids, key=lambda g: (-g["total"], g["name"])),
        "located": [g for g in grids if g["lat"] is not None and g["lng"] is not None],
        "map_days": MAP_DAYS,
        "hot": hot,
        "hot_chart": {
            "type": "bar",
            "labels": [h["label"] for h in hot],
            "series": [
                {"name": _("Last 7 days"), "values": [h["count"] for h in hot]},
                {"name": _("The 7 days before"), "values": [h["before"] for h in hot]},
            ],
        },
        # 未诉先办: the matters rising under this node, as the dispatcher's console shows them.
        "rising": with_bars(
            list(hot_topics_for(request.user, rising_only=True).filter(path__startswith=node.path)[:8])
        ),
        "worst_nodes": worst["nodes"],
        "worst_departments": worst["departments"] if ds.department_paths else [],
        "refresh": refresh,
        "part_url": request.path + "?" + urlencode({"part": "live", "node": node.pk}),
        **base_context(request),
    }
    if request.GET.get("part") == "live":
        return render(request, "dashboards/_board_live.html", ctx)
    ctx["party"] = _party_tiles(request, node)
    return render(request, "dashboards/board.html", ctx)


def _party_tiles(request: AuthedRequest, node: Node) -> dict[str, Any] | None:
    """党员联户 this month under the node, for those who read its reports (on the page's load, not on every
    refresh: the figures move by the day)."""
    from partylink import reports
    from partylink.selectors import day_bounds, watch_paths

    if not under(watch_paths(request.user), node.path):
        return None
    t = today()
    start, end = day_bounds(t.replace(day=1), t)
    s = reports.summary(node, start=start, end=end)
    return {"coverage": s.coverage, "unvisited": s.unvisited, "open": s.open, "visits": s.visits}
