"""What the mediation tests share: 李网格's report of a dispute in A1, 张阿姨 (on the register) against an outsider."""

from __future__ import annotations

from typing import Any

from mediation import services
from mediation.models import Case
from mediation.services import PartyIn

OUTSIDER = "外来户王某"
OUTSIDER_PHONE = "13800001111"


def parties(c: Any) -> list[PartyIn]:
    """张阿姨 against an outsider with a phone."""
    return [
        PartyIn(side="applicant", resident_id=c.zhang.pk),
        PartyIn(side="respondent", name=OUTSIDER, phone=OUTSIDER_PHONE),
    ]


def reported(c: Any, **kw: Any) -> Case:
    """A dispute 李网格 found on patrol in A1, reported through the service (to set up what a test reads); any
    argument of services.case_report may be given instead."""
    kw.setdefault("by", c.u_li)
    kw.setdefault("node", c.a1)
    kw.setdefault("kind", "neighbour")
    kw.setdefault("title", "邻里排水纠纷")
    kw.setdefault("account", "两家因排水沟堵塞争吵多次")
    kw.setdefault("source", "patrol")
    if "parties" not in kw:
        kw["parties"] = parties(c)
    return services.case_report(**kw)
