"""What every points service shares: the settings, the village of a path, replay-safe writes with
idempotency keys, the manager check, reasons and the message to the resident."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from notify.services import message_queue
from org.models import Resident, path_ids
from points.selectors import manages

if TYPE_CHECKING:
    from accounts.models import User

T = TypeVar("T")

MAX_POINTS = 100_000  # one entry; far above any real award, it stops a typo of a few more zeros
MAX_QUANTITY = 99


def setting(name: str) -> Any:
    return settings.GONGZHI["POINTS"][name]


def village_id(path: str) -> int:
    """The village of a resident's grid ("/county/town/village/grid/")."""
    ids = path_ids(path)
    return ids[-2] if len(ids) >= 2 else ids[-1]


def _once(key_lookup: Callable[[], T | None], write: Callable[[], T]) -> tuple[T, bool]:
    """Run `write` in a transaction unless a replay of the same key already did: (result, created)."""
    found = key_lookup()
    if found is not None:
        return found, False
    try:
        with transaction.atomic():
            return write(), True
    except (IntegrityError, Conflict):
        # A copy of this request ran at the same moment: this one waited on its locks, then met its key
        # (or found the stock or the balance it took). The first one's answer is the answer.
        found = key_lookup()
        if found is None:
            raise
        return found, False


def _client_key(key: str | None) -> str:
    key = (key or "").strip()
    if len(key) > 64:
        raise ValidationFailed(
            _("The idempotency key is at most 64 characters."), code="points.bad_key", fields={"key": _("too long")}
        )
    return key or uuid.uuid4().hex


def _check_manager(by: User, path: str, resident: Resident | None = None) -> None:
    if not manages(by, path):
        raise NotFound(_("No such resident in your area."), code="resident.not_found")
    if resident is not None and resident.user_id is not None and resident.user_id == by.pk:
        raise PermissionDenied(_("Points of your own are decided by a colleague."), code="points.own_account")


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(_("Give the reason."), code="points.reason_required", fields={"reason": _("required")})
    if len(reason) > 200:
        raise ValidationFailed(
            _("The reason is at most 200 characters."), code="points.reason_too_long", fields={"reason": _("too long")}
        )
    return reason


def _tell(resident: Resident, text: str) -> None:
    """A message to the resident's inbox, written in the same transaction as the entry it tells of."""
    message_queue(user_id=resident.user_id, kind="points", text=text, link="/points/")
