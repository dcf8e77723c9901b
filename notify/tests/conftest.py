from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import pytest

from core import clock
from notify.gateways import FakeGateway


@pytest.fixture
def gateway(settings) -> Iterator[type[FakeGateway]]:
    settings.NOTIFY_GATEWAY = "notify.gateways.FakeGateway"
    FakeGateway.sent = []
    FakeGateway.fail = False
    yield FakeGateway
    FakeGateway.sent = []
    FakeGateway.fail = False


@pytest.fixture
def at() -> Iterator[Callable[[dt.datetime], dt.datetime]]:
    """at(t): `core.clock.now()` is t until the test ends (or the next call)."""
    tokens = []

    def set_(t: dt.datetime) -> dt.datetime:
        tokens.append(clock._frozen.set(t))
        return t

    yield set_
    if tokens:
        clock._frozen.reset(tokens[0])
