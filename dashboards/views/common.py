"""What the command-centre pages share: the columns of every table (a page's headers and its workbook's
are the same labels), who may open them, the date range they show, and the pieces of context and tables
more than one page draws."""

from __future__ import annotations

import datetime as dt
import functools
import re
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from core.clock import EARLIEST, LATEST, today
from core.errors import ValidationFailed
from core.pages import error_text
from dashboards import excel, indicators, selectors, services
from dashboards.excel import Column, Table

LAST_DAY = dt.date(LATEST.year, 12, 31)


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


def group_label(group: str) -> str:
    return {
        "village": _("Villages"),
        "town": _("Towns"),
        "department": _("Departments"),
        "grid": _("Grids"),
    }[group]


# --- who is asking, and what range ------------------------------------------------------------------------


def scope_or_404(user: Any) -> selectors.DashScope:
    ds = selectors.dash_scope(user)
    if not ds.any:
        raise Http404
    return ds


def assessor_or_404(user: Any) -> selectors.DashScope:
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


def date_range(request: HttpRequest, *, say: bool = True) -> tuple[dt.date, dt.date]:
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


def month_end(m: dt.date) -> dt.date:
    return services.month_end(m)


def _quick_ranges() -> list[dict[str, Any]]:
    t = today()
    this = t.replace(day=1)
    last = (this - dt.timedelta(days=1)).replace(day=1)
    return [
        {"label": _("This month"), "start": this, "end": t},
        {"label": _("Last month"), "start": last, "end": month_end(last)},
        {"label": _("This year"), "start": t.replace(month=1, day=1), "end": t},
    ]


def range_context(request: HttpRequest, start: dt.date, end: dt.date, **keep: Any) -> dict[str, Any]:
    """The range form and its quick links (keeping the page's other parameters)."""
    keep = {k: v for k, v in keep.items() if v not in (None, "")}
    quick = [
        {**q, "url": "?" + urlencode({**keep, "start": q["start"], "end": q["end"]}),
         "current": (q["start"], q["end"]) == (start, end)}
        for q in _quick_ranges()
    ]  # fmt: skip
    return {
        "start": start,
        "end": end,
        "quick": quick,
        "keep": keep,
        "query": urlencode({"start": start.isoformat(), "end": end.isoformat()}),
    }


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


def base_context(request: HttpRequest) -> dict[str, Any]:
    """What every dashboard page shows around its content: the tabs (the assessment for assessors
    only) and the chart and map libraries."""
    from deliberation.selectors import watch_paths as deliberation_paths
    from mediation.selectors import watch_paths as mediation_paths
    from partylink.selectors import watch_paths

    return {
        "assessor": bool(selectors.dash_scope(request.user).assess_paths),
        "party_watch": bool(watch_paths(request.user)),
        "deliberation_watch": bool(deliberation_paths(request.user)),
        "mediation_watch": bool(mediation_paths(request.user)),
        **_assets(),
    }


def basic_weight_for(start: dt.date) -> Decimal:
    return services.scheme_for(start.replace(day=1)).basic_weight


def empty_numbers() -> indicators.Numbers:
    zero = {c: 0 for c in indicators.COUNTERS}
    return indicators.Numbers(zero, indicators.rates(zero))


def indicator_list(n: indicators.Numbers) -> list[dict[str, Any]]:
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


def unit_row(name: str, n: indicators.Numbers) -> list[Any]:
    return [name, *(n.rates[c.key] for c in UNIT_COLUMNS[1:])]


def volume_tables(vol: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
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


def weights_list(weights: dict[str, int]) -> list[dict[str, Any]]:
    return [
        {"key": k, "label": indicators.BY_KEY[k].label, "definition": indicators.BY_KEY[k].definition, "weight": w}
        for k, w in weights.items()
        if k in indicators.BY_KEY
    ]
