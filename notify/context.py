"""The header's unread count (templates/notify/_bell.html): counted only when a template asks, once a
request however many templates ask (one COUNT over the partial index message_unread)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


class _Inbox:
    def __init__(self, request: HttpRequest) -> None:
        self.request = request

    @property
    def unread(self) -> int:
        cached: int | None = getattr(self.request, "_inbox_unread", None)
        if cached is None:
            from notify.selectors import inbox_unread

            user = getattr(self.request, "user", None)
            cached = inbox_unread(user) if user is not None else 0
            self.request._inbox_unread = cached  # type: ignore[attr-defined]
        return cached


def inbox(request: HttpRequest) -> dict[str, Any]:
    return {"inbox": _Inbox(request)}
