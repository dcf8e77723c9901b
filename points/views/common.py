"""What the points pages share: who is asking, accounts and balances, the resident search."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import Http404, HttpRequest
from django.utils import formats
from django.utils.http import urlencode

from core.clock import SHANGHAI, now
from core.pages import gate
from org import selectors as org_selectors
from org.access import get_scope, own_resident, paths_q
from org.models import Resident
from points import selectors
from points.models import Account

PAGE_SIZE = 20
SEARCH_MAX = 20
EXPIRY_SOON_DAYS = 60  # lots expiring within this many days are shown as a warning
PERIODS = ("month", "year", "all")


# --- who is asking ------------------------------------------------------------------------------------


def _me_or_404(user: Any) -> Resident:
    me = own_resident(user)
    if me is None:
        raise Http404
    return me


def _manager_paths_or_404(user: Any) -> tuple[str, ...]:
    """The staff pages are for those who run points (village and town staff, administrators)."""
    paths = selectors.manager_paths(user)
    if not paths:
        raise Http404
    return paths


def _shop_staff(user: Any, shop_id: int) -> Any:
    shop = gate(selectors.access_shop, user, shop_id)
    if not selectors.manages(user, shop.path):
        raise Http404
    return shop


# --- what the pages show ----------------------------------------------------------------------------------


def _account(resident_id: int) -> dict[str, Any]:
    """Balance, earned, spent and the lots that expire next: selectors.account_summary, as the API's."""
    summary = selectors.account_summary(resident_id, lots=5)
    soon = now() + dt.timedelta(days=EXPIRY_SOON_DAYS)
    expiring = [
        {"points": lot["remaining"], "on": lot["expires_at"], "soon": lot["expires_at"] <= soon}
        for lot in summary["lots"]
        if lot["expires_at"] is not None
    ]
    return {**summary, "expiring": expiring}


def _balances(resident_ids: list[int]) -> dict[int, int]:
    return dict(
        Account.objects.filter(resident_id__in=resident_ids).values_list("resident_id", "balance")
        if resident_ids
        else []
    )


def _people(request: HttpRequest, residents: list[Resident]) -> list[dict[str, Any]]:
    """Found residents for a staff form: name, address, phone masked unless the role needs it (a whole
    number shown is logged), and their balance."""
    scope = get_scope(request.user)
    balances = _balances([r.pk for r in residents])
    rows = []
    for r in residents:
        phone = org_selectors.whole_number(
            request.user, r.phone, field="phone", allowed=scope.unmask_phone(r), channel="page", path=request.path,
            resident=r,
        )  # fmt: skip
        rows.append(
            {
                "resident": r,
                "phone": phone,
                "balance": balances.get(r.pk, 0),
            }
        )
    return rows


def _search(request: HttpRequest, q: str, paths: tuple[str, ...]) -> list[Resident]:
    if not q:
        return []
    return list(org_selectors.resident_list(request.user, q=q).filter(paths_q(paths, "path"))[:SEARCH_MAX])


def _when(t: dt.datetime | None) -> str:
    return formats.date_format(t.astimezone(SHANGHAI), "Y-m-d") if t else ""


def _with_query(url: str, **params: str) -> str:
    return url + "?" + urlencode(params) if any(params.values()) else url
