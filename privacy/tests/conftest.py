from __future__ import annotations

from collections.abc import Iterator

import pytest

from workorders.tests.helpers import Clock


@pytest.fixture
def clock() -> Iterator[Clock]:
    """A controlled `core.clock.now()`; set it before acting."""
    c = Clock()
    yield c
    c.reset()
