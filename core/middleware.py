"""Request hygiene shared by pages and the API."""

from __future__ import annotations

import re
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_

from core.errors import error_body

# A JSON string's escaped NUL: "\u0000" after an even number of backslashes (an odd number escapes the
# backslash itself, and the text is then the six letters, which is harmless).
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def _error(request: HttpRequest, status: int, code: str, message: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse(error_body(code, message), status=status)
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


class RejectNulMiddleware:
    """A NUL byte is never meaningful and PostgreSQL refuses it with a 500 (core.validation's rule).

    Everywhere: a NUL in the path or the query string, or a URL longer than GONGZHI["URL_MAX"], is refused
    before any view runs. Under /api/ also a NUL in a JSON body or a form field, and a body that cannot be
    read (a multipart body without its boundary): 400 `malformed_request` in the one error shape. A page's
    form shows the NUL message beside its other fields' (core.forms), so pages' bodies are left to it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.url_max = settings.GONGZHI["URL_MAX"]

    def __call__(self, request: HttpRequest) -> HttpResponse:
        query = request.META.get("QUERY_STRING", "")
        if len(request.path) + len(query) > self.url_max:
            return _error(request, 414, "uri_too_long", _("The address is too long."))
        if (
            "\x00" in request.path
            or "%00" in query
            or any("\x00" in k or "\x00" in v for k, values in request.GET.lists() for v in values)
        ):
            return _error(request, 400, "malformed_request", _("The request contains a NUL character."))
        if request.path.startswith("/api/") and request.method not in ("GET", "HEAD", "OPTIONS"):
            refused = self._body(request)
            if refused is not None:
                return refused
        return self.get_response(request)

    def _body(self, request: HttpRequest) -> HttpResponse | None:
        content_type = request.content_type or ""
        try:
            if content_type.startswith("multipart/") or content_type == "application/x-www-form-urlencoded":
                if any("\x00" in k or "\x00" in v for k, values in request.POST.lists() for v in values):
                    return _error(request, 400, "malformed_request", _("The request contains a NUL character."))
            elif b"\x00" in request.body or (b"\\u0000" in request.body and _JSON_NUL.search(request.body)):
                return _error(request, 400, "malformed_request", _("The request contains a NUL character."))
        except RequestDataTooBig:
            return _error(request, 413, "request_too_large", _("The request is too large."))
        except (MultiPartParserError, TooManyFieldsSent):
            return _error(request, 400, "malformed_request", _("The request body cannot be read."))
        return None


class ApiErrorShapeMiddleware:
    """Whatever goes wrong under /api/ (no such path, wrong method, a crash) answers in the one error shape."""

    STATUSES = (400, 401, 403, 404, 405, 413, 414, 429, 431, 500)
    MESSAGES = {
        400: ("malformed_request", N_("The request is not valid.")),
        401: ("auth.required", N_("Please log in or send a valid API token.")),
        403: ("permission_denied", N_("You do not have permission to do this.")),
        404: ("not_found", N_("Not found.")),
        405: ("method_not_allowed", N_("This method is not allowed here.")),
        413: ("request_too_large", N_("The request is too large.")),
        414: ("uri_too_long", N_("The address is too long.")),
        429: ("rate_limited", N_("Too many requests. Try again later.")),
        431: ("malformed_request", N_("The request headers are too large.")),
        500: ("server_error", N_("Internal server error.")),
    }

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            request.path.startswith("/api/")
            and response.status_code in self.STATUSES
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            code, message = self.MESSAGES[response.status_code]
            shaped = JsonResponse(error_body(code, _(message)), status=response.status_code)
            for header in ("Allow", "Retry-After", "WWW-Authenticate"):
                if response.has_header(header):
                    shaped[header] = response[header]
            return shaped
        return response


class ContentSecurityPolicyMiddleware:
    """Content-Security-Policy on every answer (settings.CONTENT_SECURITY_POLICY): scripts, styles and images
    only from this site, no plug-ins, no framing, forms post only here. The pages have no inline script,
    no inline style and no third-party asset, so a script slipped into a resident's text cannot run even
    where escaping failed. The API's documentation page (Swagger UI draws with inline styles) gets the
    policy of CONTENT_SECURITY_POLICY_DOCS.

    A dozen lines rather than django-csp: one fixed header, no nonces to hand out (nothing inline)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.policy = settings.CONTENT_SECURITY_POLICY
        self.docs_policy = settings.CONTENT_SECURITY_POLICY_DOCS

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.policy and "Content-Security-Policy" not in response:
            docs = request.path.startswith("/api/") and request.path.endswith("/docs")
            response["Content-Security-Policy"] = self.docs_policy if docs else self.policy
        return response
