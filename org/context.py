"""The template context every page gets from the policy: which sections the menu shows (org.policy.nav),
worked out only when a template asks (the scope it reads is cached for the request and in memory)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


class _Nav:
    def __init__(self, request: HttpRequest) -> None:
        self.request = request
        self._answer: dict[str, bool] | None = None

    def __getitem__(self, key: str) -> bool:
        if self._answer is None:
            from org.policy import nav

            self._answer = nav(getattr(self.request, "user", None))
        return self._answer.get(key, False)


def nav(request: HttpRequest) -> dict[str, Any]:
    """`nav` (the menu's sections) and `elder`: whether the page is drawn in 长辈版 (accounts.mode) — chosen
    by the user or the browser, and never for staff (their pages stay dense)."""
    from accounts import mode

    the_nav = _Nav(request)
    user = getattr(request, "user", None)
    elder = mode.chosen(request) and (user is None or not user.is_authenticated or the_nav["elder"])
    return {"nav": the_nav, "elder": elder}
