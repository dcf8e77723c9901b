"""Gateways that deliver outbox messages. The default logs them: a county plugs in its SMS provider
by naming a class with the same `send` in settings.NOTIFY_GATEWAY — HttpGateway bridges to a county's SMS
platform (or WeChat template messages) by a signed JSON POST, without code.

`http_post` is the one outbound HTTP call of the app (the webhooks send through it too): the standard
library, no redirects followed, a bounded time and a bounded answer."""

from __future__ import annotations

import json
import logging
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.module_loading import import_string

from core import signing

log = logging.getLogger("gongzhi.notify")


class Gateway(Protocol):
    def send(self, *, phone: str, text: str) -> None: ...


def masked(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 7 else phone


class LoggingGateway:
    """Writes each message to the log instead of sending it, at INFO. Where the log does not show INFO —
    settings.LOGGING's default is WARNING, so a newcomer's `make run` would show none — it is written to
    the console (stderr) instead: what would have been texted must be visible in development, and a
    message is not a warning. Either way once, with the number masked."""

    def send(self, *, phone: str, text: str) -> None:
        if log.isEnabledFor(logging.INFO):
            log.info("SMS to %s: %s", masked(phone), text)
        else:
            print(f"SMS to {masked(phone)}: {text}", file=sys.stderr, flush=True)


class FakeGateway:
    """Keeps what it was asked to send, for tests; `fail` makes it raise."""

    sent: list[tuple[str, str]] = []
    fail = False

    def send(self, *, phone: str, text: str) -> None:
        if FakeGateway.fail:
            raise ConnectionError("gateway down")
        FakeGateway.sent.append((phone, text))


@lru_cache(maxsize=4)
def _gateway_class(path: str) -> type:
    return import_string(path)


def get_gateway() -> Gateway:
    return _gateway_class(getattr(settings, "NOTIFY_GATEWAY", "notify.gateways.LoggingGateway"))()


# --- outbound HTTP -----------------------------------------------------------------------------------------

MAX_ANSWER_BYTES = 64 * 1024  # what is read of an answer at most: a receiver cannot flood the worker


@dataclass(frozen=True)
class HttpResult:
    status: int | None  # None: no answer (refused, timed out, unreadable)
    error: str  # "" when the answer is 2xx; else what went wrong, for the log
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is answered as the 3xx it is: a receiver that moved must be given its new address by
    someone who manages it, and following would send the signed body wherever a redirect points."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def _read(response: Any, deadline: float) -> bytes:
    """At most MAX_ANSWER_BYTES of the answer, and not past the deadline: a receiver that drips its answer a
    byte at a time would otherwise hold the worker for as long as it likes (the socket's timeout is per read)."""
    chunks: list[bytes] = []
    total = 0
    while total < MAX_ANSWER_BYTES:
        if time.monotonic() > deadline:
            raise TimeoutError("timed out reading the answer")
        chunk = response.read(min(8192, MAX_ANSWER_BYTES - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def _snippet(body: bytes) -> str:
    text = " ".join(body.decode("utf-8", "replace").split())
    return text[:200]


def http_post(url: str, body: bytes, headers: dict[str, str], *, timeout: float) -> HttpResult:
    """POST `body` to `url` (http or https only) and say how it went; never raises for the receiver's
    sake — a refused connection, a timeout, a 500 and a redirect are all answers with an error."""
    started = time.monotonic()

    def done(status: int | None, error: str) -> HttpResult:
        return HttpResult(status, error[:300], int((time.monotonic() - started) * 1000))

    if urlsplit(url).scheme not in ("http", "https"):
        return done(None, "not an http or https address")
    deadline = started + timeout
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - scheme checked
    try:
        with _opener.open(request, timeout=timeout) as response:
            _read(response, deadline)
            return done(response.status, "")
    except urllib.error.HTTPError as exc:
        code = exc.code
        try:
            said = _snippet(_read(exc, deadline))
        except (OSError, TimeoutError):
            said = ""
        finally:
            exc.close()
        if 300 <= code < 400:
            return done(code, f"HTTP {code}: redirect to {exc.headers.get('Location', '')[:200]} not followed")
        return done(code, f"HTTP {code}: {said}" if said else f"HTTP {code}")
    except TimeoutError:
        return done(None, "timed out")
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            return done(None, "timed out")
        return done(None, str(reason))
    except Exception as exc:  # an unreadable answer, a broken TLS handshake: the receiver's fault, logged
        return done(None, f"{type(exc).__name__}: {exc}")


class GatewayError(Exception):
    """The gateway did not take the message; the outbox retries it with its backoff."""


class HttpGateway:
    """Hands each message to a county's SMS platform (or a bridge to WeChat template messages) as a signed
    JSON POST: {"phone": …, "text": …} to settings.NOTIFY_HTTP_GATEWAY["URL"] with the X-Gongzhi-Timestamp and
    X-Gongzhi-Signature headers of core.signing (its SECRET). Anything but a 2xx answer raises, so the outbox
    tries again later."""

    def send(self, *, phone: str, text: str) -> None:
        conf: dict[str, Any] = getattr(settings, "NOTIFY_HTTP_GATEWAY", {})
        url, secret = conf.get("URL", ""), conf.get("SECRET", "")
        if not url or not secret:
            raise GatewayError("the HTTP gateway needs GONGZHI_SMS_HTTP_URL and GONGZHI_SMS_HTTP_SECRET")
        body = json.dumps({"phone": phone, "text": text}, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "Gongzhi-SMS/1", **signing.sign(secret, body)}
        result = http_post(url, body, headers, timeout=float(conf.get("TIMEOUT", 10)))
        if not result.ok:
            raise GatewayError(result.error)
