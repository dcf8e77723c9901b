"""Rate limits: how often one person, or one network address, may file an order, raise a one-key call or
try to log in. A resident who submits 200 orders in 2 s, or raises 20 emergency calls in 0.3 s (each
texting responders and family), is refused with 429 `rate_limited` and told when to try again.

    limits = settings.GONGZHI["RATE_LIMITS"]   # {"intake": {"user": (10, 600), "address": (300, 600)}, …}
    ratelimit.hit("intake", "user", user.pk)   # in a service: raises RateLimited past the limit

Counting: fixed windows in Django's cache (one `add` and one `incr`: microseconds in the local-memory
cache). The window starts from `core.clock.now()`, so tests move the clock instead of waiting. With
several server processes, point Django's CACHES at a shared cache (its RedisCache, for one) or each process
counts for itself and the limit is that many times higher.

Who is counted:
- per user in the services (workorders intake, sos raise): whichever way the request came in, page or API;
  staff who file for others (a hotline operator) have their own, higher limit (`staff`);
- per address and, for logins, per username, here in `RateLimitMiddleware`, before the view runs, keyed on
  the view's name (the address is `client_ip`: REMOTE_ADDR, or X-Forwarded-For only as far as
  TRUSTED_PROXY_COUNT says).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy

from core import clock
from core.errors import ApiError, error_body

log = logging.getLogger(__name__)


class RateLimited(ApiError):
    status = 429
    code = "rate_limited"
    default_message = gettext_lazy("Too many requests. Try again later.")

    def __init__(self, message: Any = None, *, retry_after: int = 60, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


MESSAGES = {
    "intake": gettext_lazy(
        "You have filed many orders in a short time. Please wait %(minutes)s minutes and try again."
    ),
    "sos": gettext_lazy(
        "Your call was already sent and is being handled. Please wait %(minutes)s minutes before calling again, "
        "or phone 110/120 at once in a real emergency."
    ),
    "login": gettext_lazy("Too many login attempts. Please wait %(minutes)s minutes and try again."),
}


_warned = False


def _warn_proxy() -> None:
    """Once per process: behind a proxy with TRUSTED_PROXY_COUNT=0 every client has the proxy's address, so one
    person can use up the logins and intake of a whole county."""
    global _warned
    _warned = True
    log.warning(
        "X-Forwarded-For arrives but TRUSTED_PROXY_COUNT is 0: every client counts as the proxy's address for "
        "lockouts and rate limits. Set TRUSTED_PROXY_COUNT to the number of your proxies."
    )


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or the entry our own proxies appended to X-Forwarded-For.

    Only the last TRUSTED_PROXY_COUNT hops are ours; anything further left was written by the client
    and is not believed."""
    count = settings.TRUSTED_PROXY_COUNT
    if count == 0 and "HTTP_X_FORWARDED_FOR" in request.META and not _warned:
        _warn_proxy()
    if count > 0:
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
        if len(hops) >= count:
            return hops[-count]
    return str(request.META.get("REMOTE_ADDR", ""))


_suspended: ContextVar[bool] = ContextVar("gongzhi_rate_limits_suspended", default=False)


@contextmanager
def suspended() -> Iterator[None]:
    """No limits within the block (in this thread): the demo loader replaying a county's year, an import."""
    token = _suspended.set(True)
    try:
        yield
    finally:
        _suspended.reset(token)


def _limit(action: str, who: str) -> tuple[int, int] | None:
    rule = settings.GONGZHI["RATE_LIMITS"].get(action, {}).get(who)
    if not rule:
        return None
    count, seconds = rule
    return max(1, int(count * settings.GONGZHI["RATE_LIMIT_FACTOR"])), int(seconds)


def hit(action: str, who: str, ident: Any) -> None:
    """Count one `action` by `ident` (a user's id, an address, a username) under the `who` rule; past the
    limit, raise RateLimited (nothing else is done: the caller has not started)."""
    limit = None if _suspended.get() else _limit(action, who)
    if limit is None:
        return
    count, seconds = limit
    now = clock.now().timestamp()
    window = int(now // seconds)
    key = f"gz:rl:{action}:{who}:{ident}:{window}"
    try:
        n = cache.incr(key)  # the window's counter exists after its first hit: one cache operation
    except ValueError:
        n = 1 if cache.add(key, 1, timeout=seconds + 1) else cache.incr(key)
    if n > count:
        retry = max(1, math.ceil((window + 1) * seconds - now))
        raise RateLimited(MESSAGES[action] % {"minutes": max(1, math.ceil(retry / 60))}, retry_after=retry)


def refused(request: HttpRequest, exc: RateLimited) -> HttpResponse:
    """429 in the API's error shape, or a page that says why and when to come back."""
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse(error_body(exc.code, exc.message), status=429)
    else:
        response = render(request, "core/rate_limited.html", {"message": exc.message}, status=429)
    response["Retry-After"] = str(exc.retry_after)
    return response


def _username(request: HttpRequest) -> str:
    if request.content_type == "application/json":
        try:
            body = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            return ""
        name = body.get("username") if isinstance(body, dict) else None
        return name.strip().lower()[:150] if isinstance(name, str) else ""
    return str(request.POST.get("username", "")).strip().lower()[:150]


class RateLimitMiddleware:
    """Per address (and per username for logins) on the posts that GONGZHI["RATE_LIMITED_VIEWS"] names."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.views: dict[str, str] = settings.GONGZHI["RATE_LIMITED_VIEWS"]

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view: Any, args: Any, kwargs: Any) -> HttpResponse | None:
        if request.method != "POST" or request.resolver_match is None:
            return None
        action = self.views.get(request.resolver_match.view_name)
        if action is None:
            return None
        try:
            hit(action, "address", client_ip(request))
            if action == "login":
                name = _username(request)
                if name:
                    hit(action, "username", name)
        except RateLimited as exc:
            return refused(request, exc)
        return None
