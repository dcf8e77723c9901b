"""Recognition and figures: the leaderboard with the good-person nominations, and the report."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.http import AuthedRequest
from core.extra import attach
from core.forms import bind
from core.pages import attempt, gate, to_int
from org.access import get_scope, paths_q, residents_for
from org.models import Level, Node, path_prefixes
from points import forms, selectors, services
from points.models import Entry
from points.views.common import PERIODS, _people, _search

# --- recognition and figures ---------------------------------------------------------------------------


def _period(request: HttpRequest) -> dict[str, Any]:
    """The period of a leaderboard or report from ?period=month|year|all&month=YYYY-MM (Asia/Shanghai)."""
    period = request.GET.get("period", "month")
    if period not in PERIODS:
        period = "month"
    since, until, y, m = selectors.period_bounds(period, request.GET.get("month", ""))
    return {"period": period, "month": f"{y:04d}-{m:02d}", "first": dt.date(y, m, 1), "since": since, "until": until}


def _node_choices(user: Any) -> list[Node]:
    """Places a leaderboard or report can be asked for: the user's own town, village and grid; for staff,
    the towns and villages of their part of the county."""
    scope = get_scope(user)
    q = paths_q(tuple(p for p in scope.node_paths if scope.own is None or p != scope.own.path), "path")
    nodes = list(Node.objects.filter(q, level__in=[Level.COUNTY, Level.TOWN, Level.VILLAGE]).order_by("path")[:300])
    if scope.own is not None:
        mine = Node.objects.filter(path__in=path_prefixes(scope.own.path), level__gte=Level.TOWN).order_by("path")
        nodes = [*nodes, *(n for n in mine if n not in nodes)]
    return nodes


def _node(request: HttpRequest) -> Node:
    return gate(selectors.board_place, request.user, to_int(request.GET.get("node")))


@login_required
def ranking_page(request: AuthedRequest) -> HttpResponse:
    """积分排行: who earned most under a place in a period; the good-person nominations of the month."""
    node = _node(request)
    period = _period(request)
    board = selectors.leaderboard(node.path, period["since"], period["until"], limit=50)
    nominators = selectors.manager_paths(request.user, grid_workers=True)
    nominations = list(
        selectors.nominations_for(request.user)
        .filter(month=period["first"])
        .select_related("resident")
        .order_by("state", "id")[:200]
    )
    for n in nominations:
        attach(n, actions=selectors.nomination_actions(request.user, n))
    nq = request.GET.get("nq", "").replace("\x00", "").strip()[:30]
    return render(
        request,
        "points/ranking.html",
        {
            "node": node,
            "nodes": _node_choices(request.user),
            **period,
            "periods": PERIODS,
            "board": board,
            "nominations": nominations,
            "can_nominate": bool(nominators),
            "nq": nq,
            "found": _people(request, _search(request, nq, nominators)) if nominators else [],
        },
    )


@login_required
@require_POST
def nominate(request: AuthedRequest) -> HttpResponse:
    back = reverse("points:ranking")
    form = bind(request, forms.NominateForm)
    if form is None:
        return redirect(back)
    d = form.cleaned_data
    if d["resident"] is None:
        messages.error(request, _("Choose a resident first."))
        return redirect(back)
    resident = residents_for(request.user).filter(pk=d["resident"]).first()
    if resident is None:
        raise Http404
    raw = d["month"]
    try:
        month = dt.date.fromisoformat(f"{raw}-01")
    except ValueError:
        messages.error(request, _("Choose the month."))
        return redirect(back)
    done = attempt(
        request,
        services.nominate,
        resident=resident,
        month=month,
        reason=d["reason"],
        by=request.user,
    )
    if done is not None:
        messages.success(request, _("%(name)s is nominated as a good person.") % {"name": resident.name})
    return redirect(back + "?" + urlencode({"month": raw}))


@login_required
@require_POST
def nomination_decide(request: AuthedRequest, nomination_id: int, decision: str) -> HttpResponse:
    n = selectors.nominations_for(request.user).filter(pk=nomination_id).select_related("resident").first()
    if n is None or decision not in ("select", "pass"):
        raise Http404
    if bind(request, forms.NominationDecideForm) is None:
        return redirect(reverse("points:ranking") + "?" + urlencode({"month": n.month.strftime("%Y-%m")}))
    done = attempt(request, services.nomination_decide, nomination=n, select=decision == "select", by=request.user)
    if done is not None and decision == "select":
        messages.success(request, _("%(name)s is a good person of the month.") % {"name": n.resident.name})
    return redirect(reverse("points:ranking") + "?" + urlencode({"month": n.month.strftime("%Y-%m")}))


@login_required
def report_page(request: AuthedRequest) -> HttpResponse:
    """积分统计: points issued, spent, refunded, deducted and expired under a place, and what is held now."""
    user = request.user
    node = _node(request)
    if not selectors.reads_summary(user, node.path):
        raise Http404
    period = _period(request)
    totals = selectors.summary(node.path, period["since"], period["until"])
    outstanding = selectors.outstanding(node.path)
    rows = [
        (_("Issued"), totals[Entry.Kind.AWARD]),
        (_("Redeemed"), totals[Entry.Kind.REDEEM]),
        (_("Refunded"), totals[Entry.Kind.REFUND]),
        (_("Deducted"), totals[Entry.Kind.DEDUCT]),
        (_("Expired"), totals[Entry.Kind.EXPIRE]),
        (_("Reversed"), totals[Entry.Kind.REVERSE]),
    ]
    return render(
        request,
        "points/report.html",
        {
            "node": node,
            "nodes": _node_choices(user),
            **period,
            "periods": PERIODS,
            "rows": rows,
            "totals": totals,
            "outstanding": outstanding,
        },
    )
