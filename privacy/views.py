"""Personal-data pages: a resident's own data (page and JSON download) with a form to ask for a correction
or deletion; for who answers such requests (org.policy Cap.PRIVACY_HANDLE), the requests of their part of
the tree and the answer to one; and the access log as CSV for an audit. Writes go through privacy.services;
a refusal is a message."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.http import AuthedRequest
from core.clock import now, today
from core.forms import bind
from core.pages import attempt, gate
from privacy import export, forms, selectors, services
from privacy.models import DataRequest, OwnDataAccess
from privacy.states import DATA_REQUEST


@login_required
@require_http_methods(["GET", "POST"])
def mine(request: AuthedRequest) -> HttpResponse:
    """我的个人信息: what the county holds about me, a download of it, and my correction/deletion requests."""
    resident = selectors.own_resident(request.user)
    if resident is None:
        return render(request, "privacy/not_linked.html")
    if request.method == "POST":
        form = bind(request, forms.RequestForm)
        if form is not None and attempt(
            request, services.datarequest_file, resident=resident, by=request.user, **form.cleaned_data
        ):
            messages.success(request, _("Your request is filed. You will get a message when it is answered."))
        return redirect("privacy:mine")
    show = request.GET.get("show") == "numbers"  # masked until the resident taps to see them
    data = selectors.my_data(request.user, channel="page", path=request.path, resident=resident, reveal=show)
    services.own_data_accessed(user=request.user, resident=resident, channel=OwnDataAccess.Channel.PAGE)
    response = render(
        request, "privacy/mine.html",
        {
            "data": data, "rows": selectors.PAGE_ROWS, "requests": selectors.my_requests(request.user)[:20],
            "kinds": DataRequest.Kind.choices, "numbers_shown": show,
            "has_numbers": bool(resident.phone or resident.id_number),
        },
    )  # fmt: skip
    response["Cache-Control"] = "no-store"  # the whole ID number and phone: not for a shared browser's cache
    return response


@login_required
def mine_json(request: AuthedRequest) -> HttpResponse:
    resident = selectors.own_resident(request.user)
    if resident is None:
        raise Http404(_("Your login is not linked to a resident."))
    data = selectors.my_data(request.user, channel="download", path=request.path, resident=resident)
    services.own_data_accessed(user=request.user, resident=resident, channel=OwnDataAccess.Channel.DOWNLOAD)
    body = json.dumps(
        {"exported_at": timezone.localtime(now()), **(data or {})},
        cls=DjangoJSONEncoder, ensure_ascii=False, indent=2,
    )  # fmt: skip
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="my-data-{today():%Y%m%d}.json"'
    response["Cache-Control"] = "no-store"
    return response


# --- staff -----------------------------------------------------------------------------------------------


def _handler(request: AuthedRequest) -> None:
    if not selectors.handle_paths(request.user):
        raise Http404


@login_required
def requests_page(request: AuthedRequest) -> HttpResponse:
    """The personal-data requests of my part of the tree, open ones first; the access log's export for an
    auditor (who may hold either or both)."""
    handles, audits = bool(selectors.handle_paths(request.user)), selectors.audits(request.user)
    if not (handles or audits):
        raise Http404
    state = request.GET.get("state", "open")
    state = state if state in DataRequest.State.values or state == "" else "open"
    rows = list(selectors.requests_for(request.user, state=state).order_by("-id")[:200])
    return render(
        request, "privacy/requests.html",
        {"rows": rows, "state": state, "states": DataRequest.State.choices, "handles": handles, "audits": audits},
    )  # fmt: skip


@login_required
@require_http_methods(["GET", "POST"])
def request_page(request: AuthedRequest, request_id: int) -> HttpResponse:
    _handler(request)
    r = gate(selectors.access_request, request.user, request_id)
    if request.method == "POST":
        form = bind(request, forms.HandleForm)
        if form is not None and attempt(
            request, services.datarequest_handle, request=r, by=request.user, **form.cleaned_data
        ):
            messages.success(request, _("The request is answered and the resident is told."))
        return redirect("privacy:request", r.pk)
    return render(request, "privacy/request.html", {"r": r, "actions": DATA_REQUEST.allowed(r, lambda _a: True)})


# --- the access log, for an audit -------------------------------------------------------------------------


@login_required
def access_log_csv(request: AuthedRequest) -> HttpResponseBase:
    """The personal-data access log of `from`…`to` (days, both included) as CSV: who read whose number, when."""
    if not selectors.audits(request.user):
        raise Http404
    form = forms.PeriodForm({"start": request.GET.get("from", ""), "end": request.GET.get("to", "")})
    if not form.is_valid():
        return HttpResponse(
            _("Give the days as from=YYYY-MM-DD&to=YYYY-MM-DD. %(errors)s") % {"errors": form.error_text()},
            status=400, content_type="text/plain; charset=utf-8",
        )  # fmt: skip
    since, until = export.bounds(form.cleaned_data["start"], form.cleaned_data["end"])
    qs = selectors.access_log(request.user, since=since, until=until)
    rows = selectors.access_log_rows(qs)
    response = StreamingHttpResponse(export.stream(rows), content_type="text/csv; charset=utf-8")
    start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    response["Content-Disposition"] = f'attachment; filename="access-log-{start:%Y%m%d}-{end:%Y%m%d}.csv"'
    return response
