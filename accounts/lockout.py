"""What a locked-out login attempt gets: the API's error shape for API clients, a page for people."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _


def lockout_response(request: HttpRequest, *args, **kwargs) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse(
            {
                "error": {
                    "code": "auth.locked_out",
                    "message": _("Too many failed logins. Try again later."),
                    "fields": {},
                }
            },
            status=429,
        )
    return render(request, "accounts/locked_out.html", status=429)
