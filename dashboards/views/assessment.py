"""5. The monthly assessment (考核): a month's result for one group of units, computed, published and
recomputed on purpose, its special items (专项), its workbook and its printable bulletin (通报)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_POST

from accounts.http import AuthedRequest
from core.clock import EARLIEST, LATEST, today
from core.forms import bind
from core.pages import attempt
from dashboards import excel, indicators, selectors, services
from dashboards.excel import Table
from dashboards.forms import ComputeForm, PublishForm, SpecialForm
from dashboards.models import Exemption, Group, Result, ResultLog, SpecialItem
from dashboards.report import LIST_SHARE, result_rows
from dashboards.views.common import RESULT_COLUMNS, assessor_or_404, group_label, month_end, weights_list
from org.access import paths_q
from org.models import Department, Level, Node, path_range

MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


def _month(value: str) -> dt.date:
    m = MONTH_RE.match(value or "")
    if not m:
        raise Http404
    try:
        month = dt.date(int(m.group(1)), int(m.group(2)), 1)
    except ValueError:
        raise Http404 from None
    if not EARLIEST <= month <= LATEST:
        raise Http404
    return month


def _assess_group(group: str) -> str:
    if group not in Group.values:
        raise Http404
    return group


def _assessment_url(month: dt.date, group: str, name: str = "assessment") -> str:
    return reverse(f"dashboards:{name}", args=[f"{month:%Y-%m}", group])


def _visible(ds: selectors.DashScope, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The result's rows of units under the assessor's part of the tree."""
    node_ids = {r["node_id"] for r in rows if r["node_id"]}
    dept_ids = {r["department_id"] for r in rows if r["department_id"]}
    paths = dict(Node.objects.filter(pk__in=node_ids).values_list("pk", "path"))
    dpaths = dict(Department.objects.filter(pk__in=dept_ids).values_list("pk", "jurisdiction__path"))
    return [
        r
        for r in rows
        if ds.assesses(paths.get(r["node_id"], "") if r["node_id"] else dpaths.get(r["department_id"], ""))
    ]


def _result_table(result: Result, ds: selectors.DashScope) -> Table:
    table = Table(RESULT_COLUMNS)
    for r in _visible(ds, result_rows(result)):
        link = (
            (
                reverse("dashboards:node", args=[r["node_id"]])
                if r["node_id"]
                else reverse("dashboards:department", args=[r["department_id"]])
            )
            + "?"
            + urlencode({"start": result.month.isoformat(), "end": month_end(result.month).isoformat()})
        )
        table.add(
            [
                r["rank"], r["name"], r["orders"], *(r["rates"].get(k) for k in indicators.THREE),
                r["base"], r["special"], r["score"], r["change"], r["listed"],
            ],
            link,
        )  # fmt: skip
    return table


def _units_for(ds: selectors.DashScope, group: str) -> list[tuple[str, str]]:
    """The units a special item may be given to: (form value, name)."""
    root = ds.assess_paths[0]
    if group == Group.DEPARTMENT:
        return [
            (f"d:{pk}", name)
            for pk, name in Department.objects.filter(is_active=True, jurisdiction__path__startswith=root)
            .order_by("code")
            .values_list("pk", "name")
        ]
    level = Level.TOWN if group == Group.TOWN else Level.VILLAGE
    return [
        (f"n:{pk}", name)
        for pk, name in Node.objects.filter(path_range(root), level=level).order_by("path").values_list("pk", "name")
    ]


@login_required
def assessment_index(request: AuthedRequest) -> HttpResponse:
    """The month and group picker's target: last month's villages by default."""
    assessor_or_404(request.user)
    raw = request.GET.get("month", "")
    group = request.GET.get("group", "village")
    if raw:
        try:
            month = _month(raw)
        except Http404:
            messages.error(request, _("Choose a month (YYYY-MM)."))
            month = None
    else:
        month = None
    if month is None:
        month = (today().replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    if group not in Group.values:
        messages.error(request, _("Unknown group: choose villages, towns or departments."))
        group = "village"
    return redirect(_assessment_url(month, group))


@login_required
def assessment_page(request: AuthedRequest, month: str, group: str) -> HttpResponse:
    """考核: the month's result for one group of units, and what the assessor does with it."""
    ds = assessor_or_404(request.user)
    m = _month(month)
    group = _assess_group(group)
    root = services.assessment_root(request.user)
    result = Result.objects.select_related("scheme", "published_by").filter(node=root, month=m, group=group).first()
    scheme = result.scheme if result else services.scheme_for(m)
    table = _result_table(result, ds) if result else None
    # The items of this assessment — what its result counts, nothing from another area's.
    specials = list(
        SpecialItem.objects.filter(area=root, month=m, group=group).select_related("node", "department", "by")
    )
    stale, zero = services.publish_problems(result) if result and not result.published_at else ([], [])
    prev = (m - dt.timedelta(days=1)).replace(day=1)
    nxt = month_end(m) + dt.timedelta(days=1)
    pending = Exemption.objects.filter(paths_q(ds.assess_paths, "order__path"), status=Exemption.Status.PENDING).count()
    return render(
        request,
        "dashboards/assessment.html",
        {
            "month": m,
            "month_key": f"{m:%Y-%m}",
            "group": group,
            "group_label": group_label(group),
            "groups": [{"key": g, "label": group_label(g), "url": _assessment_url(m, g)} for g in Group.values],
            "prev_url": _assessment_url(prev, group),
            "next_url": _assessment_url(nxt, group) if nxt <= today() else "",
            "result": result,
            "table": table,
            "rows": table.shown() if table else [],
            "log": list(ResultLog.objects.filter(result=result).select_related("by")) if result else [],
            "scheme": scheme,
            "weights": weights_list(scheme.weights),
            "specials": specials,
            "list_share": f"{LIST_SHARE:.0%}",
            "stale": services.names(stale),
            "zero": services.names(zero),
            "units": _units_for(ds, group),
            "pending": pending,
            "range_query": urlencode({"start": m.isoformat(), "end": month_end(m).isoformat()}),
        },
    )


@login_required
@require_POST
def assessment_compute(request: AuthedRequest, month: str, group: str) -> HttpResponse:
    """Compute the month; once published, recompute only with a reason (the service insists, and logs it)."""
    assessor_or_404(request.user)
    m = _month(month)
    group = _assess_group(group)
    form = bind(request, ComputeForm)
    if form is None:
        return redirect(_assessment_url(m, group))
    published = Result.objects.filter(
        node=services.assessment_root(request.user), month=m, group=group, published_at__isnull=False
    ).exists()
    done = attempt(
        request, services.result_compute, by=request.user, month=m, group=group, reason=form.cleaned_data["reason"]
    )
    if done is not None:
        if published:
            messages.success(request, _("Recomputed %(month)s. The recomputation is logged.") % {"month": month})
        else:
            messages.success(request, _("Computed the scores of %(month)s.") % {"month": month})
    return redirect(_assessment_url(m, group))


@login_required
@require_POST
def assessment_publish(request: AuthedRequest, month: str, group: str) -> HttpResponse:
    assessor_or_404(request.user)
    m = _month(month)
    group = _assess_group(group)
    form = bind(request, PublishForm)
    publish = services.result_publish
    if form is None:
        return redirect(_assessment_url(m, group))
    result = Result.objects.filter(node=services.assessment_root(request.user), month=m, group=group).first()
    if result is None:
        messages.error(request, _("Compute the scores before publishing them."))
    elif attempt(request, publish, by=request.user, result=result, confirm_zero=form.cleaned_data["confirm_zero"]):
        messages.success(request, _("Published %(month)s: the scores are frozen.") % {"month": month})
    return redirect(_assessment_url(m, group))


@login_required
@require_POST
def assessment_special(request: AuthedRequest, month: str, group: str) -> HttpResponse:
    """专项: a bonus or a penalty for one unit this month, with its reason."""
    ds = assessor_or_404(request.user)
    m = _month(month)
    group = _assess_group(group)
    back = _assessment_url(m, group)
    form = bind(request, SpecialForm)
    if form is None:
        return redirect(back)
    kind, pk = form.cleaned_data["unit"]
    node = dept = None
    level = Level.TOWN if group == Group.TOWN else Level.VILLAGE
    if kind == "n" and group != Group.DEPARTMENT:
        node = Node.objects.filter(pk=pk).first()
        if node is None or not ds.assesses(node.path):
            raise Http404
        if node.level != level:  # a town's item in the villages' month would count nowhere
            messages.error(request, _("Choose the unit."))
            return redirect(back)
    elif kind == "d" and group == Group.DEPARTMENT:
        dept = Department.objects.select_related("jurisdiction").filter(pk=pk).first()
        if dept is None or not ds.assesses(dept.jurisdiction.path):
            raise Http404
    else:
        messages.error(request, _("Choose the unit."))
        return redirect(back)
    done = attempt(
        request, services.special_add, by=request.user, month=m, group=group, node=node, department=dept,
        points=form.cleaned_data["points"], reason=form.cleaned_data["reason"],
    )  # fmt: skip
    if done is not None:
        messages.success(
            request,
            _("Special item added: %(points)s points for %(name)s. Compute again to count it.")
            % {"points": f"{done.points:+}", "name": (node or dept).name},  # type: ignore[union-attr]  # the form gave one
        )
    return redirect(back)


def _result_or_404(request: AuthedRequest, month: str, group: str) -> tuple[selectors.DashScope, Result]:
    ds = assessor_or_404(request.user)
    m = _month(month)
    group = _assess_group(group)
    result = (
        Result.objects.select_related("scheme", "published_by")
        .filter(node=services.assessment_root(request.user), month=m, group=group)
        .first()
    )
    if result is None:
        raise Http404
    return ds, result


@login_required
def assessment_xlsx(request: AuthedRequest, month: str, group: str) -> HttpResponse:
    ds, result = _result_or_404(request, month, group)
    table = _result_table(result, ds)
    state = _("published") if result.published_at else _("not published")
    heading = _("Assessment of %(group)s, %(month)s (%(scheme)s; %(state)s)") % {
        "group": group_label(group), "month": month, "scheme": result.scheme, "state": state,
    }  # fmt: skip
    weights = [
        (str(w["label"]), pgettext("assessment", "%(weight)s points") % {"weight": w["weight"]})
        for w in weights_list(result.scheme.weights)
    ]
    content = excel.workbook([(month, heading, table)], [*weights, *excel.definitions(indicators.THREE)])
    name = _("Assessment of %(group)s %(month)s") % {"group": group_label(group), "month": month}
    return excel.attachment(content, f"{name}.xlsx", f"assessment-{month}-{group}.xlsx")


@login_required
def assessment_bulletin(request: AuthedRequest, month: str, group: str) -> HttpResponse:
    """通报: the month's result as a printable page — top and bottom lists, the ranking, the definitions."""
    ds, result = _result_or_404(request, month, group)
    table = _result_table(result, ds)
    rows = table.shown()
    scores = [r["values"]["score"] for r in rows]
    return render(
        request,
        "dashboards/bulletin.html",
        {
            "result": result,
            "month": result.month,
            "group_label": group_label(group),
            "table": table,
            "rows": rows,
            "red": [r for r in rows if r["values"]["listed"] == "red"],
            "black": [r for r in rows if r["values"]["listed"] == "black"],
            "average": excel.text(sum(scores) / len(scores), "score") if scores else excel.NONE,
            "weights": weights_list(result.scheme.weights),
            "definitions": [indicators.BY_KEY[k] for k in indicators.THREE],
            "back_url": _assessment_url(result.month, group),
        },
    )
