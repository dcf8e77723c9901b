"""Reads of personal data that depend on who asks: what the county holds about the resident asking
(my_data), the requests a member of staff answers, and the access log an auditor exports."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import Viewer
from core.errors import NotFound
from core.models import PersonalDataAccess
from org.access import get_scope, paths_q
from org.models import Node, Resident
from org.policy import Cap, paths, under
from org.selectors import place, whole_number
from points.models import Account, Entry
from points.selectors import account_summary
from privacy.models import DataRequest
from sos.models import Call, CareProfile
from workorders.models import Rating, WorkOrder

# A resident with more than this many rows of one kind gets the newest ones on the page; the download has all.
PAGE_ROWS = 50


def _t(value: dt.datetime | None) -> dt.datetime | None:
    return timezone.localtime(value) if value is not None else None


def own_resident(user: Viewer) -> Resident | None:
    """The resident record behind a login, read afresh (the page shows what is stored now)."""
    own = get_scope(user).own
    if own is None:
        return None
    return Resident.objects.select_related("household__grid").filter(pk=own.id).first()


def my_data(
    user: Viewer, *, channel: str = "page", path: str = "", resident: Resident | None = None, reveal: bool = True
) -> dict[str, Any] | None:
    """Everything the county holds about the resident behind `user`: their record (numbers whole: they are
    theirs; masked with reveal=False, as the page shows them until asked), their household, their work
    orders, one-key calls and points. None when the login is linked to no resident. Numbers go through
    org.selectors.whole_number, the one door to core's access log (which leaves one's own reads out:
    privacy.services.own_data_accessed records those)."""
    resident = resident or own_resident(user)  # the caller's, when it has read it already
    if resident is None:
        return None
    household = resident.household
    where: dict[str, Any] = {"channel": channel, "path": path, "resident": resident}
    profile = {
        "id": resident.pk,
        "name": resident.name,
        "gender": resident.get_gender_display(),
        "birth_date": resident.birth_date,
        "relation": resident.get_relation_display(),
        "phone": whole_number(user, resident.phone, field="phone", allowed=reveal, **where),
        "id_number": whole_number(user, resident.id_number, field="id_number", allowed=reveal, **where),
    }
    members = [
        # The others of the household are other people: their names and relations, never their numbers.
        {"name": m.name, "relation": m.get_relation_display()}
        for m in household.members.exclude(pk=resident.pk).order_by("id")
    ]
    return {
        "resident": profile,
        "household": {
            "address": household.address,
            "number": household.number,
            "grid": household.grid.name,
            "place": place(household.grid),
            "tags": household.tag_labels(),
            "members": members,
        },
        "workorders": _orders(user, resident),
        "calls": _calls(resident),
        "points": _points(resident),
    }


def _orders(user: Viewer, resident: Resident) -> list[dict[str, Any]]:
    q = Q(owner_id=resident.pk) | Q(owner_user_id=user.pk)
    orders = list(WorkOrder.objects.filter(q).select_related("category").order_by("-id"))
    ratings: dict[int, Rating] = {}
    for r in Rating.objects.filter(order__in=[o.pk for o in orders]).order_by("order_id", "round", "id"):
        ratings[r.order_id] = r  # the latest round's
    out = []
    for o in orders:
        rating = ratings.get(o.pk)
        out.append(
            {
                "tracking_code": o.tracking_code,
                "kind": o.kind,
                "kind_label": o.get_kind_display(),
                "category": o.category.name,
                "title": o.title,
                "text": o.text,
                "address": o.address,
                "contact_name": o.contact_name,
                "contact_phone": o.contact_phone,
                "state": o.state,
                "state_label": o.get_state_display(),
                "created_at": _t(o.created_at),
                "resolved_at": _t(o.resolved_at),
                "closed_at": _t(o.closed_at),
                "reply": o.reply,
                "rating": None
                if rating is None
                else {
                    "solved": rating.solved,
                    "satisfaction": rating.satisfaction,
                    "comment": rating.comment,
                    "at": _t(rating.at),
                },
            }
        )
    return out


def _calls(resident: Resident) -> dict[str, Any]:
    profile = CareProfile.objects.filter(resident=resident).first()
    calls = Call.objects.filter(resident=resident).order_by("-id")
    return {
        "care_profile": None
        if profile is None
        else {
            "reasons": list(profile.reasons),
            "needs": profile.needs,
            "active": profile.is_active,
            "registered": _t(profile.created_at),
        },
        "calls": [
            {
                "kind": c.kind,
                "kind_label": c.get_kind_display(),
                "channel": c.get_channel_display(),
                "state": c.state,
                "state_label": c.get_state_display(),
                "raised_at": _t(c.raised_at),
                "resolved_at": _t(c.resolved_at),
                "cancelled_at": _t(c.cancelled_at),
                "note": c.note,
                "outcome": c.outcome,
            }
            for c in calls
        ],
    }


def _points(resident: Resident) -> dict[str, Any]:
    summary = account_summary(resident.pk)
    entries = Entry.objects.filter(resident=resident).select_related("sink", "rule").order_by("-id")
    return {
        "balance": summary["balance"],
        "earned": summary["earned"],
        "spent": summary["spent"],
        "lots": [
            {**lot, "received_at": _t(lot["received_at"]), "expires_at": _t(lot["expires_at"])}
            for lot in summary["lots"]
        ],
        "entries": [
            {
                "at": _t(e.at),
                "kind": e.kind,
                "kind_label": e.get_kind_display(),
                "points": e.amount if e.sink.kind == Account.Kind.RESIDENT else -e.amount,
                "rule": e.rule.name if e.rule is not None else "",
                "reason": e.reason,
            }
            for e in entries
        ],
    }


# --- requests, for staff ----------------------------------------------------------------------------------


def handle_paths(user: Viewer) -> tuple[str, ...]:
    """Where `user` answers personal-data requests (org.policy: Cap.PRIVACY_HANDLE)."""
    if not getattr(user, "is_authenticated", False):
        return ()
    return paths(user, Cap.PRIVACY_HANDLE)


def requests_for(user: Viewer, *, state: str = "") -> QuerySet[DataRequest]:
    """The requests of the residents in the part of the tree where `user` answers them."""
    qs = DataRequest.objects.filter(paths_q(handle_paths(user), "path")).select_related("resident", "handled_by")
    return qs.filter(state=state) if state else qs


def access_request(user: Viewer, request_id: int) -> DataRequest:
    """One request `user` answers: missing and not theirs are the same 404."""
    r = requests_for(user).select_related("user").filter(pk=request_id).first()
    if r is None:
        raise NotFound()
    return r


def my_requests(user: Viewer) -> QuerySet[DataRequest]:
    own = get_scope(user).own
    if own is None:
        return DataRequest.objects.none()
    return DataRequest.objects.filter(resident_id=own.id).select_related("handled_by")


# --- the access log, for an audit --------------------------------------------------------------------------


def audit_paths(user: Viewer) -> tuple[str, ...]:
    """Where `user` may export the access log (org.policy: Cap.PRIVACY_AUDIT)."""
    if not getattr(user, "is_authenticated", False):
        return ()
    return paths(user, Cap.PRIVACY_AUDIT)


def audits(user: Viewer) -> bool:
    return bool(audit_paths(user))


def _covers_every_root(cap_paths: tuple[str, ...]) -> bool:
    roots = list(Node.objects.filter(parent__isnull=True).values_list("path", flat=True))
    return bool(roots) and all(under(cap_paths, r) for r in roots)


def access_log(user: Viewer, *, since: dt.datetime, until: dt.datetime) -> QuerySet[PersonalDataAccess]:
    """The personal-data access log between `since` and `until` as `user` may audit it: reads of the numbers
    of residents in their part of the tree; reads of people on no register (a hotline caller, a neighbour on a
    call chain), named by a reference and not by a place, only for who answers for the whole county."""
    cap_paths = audit_paths(user)
    q = paths_q(cap_paths, "resident__path")
    if _covers_every_root(cap_paths):
        q |= Q(resident__isnull=True)
    return (
        PersonalDataAccess.objects.filter(q, at__gte=since, at__lt=until)
        .select_related("user", "resident")
        .order_by("at", "id")
    )


def access_log_rows(qs: QuerySet[PersonalDataAccess]) -> Iterator[list[str]]:
    """The rows of an export: when, who read, whose number, which, where."""
    for a in qs.iterator(chunk_size=2000):
        yield [
            timezone.localtime(a.at).isoformat(timespec="seconds"),
            a.user.username,
            str(a.user),
            str(a.resident_id or ""),
            a.resident.name if a.resident is not None else "",
            a.subject,
            a.field,
            a.channel,
            a.path,
        ]
