"""The command centre's pages: the live board, a node's or a department's indicators over a range with
drill-down to the grids, rankings, the monthly assessment with its bulletin, appeals (甄别申诉), and
every table as an Excel download.

Pages read through dashboards.selectors (scope: out of scope or missing is the 404 page) and change
nothing themselves: every write is a call to dashboards.services, whose refusal is shown as a message
and changes nothing. Every chart has its table beside it, so the pages work without JavaScript; charts
(ECharts) and the map (Leaflet) come from npm through node_modules, never a CDN.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext
from django.views.decorators.http import require_POST

from core.clock import EARLIEST, LATEST, today
from core.errors import ValidationFailed
from core.pages import attempt, error_text, gate, to_int
from dashboards import board, excel, indicators, selectors, services
from dashboards.api import ranking_rows
from dashboards.excel import Column, Table
from dashboards.models import Exemption, Group, Result, ResultLog, SpecialItem
from dashboards.report import result_rows
from org.access import paths_q
from org.models import Department, Level, Node, path_range
from workorders.models import WorkOrder

MAP_DAYS = 30  # the board's map counts the orders of the last 30 days
ALL_GRIDS = 200  # up to this many grids the board lists them all, quiet ones too
LAST_DAY = dt.date(LATEST.year, 12, 31)
MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
TRACKING_RE = re.compile(r"^[A-Za-z0-9-]{4,16}$")


# --- the columns of every table (the page's headers and the workbook's are the same labels) -------------


def _ind(key: str, kind: str = "rate") -> Column:
    return Column(key, indicators.BY_KEY[key].label, kind)


NAME = Column("name", gettext_lazy("Name"), "text")
RANK = Column("rank", gettext_lazy("Rank"))
SCORE = Column("score", gettext_lazy("Score"), "score")
ORDERS = _ind("total", "int")
THREE = tuple(_ind(k) for k in indicators.THREE)
UNIT_COLUMNS = (
    NAME, ORDERS, *THREE, _ind("on_time"), _ind("overdue", "int"), _ind("hours", "hours"), _ind("excluded", "int"),
)  # fmt: skip
RANKING_COLUMNS = (RANK, NAME, SCORE, ORDERS, *THREE)
RANKING_COLUMNS_SHORT = (RANK, NAME, SCORE)  # a department sees its peers' scores, not their detail
RESULT_COLUMNS = (
    RANK, NAME, ORDERS, *THREE,
    Column("base", gettext_lazy("Base score"), "score"),
    Column("special", gettext_lazy("Special items"), "signed"),
    SCORE,
    Column("change", gettext_lazy("Change on last month"), "signed"),
    Column("listed", gettext_lazy("List"), "listed"),
)  # fmt: skip
DIMENSIONS = (("c", gettext_lazy("Channel")), ("k", gettext_lazy("Type")), ("g", gettext_lazy("Category")))


def _group_label(group: str) -> str:
    return {
        "village": _("Villages"),
        "town": _("Towns"),
        "department": _("Departments"),
        "grid": _("Grids"),
    }[group]


# --- who is asking, and what range ------------------------------------------------------------------------


def _scope_or_404(user: Any) -> selectors.DashScope:
    ds = selectors.dash_scope(user)
    if not ds.any:
        raise Http404
    return ds


def _assessor_or_404(user: Any) -> selectors.DashScope:
    ds = selectors.dash_scope(user)
    if not ds.assess_paths:
        raise Http404
    return ds


def _parse_day(request: HttpRequest, name: str, label: str, errors: list[str]) -> dt.date | None:
    raw = request.GET.get(name, "").strip()
    if not raw:
        return None
    try:
        day = dt.date.fromisoformat(raw) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw) else None
    except ValueError:
        day = None
    if day is None or not EARLIEST <= day <= LAST_DAY:
        errors.append(
            _("%(field)s: “%(value)s” is not a date between %(first)s and %(last)s (YYYY-MM-DD).")
            % {"field": label, "value": raw[:20], "first": EARLIEST, "last": LAST_DAY}
        )
        return None
    return day


def _range(request: HttpRequest, *, say: bool = True) -> tuple[dt.date, dt.date]:
    """The range asked for (?start=&end=), this month so far by default. A bad date or an inverted or
    too long range is said in a message (a download has no page to say it on), and the page shows this
    month instead."""
    errors: list[str] = []
    start = _parse_day(request, "start", pgettext("date range", "From"), errors)
    end = _parse_day(request, "end", pgettext("date range", "To"), errors)
    try:
        start, end = selectors.period(start, end) if not errors else selectors.period(None, None)
    except ValidationFailed as exc:
        errors.append(_field_messages(exc))
        start, end = selectors.period(None, None)
    for e in errors if say else ():
        messages.error(request, e)
    return start, end


def _field_messages(exc: ValidationFailed) -> str:
    found = [str(m) for msgs in exc.fields.values() for m in (msgs if isinstance(msgs, list | tuple) else [msgs])]
    return " ".join(found) or error_text(exc)


def _month_end(m: dt.date) -> dt.date:
    return services.month_end(m)


def _quick_ranges() -> list[dict[str, Any]]:
    t = today()
    this = t.replace(day=1)
    last = (this - dt.timedelta(days=1)).replace(day=1)
    return [
        {"label": _("This month"), "start": this, "end": t},
        {"label": _("Last month"), "start": last, "end": _month_end(last)},
        {"label": _("This year"), "start": t.replace(month=1, day=1), "end": t},
    ]


def _range_context(request: HttpRequest, start: dt.date, end: dt.date, **keep: Any) -> dict[str, Any]:
    """The range form and its quick links (keeping the page's other parameters)."""
    keep = {k: v for k, v in keep.items() if v not in (None, "")}
    quick = [
        {**q, "url": "?" + urlencode({**keep, "start": q["start"], "end": q["end"]}),
         "current": (q["start"], q["end"]) == (start, end)}
        for q in _quick_ranges()
    ]  # fmt: skip
    return {"start": start, "end": end, "quick": quick, "keep": keep, "query": urlencode({"start": start, "end": end})}


@functools.cache
def _vendor() -> dict[str, bool]:
    """Which of the chart and map libraries are installed (npm): the pages only load what is there."""
    from django.contrib.staticfiles import finders

    return {
        "echarts": bool(finders.find("vendor/echarts/echarts.min.js")),
        "leaflet": bool(finders.find("vendor/leaflet/leaflet.js")),
    }


def _assets() -> dict[str, Any]:
    conf = settings.GONGZHI["DASHBOARD"]
    return {
        "vendor": _vendor(),
        "map_tiles": conf.get("MAP_TILE_URL", ""),
        "map_attribution": conf.get("MAP_ATTRIBUTION", ""),
    }


def _base(request: HttpRequest) -> dict[str, Any]:
    """What every dashboard page shows around its content: the tabs (the assessment for assessors
    only) and the chart and map libraries."""
    return {"assessor": bool(selectors.dash_scope(request.user).assess_paths), **_assets()}


def _weight(start: dt.date) -> Decimal:
    return services.scheme_for(start.replace(day=1)).basic_weight


def _empty() -> indicators.Numbers:
    zero = {c: 0 for c in indicators.COUNTERS}
    return indicators.Numbers(zero, indicators.rates(zero))


def _indicator_list(n: indicators.Numbers) -> list[dict[str, Any]]:
    return [
        {
            "key": i.key,
            "label": i.label,
            "definition": i.definition,
            "text": excel.text(n.rates[i.key], "int" if i.kind == "count" else i.kind),
            "three": i.key in indicators.THREE,
        }
        for i in indicators.INDICATORS
    ]


def _unit_row(name: str, n: indicators.Numbers) -> list[Any]:
    return [name, *(n.rates[c.key] for c in UNIT_COLUMNS[1:])]


def _volume_tables(vol: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    out = []
    for dim, label in DIMENSIONS:
        rows = vol.get(dim, [])
        total = sum(r["count"] for r in rows)
        table = Table((Column("label", label, "text"), ORDERS, Column("share", gettext_lazy("Share"), "rate")))
        for r in rows:
            table.add([r["label"], r["count"], r["count"] / total if total else None])
        out.append(
            {
                "dim": dim,
                "label": label,
                "table": table,
                "rows": table.shown(),
                "chart": {
                    "type": "pie",
                    "labels": [r["label"] for r in rows],
                    "values": [r["count"] for r in rows],
                    "shares": [row["text"]["share"] for row in table.shown()],
                },
            }
        )
    return out


# --- 1. the board -------------------------------------------------------------------------------------------


@login_required
def board_page(request: HttpRequest) -> HttpResponse:
    """综合指挥平台: what is happening now under the user's node (or ?node=), refreshed by itself."""
    ds = _scope_or_404(request.user)
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
        "worst_nodes": worst["nodes"],
        "worst_departments": worst["departments"] if ds.department_paths else [],
        "refresh": refresh,
        "part_url": request.path + "?" + urlencode({"part": "live", "node": node.pk}),
        **_base(request),
    }
    if request.GET.get("part") == "live":
        return render(request, "dashboards/_board_live.html", ctx)
    return render(request, "dashboards/board.html", ctx)


# --- 2. a node over a range --------------------------------------------------------------------------------


def _node_table(request: HttpRequest, node: Node, start: dt.date, end: dt.date) -> tuple[list[Node], Table]:
    kids = selectors.children(node)
    weight = _weight(start)
    below = (
        indicators.for_units(level=kids[0].level, start=start, end=end, paths=(node.path,), basic_weight=weight)
        if kids
        else {}
    )
    table = Table(UNIT_COLUMNS)
    empty = _empty()
    for k in kids:
        link = reverse("dashboards:node", args=[k.pk]) + "?" + urlencode({"start": start, "end": end})
        table.add(_unit_row(k.name, below.get(k.pk, empty)), link)
    return kids, table


@login_required
def node_page(request: HttpRequest, node_id: int) -> HttpResponse:
    """A node's indicators over a range, its children's (each a link one level down), and its volumes."""
    ds = _scope_or_404(request.user)
    node = gate(selectors.access_node, request.user, node_id)
    start, end = _range(request)
    n = indicators.for_unit(node_id=node.pk, start=start, end=end, basic_weight=_weight(start))
    kids, table = _node_table(request, node, start, end)
    rows = table.shown()
    departments = []
    if ds.department_paths:
        departments = [
            d
            for d in Department.objects.filter(jurisdiction=node, is_active=True).order_by("code")
            if ds.sees_department(d)
        ]
    child_level = kids[0].get_level_display() if kids else ""
    return render(
        request,
        "dashboards/node.html",
        {
            "node": node,
            "breadcrumb": selectors.breadcrumb(request.user, node),
            "numbers": n,
            "indicators": _indicator_list(n),
            "children": kids,
            "child_level": child_level,
            "table": table,
            "rows": rows,
            "rates_chart": {
                "type": "bar",
                "percent": True,
                "labels": [r["values"]["name"] for r in rows],
                "series": [
                    {"name": str(c.label), "values": [_chart_rate(r["values"][c.key]) for r in rows]} for c in THREE
                ],
            },
            "volumes": _volume_tables(board.volume(node=node, start=start, end=end)),
            "departments": departments,
            "ranking_group": _ranking_group_below(node),
            **_range_context(request, start, end),
            **_base(request),
        },
    )


def _chart_rate(x: float | None) -> float | None:
    r = excel.rate(x)
    return None if r is None else float(r * 100)


def _ranking_group_below(node: Node) -> str:
    return {Level.COUNTY: "town", Level.TOWN: "village", Level.VILLAGE: "grid"}.get(node.level, "")


@login_required
def node_xlsx(request: HttpRequest, node_id: int) -> HttpResponse:
    _scope_or_404(request.user)
    node = gate(selectors.access_node, request.user, node_id)
    start, end = _range(request, say=False)
    n = indicators.for_unit(node_id=node.pk, start=start, end=end, basic_weight=_weight(start))
    _kids, table = _node_table(request, node, start, end)
    own = Table(UNIT_COLUMNS)
    own.add(_unit_row(node.name, n))
    heading = _("%(name)s, %(start)s to %(end)s") % {"name": node.name, "start": start, "end": end}
    content = excel.workbook(
        [(_("Below"), heading, table), (node.name, heading, own)],
        excel.definitions(c.key for c in UNIT_COLUMNS[1:]),
    )
    name = _("%(name)s indicators %(start)s-%(end)s") % {
        "name": node.name, "start": excel.stamp(start), "end": excel.stamp(end),
    }  # fmt: skip
    return excel.attachment(content, f"{name}.xlsx", f"node-{node.pk}-{excel.stamp(start)}-{excel.stamp(end)}.xlsx")


# --- 3. a department ---------------------------------------------------------------------------------------


def _ranking_table(
    request: HttpRequest, group: str, start: dt.date, end: dt.date, node_id: int | None
) -> tuple[Table, dict[str, Any]]:
    """api.ranking_rows as a table (the page, its workbook and the API agree). A department's staff see
    their peers' ranks and scores; the detail (the rates, the page) of their own department only."""
    ds = selectors.dash_scope(request.user)
    data = ranking_rows(request.user, group, start, end, node_id)
    full = group != "department" or bool(ds.department_paths)
    table = Table(RANKING_COLUMNS if full else RANKING_COLUMNS_SHORT)
    query = urlencode({"start": start, "end": end})
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


@login_required
def department_page(request: HttpRequest, department_id: int) -> HttpResponse:
    """A department's own numbers and volumes, and where it stands among the departments."""
    _scope_or_404(request.user)
    d = gate(selectors.access_department, request.user, department_id)
    start, end = _range(request)
    n = indicators.for_unit(department_id=d.pk, start=start, end=end, basic_weight=_weight(start))
    ranking, data = _ranking_table(request, "department", start, end, None)
    rows = ranking.shown()
    for r in rows:
        r["mine"] = r["key"] == d.pk
    return render(
        request,
        "dashboards/department.html",
        {
            "department": d,
            "numbers": n,
            "indicators": _indicator_list(n),
            "ranking": ranking,
            "rows": rows,
            "weights": _weights(data["weights"]),
            "scheme": data["scheme"],
            "volumes": _volume_tables(board.volume(department_id=d.pk, start=start, end=end)),
            **_range_context(request, start, end),
            **_base(request),
        },
    )


def _weights(weights: dict[str, int]) -> list[dict[str, Any]]:
    return [
        {"key": k, "label": indicators.BY_KEY[k].label, "definition": indicators.BY_KEY[k].definition, "weight": w}
        for k, w in weights.items()
        if k in indicators.BY_KEY
    ]


# --- 4. rankings -------------------------------------------------------------------------------------------


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
    ds = _scope_or_404(request.user)
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
            % {"group": group[:20], "groups": "、".join(_group_label(g) for g in groups)},
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
def ranking_page(request: HttpRequest) -> HttpResponse:
    """Units of one kind ranked by the weighted three rates over a range."""
    group, groups, node_id = _ranking_params(request)
    start, end = _range(request)
    table, data = gate(_ranking_table, request, group, start, end, node_id)
    root = Node.objects.filter(pk=node_id).first() if node_id else selectors.home_node(request.user)
    return render(
        request,
        "dashboards/ranking.html",
        {
            "group": group,
            "group_label": _group_label(group),
            "groups": [{"key": g, "label": _group_label(g)} for g in groups],
            "root": root if group != "department" else None,
            "table": table,
            "rows": table.shown(),
            "scheme": data["scheme"],
            "weights": _weights(data["weights"]),
            "definitions": [indicators.BY_KEY[k] for k in indicators.THREE],
            **_range_context(request, start, end, group=group, node=node_id),
            **_base(request),
        },
    )


@login_required
def ranking_xlsx(request: HttpRequest) -> HttpResponse:
    group, _groups, node_id = _ranking_params(request, strict=True)
    start, end = _range(request, say=False)
    table, data = gate(_ranking_table, request, group, start, end, node_id)
    heading = _("Ranking of %(group)s, %(start)s to %(end)s (%(scheme)s)") % {
        "group": _group_label(group), "start": start, "end": end, "scheme": data["scheme"],
    }  # fmt: skip
    content = excel.workbook([(_group_label(group), heading, table)], excel.definitions(indicators.THREE))
    name = _("Ranking of %(group)s %(start)s-%(end)s") % {
        "group": _group_label(group), "start": excel.stamp(start), "end": excel.stamp(end),
    }  # fmt: skip
    return excel.attachment(content, f"{name}.xlsx", f"ranking-{group}-{excel.stamp(start)}-{excel.stamp(end)}.xlsx")


# --- 5. the monthly assessment -----------------------------------------------------------------------------


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
            + urlencode({"start": result.month, "end": _month_end(result.month)})
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
def assessment_index(request: HttpRequest) -> HttpResponse:
    """The month and group picker's target: last month's villages by default."""
    _assessor_or_404(request.user)
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
def assessment_page(request: HttpRequest, month: str, group: str) -> HttpResponse:
    """考核: the month's result for one group of units, and what the assessor does with it."""
    ds = _assessor_or_404(request.user)
    m = _month(month)
    group = _assess_group(group)
    result = (
        Result.objects.select_related("scheme", "published_by")
        .filter(node=services.assessment_root(request.user), month=m, group=group)
        .first()
    )
    scheme = result.scheme if result else services.scheme_for(m)
    table = _result_table(result, ds) if result else None
    specials = [
        s
        for s in SpecialItem.objects.filter(month=m, group=group).select_related(
            "node", "department__jurisdiction", "by"
        )
        if ds.assesses(s.node.path if s.node else s.department.jurisdiction.path)
    ]
    prev = (m - dt.timedelta(days=1)).replace(day=1)
    nxt = _month_end(m) + dt.timedelta(days=1)
    pending = Exemption.objects.filter(paths_q(ds.assess_paths, "order__path"), status=Exemption.Status.PENDING).count()
    return render(
        request,
        "dashboards/assessment.html",
        {
            "month": m,
            "month_key": f"{m:%Y-%m}",
            "group": group,
            "group_label": _group_label(group),
            "groups": [{"key": g, "label": _group_label(g), "url": _assessment_url(m, g)} for g in Group.values],
            "prev_url": _assessment_url(prev, group),
            "next_url": _assessment_url(nxt, group) if nxt <= today() else "",
            "result": result,
            "table": table,
            "rows": table.shown() if table else [],
            "log": list(ResultLog.objects.filter(result=result).select_related("by")) if result else [],
            "scheme": scheme,
            "weights": _weights(scheme.weights),
            "specials": specials,
            "units": _units_for(ds, group),
            "pending": pending,
            "range_query": urlencode({"start": m, "end": _month_end(m)}),
        },
    )


@login_required
@require_POST
def assessment_compute(request: HttpRequest, month: str, group: str) -> HttpResponse:
    """Compute the month; once published, recompute only with a reason (the service insists, and logs it)."""
    _assessor_or_404(request.user)
    m = _month(month)
    group = _assess_group(group)
    published = Result.objects.filter(
        node=services.assessment_root(request.user), month=m, group=group, published_at__isnull=False
    ).exists()
    done = attempt(
        request, services.result_compute, by=request.user, month=m, group=group,
        reason=request.POST.get("reason", "").strip()[:300],
    )  # fmt: skip
    if done is not None:
        if published:
            messages.success(request, _("Recomputed %(month)s. The recomputation is logged.") % {"month": month})
        else:
            messages.success(request, _("Computed the scores of %(month)s.") % {"month": month})
    return redirect(_assessment_url(m, group))


@login_required
@require_POST
def assessment_publish(request: HttpRequest, month: str, group: str) -> HttpResponse:
    _assessor_or_404(request.user)
    m = _month(month)
    group = _assess_group(group)
    result = Result.objects.filter(node=services.assessment_root(request.user), month=m, group=group).first()
    if result is None:
        messages.error(request, _("Compute the scores before publishing them."))
    elif attempt(request, services.result_publish, by=request.user, result=result) is not None:
        messages.success(request, _("Published %(month)s: the scores are frozen.") % {"month": month})
    return redirect(_assessment_url(m, group))


@login_required
@require_POST
def assessment_special(request: HttpRequest, month: str, group: str) -> HttpResponse:
    """专项: a bonus or a penalty for one unit this month, with its reason."""
    ds = _assessor_or_404(request.user)
    m = _month(month)
    group = _assess_group(group)
    back = _assessment_url(m, group)
    kind, _sep, ident = request.POST.get("unit", "").partition(":")
    pk = to_int(ident)
    node = dept = None
    level = Level.TOWN if group == Group.TOWN else Level.VILLAGE
    if kind == "n" and pk and group != Group.DEPARTMENT:
        node = Node.objects.filter(pk=pk).first()
        if node is None or not ds.assesses(node.path):
            raise Http404
        if node.level != level:  # a town's item in the villages' month would count nowhere
            messages.error(request, _("Choose the unit."))
            return redirect(back)
    elif kind == "d" and pk and group == Group.DEPARTMENT:
        dept = Department.objects.select_related("jurisdiction").filter(pk=pk).first()
        if dept is None or not ds.assesses(dept.jurisdiction.path):
            raise Http404
    else:
        messages.error(request, _("Choose the unit."))
        return redirect(back)
    try:
        points = Decimal(request.POST.get("points", "").strip().replace("＋", "+").replace("－", "-"))
        if not points.is_finite():
            raise InvalidOperation
    except InvalidOperation:
        messages.error(request, _("Points: a number from -100 to 100, e.g. 2 or -1.5."))
        return redirect(back)
    done = attempt(
        request, services.special_add, by=request.user, month=m, group=group, node=node, department=dept,
        points=points, reason=request.POST.get("reason", "")[:300],
    )  # fmt: skip
    if done is not None:
        messages.success(
            request,
            _("Special item added: %(points)s points for %(name)s. Compute again to count it.")
            % {"points": f"{done.points:+}", "name": (node or dept).name},  # type: ignore[union-attr]
        )
    return redirect(back)


def _result_or_404(request: HttpRequest, month: str, group: str) -> tuple[selectors.DashScope, Result]:
    ds = _assessor_or_404(request.user)
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
def assessment_xlsx(request: HttpRequest, month: str, group: str) -> HttpResponse:
    ds, result = _result_or_404(request, month, group)
    table = _result_table(result, ds)
    state = _("published") if result.published_at else _("not published")
    heading = _("Assessment of %(group)s, %(month)s (%(scheme)s; %(state)s)") % {
        "group": _group_label(group), "month": month, "scheme": result.scheme, "state": state,
    }  # fmt: skip
    weights = [
        (str(w["label"]), pgettext("assessment", "%(weight)s points") % {"weight": w["weight"]})
        for w in _weights(result.scheme.weights)
    ]
    content = excel.workbook([(month, heading, table)], [*weights, *excel.definitions(indicators.THREE)])
    name = _("Assessment of %(group)s %(month)s") % {"group": _group_label(group), "month": month}
    return excel.attachment(content, f"{name}.xlsx", f"assessment-{month}-{group}.xlsx")


@login_required
def assessment_bulletin(request: HttpRequest, month: str, group: str) -> HttpResponse:
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
            "group_label": _group_label(group),
            "table": table,
            "rows": rows,
            "red": [r for r in rows if r["values"]["listed"] == "red"],
            "black": [r for r in rows if r["values"]["listed"] == "black"],
            "average": excel.text(sum(scores) / len(scores), "score") if scores else excel.NONE,
            "weights": _weights(result.scheme.weights),
            "definitions": [indicators.BY_KEY[k] for k in indicators.THREE],
            "back_url": _assessment_url(result.month, group),
        },
    )


# --- 6. appeals (甄别申诉) ----------------------------------------------------------------------------------


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
def exemptions_page(request: HttpRequest) -> HttpResponse:
    """Appeals to leave an order out of the rates: the handling unit files one, the leaders decide."""
    ds = _scope_or_404(request.user)
    values = {"order": request.GET.get("order", "")[:20], "reason": ""}
    status = 200
    if request.method == "POST":
        values = {"order": request.POST.get("order", "").strip()[:20], "reason": request.POST.get("reason", "")}
        order = _find_order(request, values["order"])
        if order is None:
            messages.error(request, _("No such work order in your part of the county: check its number."))
            status = 422
        else:
            done = attempt(
                request, services.exemption_request, order=order, by=request.user, reason=values["reason"][:1000]
            )
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
def exemption_decide(request: HttpRequest, exemption_id: int) -> HttpResponse:
    ds = _assessor_or_404(request.user)
    e = Exemption.objects.select_related("order").filter(pk=exemption_id).first()
    if e is None or not ds.assesses(e.order.path):
        raise Http404
    decision = request.POST.get("decision", "")
    if decision not in ("approve", "refuse"):
        messages.error(request, _("Choose approve or refuse."))
        return redirect("dashboards:exemptions")
    approve = decision == "approve"
    done = attempt(
        request, services.exemption_decide, exemption=e, by=request.user, approve=approve,
        note=request.POST.get("note", "")[:500],
    )  # fmt: skip
    if done is not None:
        text = (
            _("Approved: %(code)s is left out of the rates.") if approve else _("Refused: %(code)s stays in the rates.")
        )
        messages.success(request, text % {"code": e.order.tracking_code})
    return redirect("dashboards:exemptions")
