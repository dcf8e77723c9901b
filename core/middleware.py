"""Request hygiene shared by pages and the API."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.utils.translation import gettext as _

from core.errors import error_body


def _error(request: HttpRequest, status: int, code: str, message: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse(error_body(code, message), status=status)
    return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")


class RejectNulMiddleware:
    """A NUL byte in a query string or form is never meaningful; PostgreSQL refuses it with a 500."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "%00" in request.META.get("QUERY_STRING", "") or any(
            "\x00" in k or "\x00" in v for k, values in request.GET.lists() for v in values
        ):
            return _error(request, 400, "malformed_request", _("The request contains a NUL character."))
        return self.get_response(request)


class ApiErrorShapeMiddleware:
    """Whatever goes wrong under /api/ (no such path, wrong method, a crash) answers in the one error shape."""

    STATUSES = (404, 405, 500)

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            request.path.startswith("/api/")
            and response.status_code in self.STATUSES
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            messages = {
                404: _("Not found."),
                405: _("This method is not allowed here."),
                500: _("Internal server error."),
            }
            code = {404: "not_found", 405: "method_not_allowed", 500: "server_error"}[response.status_code]
            shaped = JsonResponse(error_body(code, messages[response.status_code]), status=response.status_code)
            if response.status_code == 405 and response.has_header("Allow"):
                shaped["Allow"] = response["Allow"]
            return shaped
        return response
