"""Notices over the API: mine (unread first count), one notice (opening it counts as read), and for those
who publish: write, publish, withdraw, and who has read each."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils.translation import gettext as _
from ninja import Field, Query, Router
from ninja.responses import Status

from accounts.http import AuthedRequest
from core.clock import EARLIEST, LATEST, SHANGHAI, today
from core.errors import NotFound
from core.schemas import DictSchema, Page, PageParams, QueryIn, StrictIn, paginate
from notices import selectors, services
from notices.models import Event, Notice
from notices.states import NOTICE
from org.access import access_node
from org.models import ServicePoint

router = Router(tags=["notices"])


class AttachmentOut(DictSchema):
    id: int
    name: str
    size: int
    url: str


class NoticeOut(DictSchema):
    id: int
    node_id: int
    place: str
    title: str
    body: str
    to_residents: bool
    to_staff: bool
    to_party: bool
    pinned: bool
    state: str
    state_label: str
    published_at: dt.datetime | None
    expires_at: dt.datetime | None
    attachments: list[AttachmentOut]
    read: bool = Field(description="Whether you have opened it")
    actions: list[str] = Field(description="What you may do with it now: publish, withdraw")


class ManagedOut(NoticeOut):
    audience: int = Field(description="Accounts it is addressed to")
    read_by: int = Field(description="How many of them have opened it")


def _notice(n: Notice, user: Any, *, read: bool | None = None) -> dict[str, Any]:
    manages = selectors.manages(user, n)
    return {
        "id": n.pk, "node_id": n.node_id, "place": n.node.name, "title": n.title, "body": n.body,
        "to_residents": n.to_residents, "to_staff": n.to_staff, "to_party": n.to_party, "pinned": n.pinned,
        "state": n.state, "state_label": str(n.get_state_display()), "published_at": n.published_at,
        "expires_at": n.expires_at,
        "attachments": [
            {"id": a.pk, "name": a.name, "size": a.size, "url": f"/notices/{n.pk}/files/{a.pk}/"}
            for a in n.attachments.all()
        ],
        "read": read if read is not None else n.reads.filter(user_id=user.pk).exists(),
        "actions": NOTICE.allowed(n, lambda _a: True) if manages else [],
    }  # fmt: skip


@router.get("/notices", response=Page[NoticeOut], summary="Notices for me, pinned first")
def mine(request: AuthedRequest, page: Query[PageParams]):
    out = paginate(selectors.notices_for(request.user), page)
    read = selectors.read_ids(request.user, out["items"])
    out["items"] = [_notice(n, request.user, read=n.pk in read) for n in out["items"]]
    return out


@router.get("/notices/unread-count", response=dict[str, int], summary="How many notices for me I have not opened")
def unread(request: AuthedRequest):
    return {"unread": selectors.unread_count(request.user)}


@router.get("/notices/managed", response=Page[ManagedOut], summary="Notices of the area where I publish")
def managed(request: AuthedRequest, page: Query[PageParams]):
    def row(n: Notice) -> dict[str, Any]:
        r = selectors.reach(n)
        return {**_notice(n, request.user), "audience": r.audience, "read_by": r.read}

    return paginate(selectors.managed(request.user), page, row)


@router.get("/notices/{notice_id}", response=NoticeOut, summary="One notice (opening it counts as read)")
def one(request: AuthedRequest, notice_id: int):
    n = selectors.access_notice(request.user, notice_id)
    if n.state == Notice.State.PUBLISHED:
        services.notice_read(notice=n, by=request.user)
    return _notice(n, request.user)


class NoticeIn(StrictIn):
    node_id: int = Field(..., ge=1, description="The area: a county, town, village or grid where you publish")
    title: str = Field(..., min_length=1, max_length=80)
    body: str = Field(..., min_length=1, max_length=5000)
    to_residents: bool = True
    to_staff: bool = False
    to_party: bool = False
    pinned: bool = False
    expires_at: dt.datetime | None = None
    publish: bool = Field(True, description="False: keep it as a draft")


@router.post("/notices", response={201: NoticeOut}, summary="Write a notice")
def create(request: AuthedRequest, body: NoticeIn):
    node = access_node(request.user, body.node_id)
    n = services.notice_create(by=request.user, node=node, **body.model_dump(exclude={"node_id"}))
    return Status(201, _notice(n, request.user, read=False))


@router.post("/notices/{notice_id}/publish", response=NoticeOut, summary="Publish a draft")
def publish(request: AuthedRequest, notice_id: int):
    n = selectors.access_notice(request.user, notice_id)
    services.notice_publish(notice=n, by=request.user)
    return _notice(n, request.user)


class WithdrawIn(StrictIn):
    reason: str = Field(..., min_length=1, max_length=200)


@router.post("/notices/{notice_id}/withdraw", response=NoticeOut, summary="Withdraw a published notice")
def withdraw(request: AuthedRequest, notice_id: int, body: WithdrawIn):
    n = selectors.access_notice(request.user, notice_id)
    services.notice_withdraw(notice=n, by=request.user, reason=body.reason)
    return _notice(n, request.user)


# --- events ---------------------------------------------------------------------------------------------------


class CommunityEventOut(DictSchema):
    id: int
    node_id: int
    point_id: int | None
    kind: str
    kind_label: str
    title: str
    description: str
    place: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    capacity: int
    left: int
    state: str
    mine: bool = Field(description="Whether you are signed up to attend")


def _event(e: Event, mine: bool) -> dict[str, Any]:
    return {
        "id": e.pk, "node_id": e.node_id, "point_id": e.point_id, "kind": e.kind,
        "kind_label": str(e.get_kind_display()), "title": e.title, "description": e.description,
        "place": e.place, "starts_at": e.starts_at,
        "ends_at": e.ends_at, "capacity": e.capacity, "left": e.left, "state": e.state, "mine": mine,
    }  # fmt: skip


class WeekFilter(QueryIn):
    start: dt.date | None = Field(None, ge=EARLIEST, le=LATEST, description="First day of the week (default today)")


@router.get("/events", response=list[CommunityEventOut], summary="This week's events in my area (一周活动预告)")
def events(request: AuthedRequest, f: Query[WeekFilter]):
    start = dt.datetime.combine(f.start or today(), dt.time(), tzinfo=SHANGHAI)
    rows = list(selectors.events_for(request.user, start=start, end=start + dt.timedelta(days=7)))
    mine = selectors.my_attendance(request.user, rows)
    return [_event(e, e.pk in mine and mine[e.pk].state == "signed_up") for e in rows]


class CommunityEventIn(StrictIn):
    node_id: int = Field(..., ge=1)
    point_id: int | None = Field(None, ge=1)
    kind: Event.Kind = Event.Kind.OTHER
    title: str = Field(..., min_length=1, max_length=80)
    description: str = Field("", max_length=2000)
    place: str = Field("", max_length=120, description="Default: the service point's name")
    starts_at: dt.datetime
    ends_at: dt.datetime
    capacity: int = Field(..., ge=1, le=services.MAX_CAPACITY)


@router.post("/events", response={201: CommunityEventOut}, summary="Publish an event for an area of yours")
def event_publish(request: AuthedRequest, body: CommunityEventIn):
    node = access_node(request.user, body.node_id)
    point = ServicePoint.objects.filter(pk=body.point_id).first() if body.point_id else None
    if body.point_id and point is None:
        raise NotFound(_("No such service point in your area."), code="point.not_found")
    e = services.event_publish(
        by=request.user, node=node, point=point, **body.model_dump(exclude={"node_id", "point_id"})
    )
    return Status(201, _event(e, False))


def _fresh(request: AuthedRequest, event_id: int) -> dict[str, Any]:
    e = selectors.access_event(request.user, event_id)
    mine = selectors.my_attendance(request.user, [e])
    return _event(e, e.pk in mine and mine[e.pk].state == "signed_up")


@router.get("/events/{event_id}", response=CommunityEventOut, summary="One event")
def event(request: AuthedRequest, event_id: int):
    return _fresh(request, event_id)


@router.post("/events/{event_id}/attend", response=CommunityEventOut, summary="Sign up to attend")
def attend(request: AuthedRequest, event_id: int):
    services.event_attend(event=selectors.access_event(request.user, event_id), by=request.user)
    return _fresh(request, event_id)


@router.post("/events/{event_id}/withdraw", response=CommunityEventOut, summary="Give my place back")
def event_withdraw(request: AuthedRequest, event_id: int):
    services.event_withdraw(event=selectors.access_event(request.user, event_id), by=request.user)
    return _fresh(request, event_id)


class CancelIn(StrictIn):
    reason: str = Field(..., min_length=1, max_length=200)


@router.post(
    "/events/{event_id}/cancel", response=CommunityEventOut, summary="Cancel an event (those signed up are told)"
)
def event_cancel(request: AuthedRequest, event_id: int, body: CancelIn):
    services.event_cancel(event=selectors.access_event(request.user, event_id), by=request.user, reason=body.reason)
    return _fresh(request, event_id)
