"""Reads of the 12345 exchange that depend on who asks, and the export back to a hotline (办结回传)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Viewer
from core.clock import SHANGHAI
from core.errors import NotFound
from integrations import hotline
from integrations.models import HotlineOrder, HotlineSource, ImportRun
from org.access import paths_q
from org.policy import Cap, paths
from workorders.api import unit_name
from workorders.models import Rating, Satisfaction
from workorders.states import State


def _source_q(user: Viewer, *caps: Cap) -> Q:
    q = Q(pk__in=[])
    for cap in caps:
        found = paths(user, cap)
        if found:
            q |= paths_q(found, "node__path")
    return q


def sources_for(user: Viewer, *, manage: bool = False) -> QuerySet[HotlineSource]:
    """The sources a manager keeps (manage) or a dispatcher exchanges files with."""
    caps = (Cap.INTEGRATIONS_MANAGE,) if manage else (Cap.INTEGRATIONS_EXCHANGE, Cap.INTEGRATIONS_MANAGE)
    return HotlineSource.objects.filter(_source_q(user, *caps)).select_related("node", "default_category")


def access_source(user: Viewer, source_id: int, *, manage: bool = False) -> HotlineSource:
    s = sources_for(user, manage=manage).filter(pk=source_id).first()
    if s is None:
        raise NotFound(_("No such hotline source."), code="hotline.not_found")
    return s


def imports_for(user: Viewer) -> QuerySet[ImportRun]:
    return ImportRun.objects.filter(source__in=sources_for(user)).select_related("source", "by")


def access_import(user: Viewer, run_id: int) -> ImportRun:
    run = imports_for(user).filter(pk=run_id).first()
    if run is None:
        raise NotFound(_("No such import."), code="hotline.import_not_found")
    return run


# --- the export back -------------------------------------------------------------------------------------

# The export's columns after the hotline's own (number, unit): (key, header).
EXPORT_COLUMNS: list[tuple[str, Any]] = [
    ("tracking_code", gettext_lazy("Gongzhi tracking code")),
    ("state", gettext_lazy("state code")),
    ("state_label", gettext_lazy("state")),
    ("reply", gettext_lazy("reply")),
    ("received", gettext_lazy("time received")),
    ("dispatched", gettext_lazy("time dispatched")),
    ("accepted", gettext_lazy("time signed for")),
    ("resolved", gettext_lazy("time resolved")),
    ("closed", gettext_lazy("time closed")),
    ("due", gettext_lazy("resolve by")),
    ("solved", gettext_lazy("problem solved")),
    ("satisfaction", gettext_lazy("satisfaction")),
    ("updated", gettext_lazy("updated")),
]


def export_headers(source: HotlineSource) -> list[str]:
    cols = hotline.columns(source.mapping)
    return [cols["number"], cols["unit"], *[str(h) for _k, h in EXPORT_COLUMNS]]


def _t(value: dt.datetime | None) -> str:
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""


def export_rows(source: HotlineSource, *, since: dt.datetime | None, until: dt.datetime) -> Iterator[list[str]]:
    """The source's orders changed after `since` (all of them without) up to `until`, oldest change first,
    one list of cells per order in export_headers' order."""
    q = Q(source=source, order__updated_at__lte=until)
    if since is not None:
        q &= Q(order__updated_at__gt=since)
    links = (
        HotlineOrder.objects.filter(q)
        .select_related("order__department", "order__unit_node")
        .order_by("order__updated_at", "order_id")
    )
    batch: list[HotlineOrder] = []
    for link in links.iterator(chunk_size=1000):
        batch.append(link)
        if len(batch) >= 1000:
            yield from _export_batch(batch)
            batch = []
    yield from _export_batch(batch)


def _export_batch(links: list[HotlineOrder]) -> Iterator[list[str]]:
    if not links:
        return
    ratings: dict[int, Rating] = {}
    for rating in Rating.objects.filter(order_id__in=[link.order_id for link in links]).order_by("round"):
        ratings[rating.order_id] = rating  # the latest round's
    for link in links:
        o = link.order
        r = ratings.get(o.pk)
        yield [
            link.number,
            unit_name(o) or link.unit_name,
            o.tracking_code,
            o.state,
            str(State(o.state).label),
            o.reply,
            _t(o.created_at),
            _t(o.dispatched_at),
            _t(o.accepted_at),
            _t(o.resolved_at),
            _t(o.closed_at),
            _t(o.due_at),
            "" if r is None else (_("yes") if r.solved else _("no")),
            "" if r is None else str(Satisfaction(r.satisfaction).label),
            _t(o.updated_at),
        ]
