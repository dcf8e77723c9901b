from __future__ import annotations

import pytest

from workorders.tests.helpers import Clock


@pytest.fixture
def clock():
    c = Clock()
    c.set("2026-11-18 10:00")  # a Wednesday, Asia/Shanghai
    yield c
    c.reset()
