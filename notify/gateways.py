"""Gateways that deliver outbox messages. The default logs them: a county plugs in its SMS provider
by naming a class with the same `send` in settings.NOTIFY_GATEWAY."""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

log = logging.getLogger("gongzhi.notify")


class Gateway(Protocol):
    def send(self, *, phone: str, text: str) -> None: ...


class LoggingGateway:
    """Writes each message to the log instead of sending it."""

    def send(self, *, phone: str, text: str) -> None:
        log.info("SMS to %s: %s", phone[:3] + "****" + phone[-4:] if len(phone) >= 7 else phone, text)


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
