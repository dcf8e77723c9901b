"""The inbox's reads: each user's own messages, never another's."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import Viewer
from core.errors import NotFound
from notify.models import Message


def inbox_for(user: Viewer) -> QuerySet[Message]:
    """The user's own messages; nobody else's, whoever asks (the anonymous have none)."""
    if not user.is_authenticated:
        return Message.objects.none()
    return Message.objects.filter(user_id=user.pk)


def inbox_unread(user: Viewer) -> int:
    """One COUNT over the partial index of unread messages (message_unread)."""
    if not user.is_authenticated:
        return 0
    return Message.objects.filter(user_id=user.pk, read_at__isnull=True).count()


def access_message(user: Viewer, message_id: int) -> Message:
    """The user's own message; another's and a missing one are the same 404."""
    m = inbox_for(user).filter(pk=message_id).first()
    if m is None:
        raise NotFound()
    return m
