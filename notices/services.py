"""Every write of notices: write (as a draft or published at once), publish, withdraw with a reason, and
note that someone read one. Attachments are checked by size, count and kind."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from core.clock import now
from core.errors import NotFound, ValidationFailed
from core.validation import clean_text, has_nul, one_line
from notices import selectors
from notices.models import Attachment, Notice, Read
from notices.states import NOTICE
from org.models import Node
from org.policy import under

if TYPE_CHECKING:
    from accounts.models import User

MAX_ATTACHMENTS = 5
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
ATTACHMENT_KINDS = frozenset({".pdf", ".jpg", ".jpeg", ".png", ".doc", ".docx", ".xls", ".xlsx", ".txt"})


def _invalid(field: str, message: str, code: str = "notice.invalid") -> ValidationFailed:
    return ValidationFailed(message, code=code, fields={field: [message]})


def _text(value: str | None, field: str, *, max_len: int, line: bool = False) -> str:
    value = value or ""
    if has_nul(value):
        raise _invalid(field, _("NUL characters are not allowed."), "validation.nul")
    value = one_line(value) if line else clean_text(value).strip()
    if not value:
        raise _invalid(field, _("This field is required."), "validation.required")
    if len(value) > max_len:
        raise _invalid(field, _("At most %(n)s characters.") % {"n": max_len}, "validation.too_long")
    return value


def notice_create(
    *,
    by: User,
    node: Node,
    title: str,
    body: str,
    to_residents: bool = True,
    to_staff: bool = False,
    to_party: bool = False,
    pinned: bool = False,
    expires_at: dt.datetime | None = None,
    publish: bool = True,
    attachments: Sequence[Any] = (),
) -> Notice:
    """Write a notice for `node`'s area (a subtree where `by` publishes), published at once unless a draft."""
    if not under(selectors.publish_paths(by), node.path):
        raise NotFound(_("No such place in your area."), code="node.not_found")
    title = _text(title, "title", max_len=80, line=True)
    body = _text(body, "body", max_len=5000)
    if not (to_residents or to_staff or to_party):
        raise _invalid("audience", _("Choose who the notice is for."), "notice.no_audience")
    at = now()
    if expires_at is not None and expires_at <= at:
        raise _invalid("expires_at", _("The expiry must be in the future."), "notice.bad_expiry")
    if len(attachments) > MAX_ATTACHMENTS:
        raise _invalid("attachments", _("At most %(n)s attachments.") % {"n": MAX_ATTACHMENTS})
    for f in attachments:
        _check_file(f)
    with transaction.atomic():
        notice = Notice.objects.create(
            node=node, path=node.path, title=title, body=body, to_residents=to_residents, to_staff=to_staff,
            to_party=to_party, pinned=pinned, created_by=by, created_at=at, expires_at=expires_at,
            state=Notice.State.PUBLISHED if publish else Notice.State.DRAFT, published_at=at if publish else None,
        )  # fmt: skip
        for f in attachments:
            a = Attachment(notice=notice, name=PurePath(f.name).name[:120], size=f.size)
            a.file.save(PurePath(f.name).name[-60:], f, save=False)
            a.save()
    return notice


def _check_file(f: Any) -> None:
    name = PurePath(getattr(f, "name", "") or "").name
    if has_nul(name) or PurePath(name).suffix.lower() not in ATTACHMENT_KINDS:
        raise _invalid("attachments", _("Attach PDF, pictures, Word, Excel or text files only."), "notice.bad_file")
    if f.size > MAX_ATTACHMENT_BYTES:
        raise _invalid(
            "attachments", _("An attachment may be at most %(mb)s MB.") % {"mb": MAX_ATTACHMENT_BYTES // 2**20},
            "notice.file_too_large",
        )  # fmt: skip


def _managed(notice: Notice, by: User) -> None:
    if not selectors.manages(by, notice):
        raise NotFound(_("No such notice."), code="notice.not_found")


def notice_publish(*, notice: Notice, by: User) -> Notice:
    _managed(notice, by)
    with transaction.atomic():
        NOTICE.move(notice, "publish", fields={"published_at": now()})
    return notice


def notice_withdraw(*, notice: Notice, by: User, reason: str) -> Notice:
    _managed(notice, by)
    reason = _text(reason, "reason", max_len=200, line=True)
    with transaction.atomic():
        NOTICE.move(notice, "withdraw", fields={"withdrawn_reason": reason})
    return notice


def notice_read(*, notice: Notice, by: User) -> bool:
    """Note that `by` opened the notice; whether this was the first time."""
    try:
        with transaction.atomic():
            Read.objects.create(notice=notice, user=by, at=now())
        return True
    except IntegrityError:
        return False
