from __future__ import annotations

import datetime as dt

import pytest

from accounts import services as accounts
from org import services as org
from org.models import Resident
from workorders.tests.helpers import Clock


@pytest.fixture
def clock():
    c = Clock()
    c.set("2026-11-18 10:00")  # a Wednesday, Asia/Shanghai
    yield c
    c.reset()


def add_households(grid, n: int, *, start: int = 100, login: bool = True, prefix: str = "v") -> list:
    """`n` households in `grid`, each with one adult head (with a login unless told otherwise)."""
    users = []
    for i in range(start, start + n):
        h = org.household_create(grid=grid, address=f"{grid.name}{i}号", number=str(i))
        r = org.resident_create(household=h, name=f"村民{i}", gender="F", birth_date=dt.date(1970, 1, 1),
                                relation="head", phone="", id_number="")  # fmt: skip
        if login:
            u = accounts.user_create(username=f"{prefix}{i}", password="x-Password-123", display_name=f"村民{i}")
            Resident.objects.filter(pk=r.pk).update(user=u)
            users.append(u)
    return users
