"""Notices over the API: mine (unread first count), one notice (opening it counts as read), and for those
who publish: write, publish, withdraw, and who has read each."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Field, Query, Router
from ninja.responses import Status

from accounts.http import AuthedRequest
from core.schemas import DictSchema, Page, PageParams, StrictIn, paginate
from notices import selectors, services
from notices.models import Notice
from notices.states import NOTICE
from org.access import access_node

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
    return paginate(selectors.notices_for(request.user), page, lambda n: _notice(n, request.user))


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
