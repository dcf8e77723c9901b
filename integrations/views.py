"""The exchange's pages: hotline sources (administrators), importing a hotline's file with a progress bar
and the refused rows (dispatchers), and the export back (办结回传)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.http import AuthedRequest
from catalog.models import Category
from core.clock import SHANGHAI, now
from core.forms import bind
from core.pages import attempt, gate, local_datetime
from integrations import forms, hotline, selectors, services
from integrations.models import HotlineSource, ImportRun
from org.access import paths_q
from org.models import Level, Node
from org.policy import Cap, paths


def _source(request: AuthedRequest, source_id: int, *, manage: bool = False) -> HotlineSource:
    return gate(selectors.access_source, request.user, source_id, manage=manage)


def _gate(request: AuthedRequest) -> tuple[bool, bool]:
    manage = bool(paths(request.user, Cap.INTEGRATIONS_MANAGE))
    exchange = bool(paths(request.user, Cap.INTEGRATIONS_EXCHANGE))
    if not (manage or exchange):
        raise Http404
    return manage, exchange


@login_required
def home(request: AuthedRequest) -> HttpResponse:
    manage, exchange = _gate(request)
    sources = list(selectors.sources_for(request.user).annotate(n_orders=Count("orders")).order_by("name"))
    return render(
        request,
        "integrations/home.html",
        {
            "manage": manage,
            "exchange": exchange,
            "sources": sources,
            "runs": list(selectors.imports_for(request.user)[:20]),
            "open311": request.build_absolute_uri("/open311/v2/discovery.json"),
            "fields": [
                (f, label, required, hotline.DEFAULT_COLUMNS[f]) for f, (label, required) in hotline.FIELDS.items()
            ],
        },
    )


def _areas(request: AuthedRequest) -> list[Node]:
    found = paths(request.user, Cap.INTEGRATIONS_MANAGE)
    return list(Node.objects.filter(paths_q(found), level__lte=Level.TOWN).order_by("path")[:200])


def _mapping(text: str) -> dict[str, Any] | None:
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _category(code: str) -> Category | None:
    return Category.objects.filter(code=code, is_active=True).first() if code else None


@login_required
def source_new(request: AuthedRequest) -> HttpResponse:
    areas = _areas(request)
    if not areas:
        raise Http404
    if request.method == "POST":
        f = bind(request, forms.SourceForm)
        if f is not None:
            d = f.cleaned_data
            node = next((n for n in areas if n.pk == d["node"]), None)
            mapping = _mapping(d["mapping"] or "")
            if node is None:
                messages.error(request, _("Choose the county or a town of your area."))
            elif mapping is None:
                messages.error(request, _("The column mapping is not a JSON object."))
            elif d["default_category"] and _category(d["default_category"]) is None:
                messages.error(request, _("No such category."))
            else:
                s = attempt(
                    request, services.source_create, by=request.user, name=d["name"], code=d["code"] or "", node=node,
                    mapping=mapping, default_category=_category(d["default_category"] or ""),
                )  # fmt: skip
                if s is not None:
                    messages.success(
                        request, _("The hotline source is added. Give its system the push address and secret below.")
                    )
                    return redirect("integrations:source", s.pk)
    return render(request, "integrations/source_form.html", {"areas": areas, "source": None, "mapping": ""})


@login_required
def source_page(request: AuthedRequest, source_id: int) -> HttpResponse:
    s = _source(request, source_id, manage=True)
    if request.method == "POST":
        f = bind(request, forms.SourceForm)
        if f is not None:
            d = f.cleaned_data
            mapping = _mapping(d["mapping"] or "")
            if mapping is None:
                messages.error(request, _("The column mapping is not a JSON object."))
            elif d["default_category"] and _category(d["default_category"]) is None:
                messages.error(request, _("No such category."))
            elif attempt(
                request, services.source_update, source=s, by=request.user, name=d["name"], mapping=mapping,
                default_category=_category(d["default_category"] or ""), is_active=d["is_active"],
            ):  # fmt: skip
                messages.success(request, _("Saved."))
                return redirect("integrations:source", s.pk)
    return render(
        request,
        "integrations/source_form.html",
        {
            "source": s,
            "mapping": json.dumps(s.mapping, ensure_ascii=False, indent=2) if s.mapping else "",
            "push_url": request.build_absolute_uri(f"/api/v1/hotline/{s.code}/orders"),
            "columns": hotline.columns(s.mapping),
        },
    )


@login_required
@require_POST
def source_rotate(request: AuthedRequest, source_id: int) -> HttpResponse:
    s = _source(request, source_id, manage=True)
    if attempt(request, services.source_rotate_secret, source=s, by=request.user):
        messages.success(request, _("A new secret is made; the old one works for one more day."))
    return redirect("integrations:source", s.pk)


@login_required
def import_new(request: AuthedRequest) -> HttpResponse:
    if not paths(request.user, Cap.INTEGRATIONS_EXCHANGE):
        raise Http404
    sources = [s for s in selectors.sources_for(request.user) if s.is_active]
    if request.method == "POST":
        f = bind(request, forms.ImportForm, files=request.FILES)
        if f is not None:
            d = f.cleaned_data
            source = next((s for s in sources if s.pk == d["source"]), None)
            if source is None:
                messages.error(request, _("Choose a hotline."))
            else:
                run = attempt(
                    request,
                    services.import_queue,
                    source=source,
                    by=request.user,
                    upload=d["file"],
                    dry_run=d["dry_run"],
                )
                if run is not None:
                    return redirect("integrations:import", run.pk)
    return render(request, "integrations/import_new.html", {"sources": sources})


@login_required
def import_page(request: AuthedRequest, run_id: int) -> HttpResponse:
    run = gate(selectors.access_import, request.user, run_id)
    context = {
        "run": run,
        "errors": run.errors[:500],
        "live": run.state in (ImportRun.State.QUEUED, ImportRun.State.RUNNING),
    }
    if getattr(request, "htmx", False):  # django_htmx's middleware sets it
        return render(request, "integrations/_import_progress.html", context)
    return render(request, "integrations/import.html", context)


@login_required
def import_errors(request: AuthedRequest, run_id: int) -> HttpResponse:
    """The refused rows as CSV, to fix in the hotline's file and import again."""
    run = gate(selectors.access_import, request.user, run_id)
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow([_("line"), _("hotline order number"), _("reason")])
    for e in run.errors:
        w.writerow([e.get("line"), e.get("number"), e.get("reason")])
    response = HttpResponse("\ufeff" + out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="refused-{run.pk}.csv"'
    return response


@login_required
def export(request: AuthedRequest, source_id: int) -> HttpResponse:
    s = _source(request, source_id)
    if request.method != "POST":
        return render(request, "integrations/export.html", {"source": s})
    f = bind(request, forms.ExportForm)
    if f is None:
        return redirect("integrations:export", s.pk)
    d = f.cleaned_data
    since = local_datetime(d["since"])
    if d["since"] and since is None:
        messages.error(request, _("Changed since: a date and time, YYYY-MM-DD HH:MM."))
        return redirect("integrations:export", s.pk)
    until = now()
    headers = selectors.export_headers(s)
    rows = selectors.export_rows(s, since=since, until=until)
    stamp = until.astimezone(SHANGHAI).strftime("%Y%m%d-%H%M%S")
    if d["format"] == "csv":
        out = io.StringIO()
        w = csv.writer(out)
        w.writerow(headers)
        w.writerows(rows)
        response = HttpResponse("\ufeff" + out.getvalue(), content_type="text/csv; charset=utf-8")
        name = f"{s.code}-{stamp}.csv"
    else:
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        ws = wb.create_sheet(s.name[:31])
        ws.append(headers)
        for r in rows:
            ws.append(r)
        buf = io.BytesIO()
        wb.save(buf)
        response = HttpResponse(
            buf.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
        name = f"{s.code}-{stamp}.xlsx"
    if d["mark"]:
        services.export_mark(source=s, by=request.user, until=until)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
