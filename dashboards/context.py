"""The template context every page gets from the dashboards: whether to show the command-centre link."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


class _HasDashboard:
    """Truthy when the user has a dashboard scope; asked only when a template tests it (the scope is
    cached for the request, and in memory between requests, by org.access)."""

    def __init__(self, request: HttpRequest) -> None:
        self.request = request
        self._answer: bool | None = None

    def __bool__(self) -> bool:
        if self._answer is None:
            from dashboards.selectors import dash_scope

            self._answer = dash_scope(getattr(self.request, "user", None)).any
        return self._answer


def nav(request: HttpRequest) -> dict[str, Any]:
    return {"dashboard_nav": _HasDashboard(request)}
