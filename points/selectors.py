"""Reads of points that depend on who asks, and the figures built on the ledger.

Who does what: village and town staff (and administrators) run the points of the residents under their
node — approve claims, award and deduct, serve at the shop counter, keep stock. Grid workers may file
claims and nominations for the residents of their grid. A resident sees their own account, the shops
that serve their village (the village's and the town's) and their own redemptions.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.db.models import Count, F, Q, QuerySet, Sum
from django.utils.translation import gettext as _

from core.clock import EARLIEST, LATEST, SHANGHAI, now
from core.errors import NotFound
from org.access import access_node, get_scope, paths_q
from org.models import Level, Node, Resident, path_prefixes
from org.policy import Cap, under
from points.models import Account, Claim, Entry, Goods, Lot, Nomination, Redemption, Shop
from points.states import CLAIM, NOMINATION, REDEMPTION

if TYPE_CHECKING:
    from accounts.models import Viewer


def manager_paths(user: Viewer, *, grid_workers: bool = False) -> tuple[str, ...]:
    """The subtrees where `user` runs points (with `grid_workers`, also where they may file claims)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return ()
    return get_scope(user).cap_paths(Cap.POINTS_FILE if grid_workers else Cap.POINTS_MANAGE)


def manages(user: Viewer, path: str, *, grid_workers: bool = False) -> bool:
    return under(manager_paths(user, grid_workers=grid_workers), path)


def watches(user: Viewer) -> bool:
    """Whether `user` reads the points figures of their area (leaders, the command centre)."""
    return bool(get_scope(user).cap_paths(Cap.POINTS_WATCH))


def reads_summary(user: Viewer, path: str) -> bool:
    """积分统计 under `path`: who runs points there, and those who watch the figures."""
    return manages(user, path) or getattr(user, "is_superuser", False) or watches(user)


def shop_serves(shop: Shop, path: str) -> bool:
    """A shop serves the residents under its node: a village's shop its village, a town's the town."""
    return shop.is_active and under((shop.path,), path)


def shops_for(user: Viewer) -> QuerySet[Shop]:
    """Shops a user may see: those serving their own village (as a resident), and every shop in the part
    of the tree they run (as staff)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return Shop.objects.none()
    q = Q(pk__in=[])
    own = get_scope(user).own
    if own is not None:
        q |= Q(path__in=path_prefixes(own.path), is_active=True)
    if paths := manager_paths(user):
        q |= paths_q(paths, "path")
    return Shop.objects.filter(q)


def access_shop(user: Viewer, shop_id: int) -> Shop:
    shop = shops_for(user).filter(pk=shop_id).first()
    if shop is None:
        raise NotFound(_not_found_shop(), code="points.shop_not_found")
    return shop


def access_goods(user: Viewer, goods_id: int) -> Goods:
    goods = Goods.objects.filter(pk=goods_id, shop__in=shops_for(user)).select_related("shop").first()
    if goods is None:
        raise NotFound(_("No such goods."), code="points.goods_not_found")
    return goods


def _not_found_shop() -> str:
    return _("No such points shop.")


def _mine_or_managed(user: Viewer, qs: QuerySet, *, grid_workers: bool = False) -> QuerySet:
    if user is None or not getattr(user, "is_authenticated", False):
        return qs.none()
    q = Q(resident__user_id=user.pk)
    if paths := manager_paths(user, grid_workers=grid_workers):
        q |= paths_q(paths, "path")
    return qs.filter(q)


def entries_for(user: Viewer) -> QuerySet[Entry]:
    return _mine_or_managed(user, Entry.objects.filter(resident__isnull=False))


def claims_for(user: Viewer) -> QuerySet[Claim]:
    return _mine_or_managed(user, Claim.objects.all(), grid_workers=True)


def access_claim(user: Viewer, claim_id: int) -> Claim:
    claim = claims_for(user).filter(pk=claim_id).select_related("resident", "rule").first()
    if claim is None:
        raise NotFound(_("No such claim."), code="points.claim_not_found")
    return claim


def redemptions_for(user: Viewer) -> QuerySet[Redemption]:
    return _mine_or_managed(user, Redemption.objects.all())


def access_redemption(user: Viewer, redemption_id: int) -> Redemption:
    r = redemptions_for(user).filter(pk=redemption_id).select_related("shop", "goods", "resident", "entry").first()
    if r is None:
        raise NotFound(_("No such redemption."), code="points.redemption_not_found")
    return r


def nominations_for(user: Viewer) -> QuerySet[Nomination]:
    return _mine_or_managed(user, Nomination.objects.all(), grid_workers=True)


# --- figures ------------------------------------------------------------------------------------------------


def leaderboard(path: str, since: dt.datetime | None, until: dt.datetime | None, limit: int = 20) -> list[dict]:
    """Residents under `path` by points earned in the period (awards less their reversals): what they
    did, not what they kept, so spending never lowers anyone's place."""
    q = paths_q((path,), "path") & Q(kind=Entry.Kind.AWARD, reversed_by__isnull=True)
    if since is not None:
        q &= Q(at__gte=since)
    if until is not None:
        q &= Q(at__lt=until)
    rows = (
        Entry.objects.filter(q)
        .values("resident_id", "resident__name", "path")
        .annotate(points=Sum("amount"), awards=Count("id"))
        .order_by("-points", "resident_id")[:limit]
    )
    return [
        {
            "rank": i + 1,
            "resident_id": r["resident_id"],
            "name": r["resident__name"],
            "path": r["path"],
            "points": r["points"],
            "awards": r["awards"],
        }
        for i, r in enumerate(rows)
    ]


def summary(path: str, since: dt.datetime | None, until: dt.datetime | None) -> dict[str, int]:
    """Points issued, redeemed, refunded, deducted, expired and reversed under `path` in the period."""
    q = paths_q((path,), "path") & Q(resident__isnull=False)
    if since is not None:
        q &= Q(at__gte=since)
    if until is not None:
        q &= Q(at__lt=until)
    totals = {k: 0 for k in Entry.Kind.values}
    for row in Entry.objects.filter(q).values("kind").annotate(s=Sum("amount")):
        totals[row["kind"]] = row["s"] or 0
    return totals


def account_summary(resident_id: int, *, lots: int = 50) -> dict[str, Any]:
    """A resident's balance, points earned (awards) and spent (redemptions less refunds), and their
    unspent lots, the next to expire first: what "my points" shows in the API and on the page."""
    acc = Account.objects.filter(resident_id=resident_id).first()
    if acc is None:
        return {"account": None, "balance": 0, "earned": 0, "spent": 0, "lots": []}
    sums = dict(
        Entry.objects.filter(Q(sink=acc) | Q(source=acc), kind__in=["award", "redeem", "refund"])
        .values_list("kind")
        .annotate(s=Sum("amount"))
        .values_list("kind", "s")
    )
    rows = Lot.objects.filter(account=acc, remaining__gt=0).order_by(F("expires_at").asc(nulls_last=True), "id")
    return {
        "account": acc,
        "balance": acc.balance,
        "earned": sums.get("award", 0),
        "spent": sums.get("redeem", 0) - sums.get("refund", 0),
        "lots": [
            {"remaining": lot.remaining, "received_at": lot.received_at, "expires_at": lot.expires_at}
            for lot in rows[:lots]
        ],
    }


def outstanding(path: str) -> int:
    """What the residents under `path` hold now."""
    q = paths_q((path,), "path") & Q(kind=Account.Kind.RESIDENT)
    return Account.objects.filter(q).aggregate(s=Sum("balance"))["s"] or 0


def period_bounds(period: str, month: str | None) -> tuple[dt.datetime | None, dt.datetime | None, int, int]:
    """(since, until, year, month) of "month" or "year" (the one holding `month`, YYYY-MM, default now) or
    "all", in Asia/Shanghai."""
    local = now().astimezone(SHANGHAI)
    y, m = local.year, local.month
    month = month or ""
    ok = len(month) == 7 and month[4] == "-" and month[:4].isdigit() and month[5:].isdigit()
    if ok and 1 <= int(month[5:]) <= 12 and EARLIEST.year <= int(month[:4]) <= LATEST.year:
        y, m = int(month[:4]), int(month[5:])
    if period == "all":
        return None, None, y, m
    if period == "year":
        return dt.datetime(y, 1, 1, tzinfo=SHANGHAI), dt.datetime(y + 1, 1, 1, tzinfo=SHANGHAI), y, m
    return dt.datetime(y, m, 1, tzinfo=SHANGHAI), dt.datetime(y + (m == 12), m % 12 + 1, 1, tzinfo=SHANGHAI), y, m


def board_place(user: Viewer, node_id: int | None) -> Node:
    """The place a leaderboard or report is asked for. Staff: a node under the part of the tree whose
    people they see (not the ancestors shown for breadcrumbs; department staff see no people). Residents:
    their own grid, village or town — an honour board is for neighbours, not a county-wide list of names."""
    scope = get_scope(user)
    if node_id is not None:
        asked = access_node(user, node_id)
        staff = scope.covers(scope.people_paths, asked.path)
        neighbours = asked.level >= Level.TOWN and scope.own is not None and scope.own.path.startswith(asked.path)
        if staff or neighbours:
            return asked
        raise NotFound()
    if scope.people_paths:
        node = Node.objects.filter(path=scope.people_paths[0]).first()
    elif scope.own is not None:
        prefixes = path_prefixes(scope.own.path)
        node = Node.objects.filter(path=prefixes[-2] if len(prefixes) >= 2 else prefixes[0]).first()
    else:
        node = None
    if node is None:
        raise NotFound()
    return node


# --- what a user may do with a row: the buttons a page shows ---------------------------------------------------


def _own(user: Viewer, resident: Resident) -> bool:
    return resident.user_id is not None and resident.user_id == getattr(user, "pk", None)


def redemption_actions(user: Viewer, redemption: Redemption) -> list[str]:
    """What `user` may do with `redemption` now, as points.services decides it: shop staff (who `manages` the
    shop's node) hand a reservation over (redemption_collect) and cancel any redemption of their shop, with
    a reason; the resident cancels their own reservation, never what was handed over (redemption_cancel).
    Reads `redemption.shop` and `redemption.resident`: load them with the list."""
    own = _own(user, redemption.resident)
    staff = manages(user, redemption.shop.path)

    def may(action: str) -> bool:
        if action == "collect":
            return staff
        if action == "cancel":
            return redemption.state == Redemption.State.RESERVED if own else staff
        return False

    return REDEMPTION.allowed(redemption, may)


def claim_actions(user: Viewer, claim: Claim) -> list[str]:
    """What `user` may do with `claim` now, as claim_decide decides it: staff who run points where the
    resident lives approve or reject it, never a claim of their own. Reads `claim.resident`."""
    staff = manages(user, claim.path) and not _own(user, claim.resident)
    return CLAIM.allowed(claim, lambda action: staff)


def nomination_actions(user: Viewer, nomination: Nomination) -> list[str]:
    """What `user` may do with `nomination` now, as nomination_decide decides it: staff who run points
    where the nominee lives select them or pass them over, never when they are the nominee. Reads
    `nomination.resident`."""
    staff = manages(user, nomination.path) and not _own(user, nomination.resident)
    return NOMINATION.allowed(nomination, lambda action: staff)
