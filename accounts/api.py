"""Who am I, token login, token management."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from django.contrib.auth import authenticate
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status
from pydantic import StringConstraints

from accounts import services
from accounts.http import AuthedRequest
from accounts.models import ApiToken
from core import clock
from core.errors import ApiError, NotFound
from core.schemas import StrictIn
from org import access
from org.models import Node

router = Router(tags=["accounts"])


class NodeRef(Schema):
    id: int
    name: str
    level: int
    path: str


class RoleOut(Schema):
    role: str
    role_label: str
    node: NodeRef | None
    department_id: int | None
    department_name: str | None


class MeOut(Schema):
    id: int
    username: str
    display_name: str
    is_superuser: bool
    roles: list[RoleOut]
    scope_nodes: list[NodeRef]
    household_id: int | None
    resident_id: int | None
    department_ids: list[int]


@router.get("/me", response=MeOut, summary="Who am I: roles and scope")
def me(request: AuthedRequest):
    user = request.user
    scope = access.get_scope(user)
    return {
        "id": user.pk,
        "username": user.username,
        "display_name": user.display_name,
        "is_superuser": user.is_superuser,
        "roles": [
            {
                "role": a.role,
                "role_label": a.get_role_display(),
                "node": a.node,
                "department_id": a.department_id,
                "department_name": a.department.name if a.department else None,
            }
            for a in scope.assignments
        ],
        "scope_nodes": list(Node.objects.filter(path__in=scope.node_paths)),
        "household_id": scope.own_household_id,
        "resident_id": scope.own_resident_id,
        "department_ids": sorted(scope.department_ids),
    }


class TokenLoginIn(StrictIn):
    username: str = Field(..., min_length=1, max_length=150)
    # As typed, spaces included, like the login page's (core.schemas.VERBATIM: not cleaned either).
    password: Annotated[str, StringConstraints(strip_whitespace=False)] = Field(..., min_length=1, max_length=256)
    name: str = Field("api", min_length=1, max_length=60)
    expires_in_days: int | None = Field(None, ge=1, le=366, description="Default: GONGZHI TOKEN_DEFAULT_DAYS (90)")


class TokenIn(StrictIn):
    name: str = Field(..., min_length=1, max_length=60)
    expires_in_days: int | None = Field(None, ge=1, le=366, description="Default: GONGZHI TOKEN_DEFAULT_DAYS (90)")


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None


class NewTokenOut(TokenOut):
    token: str = Field(..., description="The secret. Shown once; store it now.")


def _expiry(days: int | None) -> dt.datetime | None:
    return clock.now() + dt.timedelta(days=days) if days else None


def _new_token(token: ApiToken, raw: str) -> dict:
    return {**TokenOut.from_orm(token).dict(), "token": raw}


@router.post("/auth/token", auth=None, response={201: NewTokenOut}, summary="Exchange a password for an API token")
def token_login(request: HttpRequest, payload: TokenLoginIn):
    user = authenticate(request, username=payload.username, password=payload.password)
    if getattr(request, "axes_locked_out", False):
        raise ApiError(_("Too many failed logins. Try again later."), code="auth.locked_out", status=429)
    if user is None or not user.is_active:
        raise ApiError(_("Wrong username or password."), code="auth.bad_credentials", status=401)
    token, raw = services.token_create(user=user, name=payload.name, expires_at=_expiry(payload.expires_in_days))
    return Status(201, _new_token(token, raw))


@router.get("/tokens", response=list[TokenOut], summary="My API tokens")
def token_list(request: AuthedRequest):
    return list(ApiToken.objects.filter(user=request.user))


@router.post("/tokens", response={201: NewTokenOut}, summary="Create an API token")
def token_create(request: AuthedRequest, payload: TokenIn):
    token, raw = services.token_create(
        user=request.user, name=payload.name, expires_at=_expiry(payload.expires_in_days)
    )
    return Status(201, _new_token(token, raw))


@router.delete("/tokens/{token_id}", response=TokenOut, summary="Revoke an API token")
def token_revoke(request: AuthedRequest, token_id: int):
    token = ApiToken.objects.filter(pk=token_id, user=request.user).first()
    if token is None:
        raise NotFound()
    return services.token_revoke(token=token)
