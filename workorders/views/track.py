"""Public tracking by code: what the public may know of an order."""

from __future__ import annotations

import re

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.translation import gettext as _

from workorders import selectors
from workorders.api import reads_reply, unit_name
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
    """Progress by tracking code, for anyone who has the code, logged in or not.

    What the public sees (decided, and the same on GET /api/v1/track/<code>): the code, the type and
    category, the state, when it was submitted and by when it is due, the handling unit's name, the order
    it was linked to as a duplicate, and the timeline of its public steps — what happened and when, said
    by a unit or desk (住建局, 调度中心), never by a clerk's name.

    What the public never sees: any free text — the staff's reply and notes, the resident's own words —
    nor names of the resident or of staff, phone numbers, the address or the location. A reply is written
    for one resident and may name people, numbers and homes; a tracking code travels (read out over the
    phone, written on paper, forwarded), and a duplicate's reporter is someone else again.

    The appeal's owner, or whoever filed it for them (代办), once logged in, also reads the reply and the
    notes staff marked as public, here and on the order's own page (linked). Everyone else is told that
    the reply goes to the person who submitted the appeal.
    """
    code = code.strip().upper()[:16]
    o = (
        WorkOrder.objects.select_related("category", "primary", "department", "unit_node")
        .filter(tracking_code=code)
        .first()
    )
    if o is None:
        return render(
            request,
            "workorders/track.html",
            {"error": _("No appeal has this tracking code."), "code": code},
            status=404,
        )
    shown = o.primary or o  # a duplicate's reporter follows the primary, as in the API
    viewer = request.user if request.user.is_authenticated else None
    owner = reads_reply(viewer, o)
    events = _events(shown, staff=False, owner=False)
    if not (owner and shown.pk == o.pk):
        # The primary's notes were written for its own resident; nobody else reads free text here.
        events = [{**e, "note": ""} for e in events]
    response = render(
        request,
        "workorders/track_order.html",
        {
            "o": o,
            "shown": shown,
            "state_label": State(o.state).label,
            "events": events,
            "due": _deadline(shown.due_at),
            "unit": unit_name(shown),
            "owner": owner,
            "reply": shown.reply if owner else "",
        },
    )
    response["X-Robots-Tag"] = "noindex"
    # What it shows depends on who asks: never one person's page from a shared cache for another.
    patch_cache_control(response, private=True)
    patch_vary_headers(response, ["Cookie"])
    return response
