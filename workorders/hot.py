"""Hot topics (未诉先办): the recent appeals that tell one matter of one place, found before more come.

`scan()` groups the appeals of the last HOT_WINDOW_DAYS by text, place and time (triage.similar.clusters,
town by town: a matter never spans two towns, and it bounds the work), keeps each group of three or more
as a HotTopic, and flags a topic once when HOT_HOUSEHOLDS different households raised it within HOT_DAYS
days: the grid, village and town that handle orders there and the dispatchers above are told, with the
appeals behind it. The dashboards' worker (run_rollups) scans every HOT_SCAN_SECONDS.

A topic keeps its identity from scan to scan by its appeals: a new group that shares an appeal with a
topic is that topic, grown.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.db import transaction
from django.db.models.functions import Substr
from django.utils.translation import gettext as _

from accounts.models import RoleAssignment
from core.clock import now
from notify.services import message_queue
from org.models import Node, path_ids, path_prefixes
from org.policy import Cap, holders
from triage import similar
from workorders.models import HotTopic, Kind, WorkOrder
from workorders.selectors import appeal_words
from workorders.services.routing import setting
from workorders.states import State

BARS = "▁▂▃▄▅▆▇█"
MIN_SIZE = 3  # fewer appeals than this are not a topic
TEXT_CHARS = 300  # the matter is told at the start: reading more costs and tells no more
MAX_ORDERS = 20_000  # the newest appeals of the window that are read; a county's fortnight fits


def _docs(since: dt.datetime, under: str = "") -> list[similar.Doc]:
    qs = (
        WorkOrder.objects.filter(created_at__gte=since).exclude(kind=Kind.SERVICE).exclude(state__in=(State.CANCELLED,))
    )
    if under:
        qs = qs.filter(path__startswith=under)
    rows = qs.order_by("-created_at").values_list(
        "pk", "title", Substr("text", 1, TEXT_CHARS), "created_at", "path", "lat", "lng", "owner__household_id",
        "contact_phone", "category__code",
    )[:MAX_ORDERS]  # fmt: skip
    return [
        similar.Doc(
            id=pk,
            text=appeal_words(title, text, path),
            at=at,
            place=path,
            lat=float(lat) if lat is not None else None,
            lng=float(lng) if lng is not None else None,
            household=f"h{household}" if household else (f"p{phone}" if phone else ""),
            category=code,
        )
        for pk, title, text, at, path, lat, lng, household, phone, code in rows
    ]


def with_bars(topics: list[HotTopic]) -> list[HotTopic]:
    """Each topic's appeals per day as a row of bars (`.bars`: a chart without a script or an inline style)."""
    for t in topics:
        top = max(t.trend or [0]) or 1
        t.bars = "".join(  # type: ignore[attr-defined]
            BARS[min(len(BARS) - 1, round(n / top * (len(BARS) - 1)))] if n else "·" for n in t.trend
        )
    return topics


def _town(path: str) -> str:
    prefixes = path_prefixes(path)
    return prefixes[-3] if len(prefixes) >= 3 else path


def find(*, at: dt.datetime | None = None, under: str = "") -> list[similar.Cluster]:
    """The groups of the window as they stand (nothing written), biggest first."""
    t = at or now()
    docs = _docs(t - dt.timedelta(days=setting("HOT_WINDOW_DAYS")), under)
    by_town: dict[str, list[similar.Doc]] = defaultdict(list)
    for d in docs:
        by_town[_town(d.place)].append(d)
    found: list[similar.Cluster] = []
    for group in by_town.values():
        if len(group) >= MIN_SIZE:
            radius, window = setting("HOT_RADIUS_M"), setting("HOT_WINDOW_DAYS")
            found.extend(similar.clusters(group, min_size=MIN_SIZE, radius_m=radius, window_days=window))
    found.sort(key=lambda c: (-c.households, -len(c.ids)))
    return found


def _node_of(path: str) -> int:
    ids = path_ids(path)
    return ids[-1]


@transaction.atomic
def scan(*, at: dt.datetime | None = None) -> tuple[int, int]:
    """Rebuild the hot topics of the window; returns (topics, newly flagged)."""
    t = at or now()
    since = t - dt.timedelta(days=setting("HOT_WINDOW_DAYS"))
    found = find(at=t)
    existing = list(HotTopic.objects.filter(last_at__gte=since).prefetch_related("orders"))
    owner: dict[int, HotTopic] = {}
    for topic in existing:
        for o in topic.orders.all():
            owner[o.pk] = topic
    kept: set[int] = set()
    flagged = 0
    for cl in found:
        known = next((owner[i] for i in cl.ids if i in owner and owner[i].pk not in kept), None)
        is_rising = similar.rising(cl, now=t, households=setting("HOT_HOUSEHOLDS"), days=setting("HOT_DAYS"))
        fields: dict[str, Any] = {
            "node_id": _node_of(cl.place),
            "path": cl.place,
            "keywords": list(cl.keywords),
            "order_count": len(cl.ids),
            "households": cl.households,
            "first_at": cl.first,
            "last_at": cl.last,
            "trend": cl.trend(t, 7),
            "rising": is_rising,
            "updated_at": t,
        }
        if known is None:
            topic = HotTopic.objects.create(**fields)
        else:
            topic = known
            for k, v in fields.items():
                setattr(topic, k, v)
            topic.save()
        kept.add(topic.pk)
        topic.orders.set(cl.ids)
        # Compare-and-set: whatever else runs a scan, a topic is told once.
        if (
            is_rising
            and topic.flagged_at is None
            and HotTopic.objects.filter(pk=topic.pk, flagged_at__isnull=True).update(flagged_at=t)
        ):
            topic.flagged_at = t
            _flag(topic)
            flagged += 1
    # What no longer groups (withdrawn, reworded by a correction, or the window moved on) is no longer a topic:
    # gone, unless it was flagged (whoever was told can still open what they were told about).
    gone = HotTopic.objects.filter(last_at__gte=since).exclude(pk__in=kept)
    gone.filter(flagged_at__isnull=True).delete()
    gone.update(rising=False, updated_at=t)
    HotTopic.objects.filter(last_at__lt=since).exclude(rising=False).update(rising=False, updated_at=t)
    return len(kept), flagged


def _flag(topic: HotTopic) -> None:
    """Tell the grid, village and town handling orders where the topic is, and the dispatchers above it."""
    # The topic's place and everything above it, and the grids its appeals came from (a topic spanning
    # two grids lies in their village: the grid workers of both are told).
    prefixes = set(path_prefixes(topic.path)) | set(topic.orders.values_list("path", flat=True))
    place = Node.objects.filter(pk=topic.node_id).values_list("name", flat=True).first() or ""
    text = _(
        "Hot topic in %(place)s: %(households)s households raised the same matter in a few days (%(words)s). "
        "Deal with it before more complaints come."
    ) % {"place": place, "households": topic.households, "words": "、".join(topic.keywords[:3])}
    users = {
        a.user
        for a in RoleAssignment.objects.filter(
            (holders(Cap.ORDERS_HANDLE) | holders(Cap.ORDERS_TRIAGE)), node__path__in=prefixes
        ).select_related("user")
    }
    for user in users:
        message_queue(user=user, kind="workorder.hot_topic", text=text, link=f"/workorders/hot/{topic.pk}/")
