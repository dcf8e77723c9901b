"""What a locked-out login attempt gets: the API's error shape for API clients, a page for people."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from core.errors import error_body


def lockout_response(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("auth.locked_out", _("Too many failed logins. Try again later.")), status=429)
    return render(request, "accounts/locked_out.html", status=429)


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or the entry our own proxies appended to X-Forwarded-For.

    Only the last TRUSTED_PROXY_COUNT hops are ours; anything further left was written by the client
    and is not believed.
    """

    count = settings.TRUSTED_PROXY_COUNT
    if count > 0:
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
        if len(hops) >= count:
            return hops[-count]
    return request.META.get("REMOTE_ADDR", "")
