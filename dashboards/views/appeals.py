"""6. Appeals (甄别申诉): the handling unit asks to leave an order out of the rates, a leader decides."""

from __future__ import annotations

import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.http import AuthedRequest
from core.forms import bind
from core.pages import attempt, to_int
from dashboards import indicators, services
from dashboards.forms import DecideForm, ExemptionForm
from dashboards.models import Exemption
from dashboards.views.common import assessor_or_404, scope_or_404
from org.access import paths_q
from workorders.models import WorkOrder

TRACKING_RE = re.compile(r"^[A-Za-z0-9-]{4,16}$")


def _find_order(request: HttpRequest, value: str) -> WorkOrder | None:
    """The order named by its number or its tracking code, if the user may see it."""
    from workorders.access import orders_for

    value = value.strip()
    pk = to_int(value)
    if pk is not None and pk > 0:
        q = Q(pk=pk)
    elif TRACKING_RE.match(value):
        q = Q(tracking_code__iexact=value)
    else:
        return None
    return orders_for(request.user).filter(q).first()


@login_required
def exemptions_page(request: AuthedRequest) -> HttpResponse:
    """Appeals to leave an order out of the rates: the handling unit files one, the leaders decide."""
    ds = scope_or_404(request.user)
    values = {"order": request.GET.get("order", "")[:20], "reason": ""}
    status = 200
    if request.method == "POST":
        form = bind(request, ExemptionForm)
        if form is None:
            return redirect("dashboards:exemptions")
        values = {"order": form.cleaned_data["order"], "reason": form.cleaned_data["reason"]}
        order = _find_order(request, values["order"])
        if order is None:
            messages.error(request, _("No such work order in your part of the county: check its number."))
            status = 422
        else:
            done = attempt(request, services.exemption_request, order=order, by=request.user, reason=values["reason"])
            if done is not None:
                messages.success(
                    request,
                    _("The appeal for %(code)s is filed; the leaders will decide.") % {"code": order.tracking_code},
                )
                return redirect("dashboards:exemptions")
            status = 422
    pending: list[Exemption] = []
    decided: list[Exemption] = []
    if ds.assess_paths:
        mine = Exemption.objects.filter(paths_q(ds.assess_paths, "order__path")).select_related(
            "order", "department", "requested_by", "decided_by"
        )
        pending = list(mine.filter(status=Exemption.Status.PENDING).order_by("requested_at", "id")[:200])
        decided = list(mine.exclude(status=Exemption.Status.PENDING).order_by("-decided_at", "-id")[:20])
    filed = list(
        Exemption.objects.filter(requested_by=request.user).select_related("order", "decided_by").order_by("-id")[:50]
    )
    return render(
        request,
        "dashboards/exemptions.html",
        {
            "assessor": bool(ds.assess_paths),
            "pending": pending,
            "decided": decided,
            "filed": filed,
            "values": values,
            "excluded_definition": indicators.BY_KEY["excluded"].definition,
        },
        status=status,
    )


@login_required
@require_POST
def exemption_decide(request: AuthedRequest, exemption_id: int) -> HttpResponse:
    ds = assessor_or_404(request.user)
    e = Exemption.objects.select_related("order").filter(pk=exemption_id).first()
    if e is None or not ds.assesses(e.order.path):
        raise Http404
    form = bind(request, DecideForm)
    if form is None:
        return redirect("dashboards:exemptions")
    approve = form.cleaned_data["decision"] == "approve"
    done = attempt(
        request, services.exemption_decide, exemption=e, by=request.user, approve=approve,
        note=form.cleaned_data["note"],
    )  # fmt: skip
    if done is not None:
        text = (
            _("Approved: %(code)s is left out of the rates.") if approve else _("Refused: %(code)s stays in the rates.")
        )
        messages.success(request, text % {"code": e.order.tracking_code})
    return redirect("dashboards:exemptions")
