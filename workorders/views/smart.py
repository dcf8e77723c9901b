"""Smart dispatch's pages: hot topics (未诉先办) with the appeals behind them, and how the text model does."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as PageForbidden
from django.http import HttpResponse
from django.shortcuts import render

from accounts.http import AuthedRequest
from core.clock import now
from core.pages import gate as _gate
from triage.models import Classifier
from workorders import selectors
from workorders.access import orders_for, work_scope
from workorders.hot import with_bars
from workorders.services import routing
from workorders.views.common import _vary

REPORT_DAYS = 30


def _staff_gate(request: AuthedRequest) -> None:
    if not work_scope(request.user).is_staff:
        raise PageForbidden


@login_required
def hot_list_page(request: AuthedRequest) -> HttpResponse:
    _staff_gate(request)
    topics = with_bars(list(selectors.hot_topics_for(request.user)[:50]))
    ctx = {"topics": topics, "households": routing.setting("HOT_HOUSEHOLDS"), "days": routing.setting("HOT_DAYS")}
    return _vary(render(request, "workorders/hot_list.html", ctx))


@login_required
def hot_page(request: AuthedRequest, topic_id: int) -> HttpResponse:
    _staff_gate(request)
    topic, orders = _gate(selectors.access_hot_topic, request.user, topic_id)
    return _vary(render(request, "workorders/hot.html", {"topic": topic, "orders": orders}))


@login_required
def triage_page(request: AuthedRequest) -> HttpResponse:
    """The current text model, what it measured when trained, and its guesses against what dispatchers
    and units decided over the last 30 days, by top-level category (the viewer's part of the county)."""
    ws = work_scope(request.user)
    if not (ws.dispatch_paths or ws.supervise_paths):
        raise PageForbidden
    current = Classifier.objects.filter(is_current=True).defer("category_model", "unit_model").first()
    since = now() - dt.timedelta(days=REPORT_DAYS)
    rows = routing.accuracy_report(since=since, orders=orders_for(request.user))
    ctx = {
        "current": current,
        "rows": rows,
        "total": routing.Tally.total(rows),
        "days": REPORT_DAYS,
        "auto_at": routing.setting("AUTO_DISPATCH_AT"),
        "topics": with_bars(list(selectors.hot_topics_for(request.user, rising_only=True)[:10])),
    }
    return _vary(render(request, "workorders/triage.html", ctx))
