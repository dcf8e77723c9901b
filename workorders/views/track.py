"""Public tracking by code: what the public may know of an order."""

from __future__ import annotations

import re

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from workorders import selectors
from workorders.models import WorkOrder
from workorders.states import State
from workorders.views.common import _deadline
from workorders.views.order import _events


def track_page(request: HttpRequest) -> HttpResponse:
    # Read out over the phone, codes arrive with spaces and dashes: "ZS95 42E2-PS".
    code = re.sub(r"[\s-]", "", request.GET.get("code", "")).upper()
    if code:
        if selectors.looks_like_code(code):
            return redirect("track:order", code)
        return render(
            request,
            "workorders/track.html",
            {"error": _("A tracking code has 10 letters and digits, without 0, 1, I or O.")},
        )
    return render(request, "workorders/track.html", {})


def track_order_page(request: HttpRequest, code: str) -> HttpResponse:
    """Progress by tracking code, for anyone: the public steps and the reply, nobody's name or number."""
    code = code.strip().upper()[:16]
    o = WorkOrder.objects.select_related("category", "primary").filter(tracking_code=code).first()
    if o is None:
        return render(
            request,
            "workorders/track.html",
            {"error": _("No appeal has this tracking code."), "code": code},
            status=404,
        )
    shown = o.primary or o  # a duplicate's reporter follows the primary, as in the API
    events = _events(shown, staff=False, owner=False)
    response = render(
        request,
        "workorders/track_order.html",
        {"o": o, "shown": shown, "state_label": State(o.state).label, "events": events, "due": _deadline(shown.due_at)},
    )
    response["X-Robots-Tag"] = "noindex"
    return response
