"""The JSON API under /api/v1/: auth, the single error→JSON handler, and every app's router."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser
from ninja.security import APIKeyCookie, HttpBearer

from accounts.services import token_authenticate
from core.errors import ApiError, error_body
from core.validation import api_message


class TokenAuth(HttpBearer):
    """`Authorization: Bearer gz_…` for clients; the user becomes request.user like a session's."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = token_authenticate(token)
        if user is not None:
            request.user = user
        return user


class SessionAuth(APIKeyCookie):
    """Django's session for pages that call the API; CSRF is checked on unsafe methods."""

    param_name = settings.SESSION_COOKIE_NAME

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        if request.user.is_authenticated:
            return request.user
        return None


def _no_constants(name: str) -> None:
    # NaN and Infinity are not JSON (RFC 8259), and neither database stores them: refuse them at the door.
    raise json.JSONDecodeError(f"{name} is not allowed in JSON", name, 0)


class StrictJSONParser(Parser):
    def parse_body(self, request: HttpRequest) -> Any:
        return json.loads(request.body, parse_constant=_no_constants)


api = NinjaAPI(
    parser=StrictJSONParser(),
    title="Gongzhi API",
    version="1",
    description=(
        "Gongzhi (共治) grassroots governance platform. Authenticate with `Authorization: Bearer <token>` "
        "(POST /api/v1/auth/token) or a browser session. Errors always have the shape "
        '`{"error": {"code": "...", "message": "...", "fields": {...}}}`.'
    ),
    auth=[TokenAuth(), SessionAuth()],
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
)


def error_response(
    request: HttpRequest, status: int, code: str, message: str, fields: dict | None = None
) -> HttpResponse:
    return api.create_response(request, error_body(code, message, fields), status=status)


@api.exception_handler(ApiError)
def _api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    return error_response(request, exc.status, exc.code, str(exc.message), exc.fields)


def _field_name(loc: list | tuple) -> str:
    parts = [str(p) for p in loc]
    # ninja prefixes the source ("body", "query", "path") and, for a whole-body schema, its parameter name.
    while parts and parts[0] in {"body", "query", "path", "form", "payload", "params", "filters"}:
        parts = parts[1:]
    return ".".join(parts) or "__all__"


@api.exception_handler(ValidationError)
def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    fields: dict[str, list[str]] = {}
    for err in exc.errors:
        fields.setdefault(_field_name(err.get("loc", ())), []).append(api_message(err))
    return error_response(request, 422, "validation_error", _("Some fields are not valid."), fields)


@api.exception_handler(DjangoValidationError)
def _django_validation_error(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
    fields = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
    return error_response(request, 422, "validation_error", _("Some fields are not valid."), fields)


@api.exception_handler(AuthenticationError)
def _auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    if request.headers.get("Authorization"):
        return error_response(request, 401, "auth.invalid_token", _("The API token is not valid, revoked or expired."))
    return error_response(request, 401, "auth.required", _("Please log in or send a valid API token."))


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if exc.status_code == 400:
        return error_response(request, 400, "malformed_request", _("The request body is not valid JSON."))
    if exc.status_code == 403:
        # CSRF failures of session-authenticated unsafe requests land here.
        return error_response(request, 403, "csrf_failed", _("The request was refused (CSRF check failed)."))
    return error_response(request, exc.status_code, f"http_{exc.status_code}", str(exc))


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(request, 404, "not_found", _("Not found."))


@api.exception_handler(RequestDataTooBig)
def _too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return error_response(request, 413, "request_too_large", _("The request is too large."))


def _register_routers() -> None:
    from accounts.api import router as accounts_router
    from catalog.api import router as catalog_router
    from dashboards.api import router as dashboards_router
    from org.api import router as org_router
    from points.api import router as points_router
    from sos.api import router as sos_router
    from volunteers.api import router as volunteers_router
    from workorders.api import router as workorders_router

    api.add_router("", accounts_router)
    api.add_router("", org_router)
    api.add_router("", catalog_router)
    api.add_router("", workorders_router)
    api.add_router("", sos_router)
    api.add_router("", points_router)
    api.add_router("", volunteers_router)
    api.add_router("", dashboards_router)


_register_routers()
