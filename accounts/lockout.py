"""What a locked-out login attempt gets: the API's error shape for API clients, a page for people."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from core import ratelimit
from core.errors import error_body


def lockout_response(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("auth.locked_out", _("Too many failed logins. Try again later.")), status=429)
    return render(request, "accounts/locked_out.html", status=429)


def client_ip(request: HttpRequest) -> str:
    """django-axes asks here (AXES_CLIENT_IP_CALLABLE); the rate limits ask the same function."""
    return ratelimit.client_ip(request)
