"""The in-site inbox over the API: my messages newest first, the unread count, marking read. Each user sees
and marks only their own; another's message id is 404 and changes nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Query, Router

from accounts.http import AuthedRequest
from core.schemas import DictSchema, Page, PageParams, paginate
from notify import selectors, services
from notify.models import Message

router = Router(tags=["inbox"])


class MessageOut(DictSchema):
    id: int
    kind: str
    text: str
    link: str
    channel: str
    created_at: dt.datetime
    read_at: dt.datetime | None


class UnreadOut(DictSchema):
    unread: int


class MarkedOut(DictSchema):
    marked: int


def _message(m: Message) -> dict[str, Any]:
    return {
        "id": m.pk,
        "kind": m.kind,
        "text": m.text,
        "link": m.link,
        "channel": m.channel,
        "created_at": m.created_at,
        "read_at": m.read_at,
    }


@router.get("/inbox", response=Page[MessageOut], summary="My messages, newest first")
def inbox(request: AuthedRequest, page: Query[PageParams]):
    return paginate(selectors.inbox_for(request.user).order_by("-id"), page, convert=_message, count_cap=10_000)


@router.get("/inbox/unread-count", response=UnreadOut, summary="How many of my messages are unread")
def unread_count(request: AuthedRequest):
    return {"unread": selectors.inbox_unread(request.user)}


@router.post("/inbox/read-all", response=MarkedOut, summary="Mark all my messages read")
def read_all(request: AuthedRequest):
    return {"marked": services.inbox_mark_read(user=request.user)}


@router.post("/inbox/{message_id}/read", response=MessageOut, summary="Mark one of my messages read")
def read_one(request: AuthedRequest, message_id: int):
    return _message(services.inbox_open(user=request.user, message_id=message_id))
