"""The JSON API under /api/v1/: auth, the single error→JSON handler, and every app's router."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, RawPostDataException
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser
from ninja.security import APIKeyCookie, HttpBearer

from accounts.services import token_authenticate
from core.errors import ApiError, error_body
from core.ratelimit import RateLimited
from core.validation import api_message, strict_json


class TokenAuth(HttpBearer):
    """`Authorization: Bearer gz_…` for clients; the user becomes request.user like a session's."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = token_authenticate(token)
        if user is not None:
            request.user = user
        return user


class SessionAuth(APIKeyCookie):
    """Django's session for pages that call the API; CSRF is checked on unsafe methods.

    Only for a logged-in session: without one there is nothing to forge, and a client whose token is
    missing, expired or revoked must hear 401 (log in again), not a CSRF failure (403)."""

    param_name = settings.SESSION_COOKIE_NAME

    def __call__(self, request: HttpRequest) -> Any:
        if not request.user.is_authenticated:
            return None
        return super().__call__(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        if request.user.is_authenticated:
            return request.user
        return None


class StrictJSONParser(Parser):
    """JSON as RFC 8259 says it travels (core.validation.strict_json)."""

    def parse_body(self, request: HttpRequest) -> Any:
        # A form or multipart body where JSON is read: refused as malformed, without reading it (the
        # middleware may have read it as a form already, and Django then refuses to give the raw bytes).
        if request.content_type != "application/json":
            raise json.JSONDecodeError("JSON bodies only (Content-Type: application/json)", "", 0)
        return strict_json(request.body)


# The statuses any operation may answer in the one error shape, with what each means (the OpenAPI document
# lists them on every operation, so clients and the contract test know them).
ERROR_STATUSES = {
    "400": "Malformed request (not UTF-8 JSON, a NUL character, an unreadable body): `malformed_request`",
    "401": "Missing, expired or revoked credentials: `auth.required`, `auth.invalid_token`",
    "403": "Not allowed for your role: `permission_denied`, `csrf_failed`",
    "404": "Missing, or outside your part of the tree (the two look alike): `not_found`",
    "405": "Method not allowed: `method_not_allowed`",
    "409": "Conflicts with the current state (a move already made, a key reused): `conflict` and others",
    "413": "Request too large: `request_too_large`",
    "414": "Address too long: `uri_too_long`",
    "422": "Some fields are not valid: `validation_error`, with `fields`",
    "429": "Too many requests (see Retry-After): `rate_limited`, `auth.locked_out`",
}
ERROR_SCHEMA = {
    "title": "Error",
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "fields"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
            },
        }
    },
}


def _possible_errors(method: str, operation: dict[str, Any]) -> list[str]:
    """The error statuses one operation can answer: a conflict only where something is changed, a body too
    large only where there is a body, invalid fields only where there are fields. (The contract test then
    fails on, say, a 409 from a read.)"""
    has_body = "requestBody" in operation
    statuses = ["400", "401", "403", "404", "405", "414", "429"]
    if method.lower() != "get":
        statuses.append("409")
    if has_body:
        statuses.append("413")
    if has_body or operation.get("parameters"):
        statuses.append("422")
    return sorted(statuses)


class GongzhiAPI(NinjaAPI):
    def get_openapi_schema(self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None) -> Any:
        """ninja's document, with the error answers every operation may give."""
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
        content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        for operations in schema.get("paths", {}).values():
            for method, operation in operations.items():
                responses = operation.setdefault("responses", {})
                for status in _possible_errors(method, operation):
                    responses.setdefault(status, {"description": ERROR_STATUSES[status], "content": content})
        return schema


api = GongzhiAPI(
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
    response = error_response(request, exc.status, exc.code, str(exc.message), exc.fields)
    if isinstance(exc, RateLimited):
        response["Retry-After"] = str(exc.retry_after)
    return response


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


@api.exception_handler(RawPostDataException)
def _read_as_form(request: HttpRequest, exc: RawPostDataException) -> HttpResponse:
    # A form or multipart body (read as fields already, streamed files and all) sent where JSON is read.
    return error_response(request, 400, "malformed_request", _("The request body is not valid JSON."))


@api.exception_handler(RequestDataTooBig)
def _too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return error_response(request, 413, "request_too_large", _("The request is too large."))


def _register_routers() -> None:
    from accounts.api import router as accounts_router
    from catalog.api import router as catalog_router
    from dashboards.api import router as dashboards_router
    from deliberation.api import router as deliberation_router
    from integrations.api import router as integrations_router
    from mediation.api import router as mediation_router
    from notices.api import router as notices_router
    from notify.api import router as notify_router
    from org.api import router as org_router
    from partylink.api import router as partylink_router
    from points.api import router as points_router
    from sos.api import router as sos_router
    from volunteers.api import router as volunteers_router
    from workorders.api import router as workorders_router

    # Work orders first: intake is the busiest call, and the routes are matched in the order they are added.
    api.add_router("", workorders_router)
    api.add_router("", accounts_router)
    api.add_router("", org_router)
    api.add_router("", catalog_router)
    api.add_router("", sos_router)
    api.add_router("", points_router)
    api.add_router("", volunteers_router)
    api.add_router("", partylink_router)
    api.add_router("", notices_router)
    api.add_router("", deliberation_router)
    api.add_router("", mediation_router)
    api.add_router("", notify_router)
    api.add_router("", dashboards_router)
    api.add_router("", integrations_router)


_register_routers()
