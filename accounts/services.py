"""Users, role assignments and API tokens."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import ApiToken, Role, RoleAssignment, User
from core import clock
from core.errors import Conflict, ValidationFailed
from core.memo import memo
from org.models import Department, Node
from org.policy import holds_over_department

TOKEN_PREFIX = "gz_"  # noqa: S105 - a public marker, not a secret


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def user_create(
    *,
    username: str,
    password: str | None,
    display_name: str = "",
    work_phone: str = "",
    is_staff: bool = False,
    is_superuser: bool = False,
) -> User:
    user = User(
        username=username,
        display_name=display_name,
        work_phone=work_phone,
        is_staff=is_staff or is_superuser,
        is_superuser=is_superuser,
    )
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    return user


def role_check(*, role: str, node: Node | None, department: Department | None) -> None:
    """Whether a role may be held over this place (the admin's inline form asks before saving)."""
    if role not in Role.values:
        raise ValidationFailed(fields={"role": [_("Unknown role.")]})
    if holds_over_department(role) != (department is not None) or (department is not None and node is not None):
        raise ValidationFailed(fields={"scope": [_("Department staff take a department; every other role a node.")]})


@transaction.atomic
def role_assign(
    *, user: User, role: str, node: Node | None = None, department: Department | None = None
) -> RoleAssignment:
    role_check(role=role, node=node, department=department)
    assignment, _created = RoleAssignment.objects.get_or_create(user=user, role=role, node=node, department=department)
    return assignment


@transaction.atomic
def role_revoke(*, assignment: RoleAssignment) -> None:
    """Take a role away (the user's scope is rebuilt on their next request: org.access watches roles)."""
    RoleAssignment.objects.filter(pk=assignment.pk).delete()


@transaction.atomic
def token_create(*, user: User, name: str, expires_at: dt.datetime | None = None) -> tuple[ApiToken, str]:
    """Create a token and return it with the raw secret, which is never stored nor shown again. Every token
    expires: without `expires_at`, after GONGZHI["TOKEN_DEFAULT_DAYS"] days (a forgotten token on a lost
    phone must not work for ever)."""
    if expires_at is None:
        expires_at = clock.now() + dt.timedelta(days=settings.GONGZHI["TOKEN_DEFAULT_DAYS"])
    active = ApiToken.objects.select_for_update().filter(user=user, revoked_at__isnull=True)
    if active.count() >= settings.GONGZHI["TOKEN_MAX_PER_USER"]:
        raise Conflict(_("You have too many active API tokens. Revoke one first."), code="token.too_many")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name, prefix=raw[:10], digest=_digest(raw), expires_at=expires_at)
    return token, raw


@transaction.atomic
def token_revoke(*, token: ApiToken) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = clock.now()
        token.save(update_fields=["revoked_at"])
    return token


@dataclass
class _KnownToken:
    token_id: int
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None
    user: User


def _load_token(digest: str) -> _KnownToken | None:
    token = ApiToken.objects.select_related("user").filter(digest=digest, revoked_at__isnull=True).first()
    if token is None or not token.user.is_active:
        return None
    return _KnownToken(token.pk, token.expires_at, token.last_used_at, token.user)


def token_authenticate(raw: str) -> User | None:
    """The user behind a bearer token, or None for an unknown, revoked or expired one.

    Valid tokens are kept in memory (core.memo "auth"): revoking a token, or any change to a user,
    reaches every server process within a second. Unknown tokens are looked up every time."""
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 100:
        return None
    digest = _digest(raw)
    m = memo("auth")
    known = m.get(("token", digest), lambda: _load_token(digest))
    if known is None:
        m.discard(("token", digest))  # a token made a moment ago must work on its first use
        return None
    now = clock.now()
    if known.expires_at is not None and known.expires_at <= now:
        return None
    # Touch at most once a minute: a busy client must not turn every read into a write.
    if known.last_used_at is None or now - known.last_used_at > dt.timedelta(minutes=1):
        known.last_used_at = now
        ApiToken.objects.filter(pk=known.token_id).update(last_used_at=now)
    # A copy per request: views hang per-request things on request.user.
    return copy.copy(known.user)
