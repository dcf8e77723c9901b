"""Gateways that deliver outbox messages. The default logs them: a county plugs in its SMS provider
by naming a class with the same `send` in settings.NOTIFY_GATEWAY."""

from __future__ import annotations

import logging
import sys
from functools import lru_cache
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

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
