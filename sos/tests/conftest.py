from __future__ import annotations

import pytest

from sos import services


@pytest.fixture
def care(world):
    """张阿姨 registered by her grid worker 李网格: the default chain, a call box, her son as contact."""
    c = world.c
    profile = services.care_register(
        resident=c.zhang, by=c.u_li, reasons=["elderly_alone"], needs="高血压", device_id="box-7"
    )
    services.contacts_set(
        profile=profile, contacts=[{"name": "张小明", "phone": "13900001111", "relation": "儿子"}], by=c.u_li
    )
    return profile
