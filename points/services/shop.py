"""The points shop: shops, goods and their stock, redemptions (at the counter or reserved online),
their collection and cancellation, and reservations not picked up in time."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import F, Sum
from django.utils.translation import gettext as _

from core.clock import SHANGHAI, now, today
from core.errors import Conflict, NotFound, ValidationFailed
from org.models import Node, Resident
from points.models import Entry, Goods, Redemption, Shop, StockMove
from points.selectors import manages, shop_serves
from points.services.common import MAX_POINTS, MAX_QUANTITY, _client_key, _once, _reason, setting
from points.services.ledger import _move, resident_account, shop_account
from points.states import NOT_RESERVED, REDEMPTION

if TYPE_CHECKING:
    from accounts.models import User

# --- the shop ------------------------------------------------------------------------------------------------


def shop_create(*, node: Node, name: str, by: User, address: str = "", opening_hours: str = "") -> Shop:
    if not manages(by, node.path) or node.level > 5:
        raise NotFound(_("No such village or town in your area."), code="node.not_found")
    name = (name or "").strip()
    if not name or len(name) > 60:
        raise ValidationFailed(
            _("Give the shop a name (at most 60 characters)."), code="points.bad_name", fields={"name": _("required")}
        )
    with transaction.atomic():
        shop = Shop.objects.create(
            node=node, path=node.path, name=name, address=address[:200], opening_hours=opening_hours[:200]
        )
        shop_account(shop)
    return shop


def _check_shop_staff(by: User, shop: Shop) -> None:
    if not manages(by, shop.path):
        raise NotFound(_("No such points shop."), code="points.shop_not_found")


def goods_save(*, shop: Shop, by: User, goods: Goods | None = None, **fields: Any) -> Goods:
    """Add goods to a shop or change their name, price, limits or sale; stock changes go through restock."""
    _check_shop_staff(by, shop)
    allowed = {"name", "description", "price", "limit_per_person", "limit_period", "is_active", "sort"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationFailed(fields={k: _("unknown field") for k in unknown})
    g = goods or Goods(shop=shop)
    if goods is not None and goods.shop_id != shop.pk:
        raise NotFound(_("No such goods."), code="points.goods_not_found")
    if "limit_period" in fields and fields["limit_period"] not in Goods.Period.values:
        raise ValidationFailed(fields={"limit_period": _("unknown period")})
    limit = fields.get("limit_per_person")
    if limit is not None and (not isinstance(limit, int) or not 1 <= limit <= 1000):
        raise ValidationFailed(fields={"limit_per_person": _("out of range")})
    for k, v in fields.items():
        setattr(g, k, v)
    if not (g.name or "").strip():
        raise ValidationFailed(_("Give the goods a name."), code="points.bad_name", fields={"name": _("required")})
    if not g.price or g.price <= 0 or g.price > MAX_POINTS:
        raise ValidationFailed(
            _("The price must be from 1 to %(max)s points.") % {"max": MAX_POINTS},
            code="points.bad_price",
            fields={"price": _("out of range")},
        )
    if goods is None:
        g.save()
    else:  # only what changed: a plain save would write back the stock read before a redemption took some
        g.save(update_fields=sorted(fields))
    return g


def goods_restock(*, goods: Goods, delta: int, by: User, note: str = "", count: bool = False) -> Goods:
    """Add stock (a delivery) or, with `count`, correct it after a stock count (delta may be negative,
    never below zero)."""
    _check_shop_staff(by, goods.shop)
    if not isinstance(delta, int) or delta == 0 or abs(delta) > 100_000 or (delta < 0 and not count):
        raise ValidationFailed(
            _("Enter how many items arrived (a positive whole number).")
            if not count
            else _("Enter the change the count found (a whole number, not zero)."),
            code="points.bad_quantity",
            fields={"delta": _("out of range")},
        )
    with transaction.atomic():
        if not Goods.objects.filter(pk=goods.pk, stock__gte=-delta).update(stock=F("stock") + delta):
            raise Conflict(_("The stock cannot go below zero."), code="points.out_of_stock")
        StockMove.objects.create(
            goods=goods,
            kind=StockMove.Kind.ADJUST if count else StockMove.Kind.RESTOCK,
            delta=delta,
            at=now(),
            by=by,
            note=(note or "")[:200],
        )
    goods.refresh_from_db()
    return goods


def _period_start(period: str) -> dt.datetime | None:
    d = today()
    if period == Goods.Period.DAY:
        start = d
    elif period == Goods.Period.WEEK:
        start = d - dt.timedelta(days=d.weekday())
    elif period == Goods.Period.MONTH:
        start = d.replace(day=1)
    elif period == Goods.Period.YEAR:
        start = d.replace(month=1, day=1)
    else:
        return None
    return dt.datetime(start.year, start.month, start.day, tzinfo=SHANGHAI)


def redeem(
    *, goods: Goods, resident: Resident, quantity: int, by: User, key: str | None = None
) -> tuple[Redemption, bool]:
    """Exchange points for goods. At the counter (staff of the shop, for a resident it serves) the goods
    are handed over at once; online (the resident themself) they are reserved for pickup.

    Stock and balance are taken with conditional UPDATEs in one transaction: with the last items
    wanted by a hundred people at once, exactly as many succeed as there are items, and the rest are
    told "sold out" (409) with nothing changed."""
    shop = goods.shop
    own = resident.user_id is not None and resident.user_id == getattr(by, "pk", None)
    if own:
        channel = Redemption.Channel.ONLINE
        if not shop_serves(shop, resident.path):
            raise NotFound(_("No such points shop."), code="points.shop_not_found")
    else:
        channel = Redemption.Channel.COUNTER
        _check_shop_staff(by, shop)
        if not shop_serves(shop, resident.path) or not manages(by, resident.path):
            raise NotFound(_("This resident is not served by this shop."), code="resident.not_found")
    if not isinstance(quantity, int) or not 1 <= quantity <= MAX_QUANTITY:
        raise ValidationFailed(
            _("The quantity must be from 1 to %(max)s.") % {"max": MAX_QUANTITY},
            code="points.bad_quantity",
            fields={"quantity": _("out of range")},
        )
    if not goods.is_active or not shop.is_active:
        raise Conflict(_("These goods are not on sale."), code="points.not_on_sale")
    if goods.price * quantity > MAX_POINTS:
        raise ValidationFailed(
            _("That is more than one exchange can take: ask for fewer."),
            code="points.bad_quantity",
            fields={"quantity": _("too many")},
        )
    full_key = f"redeem:{by.pk}:{_client_key(key)}"

    def lookup() -> Redemption | None:
        found = Redemption.objects.filter(key=full_key).first()
        if found is not None and (
            found.goods_id != goods.pk or found.resident_id != resident.pk or found.quantity != quantity
        ):
            raise Conflict(
                _("This idempotency key was already used for a different request."), code="points.key_reused"
            )
        return found

    def take_goods() -> None:
        if not Goods.objects.filter(pk=goods.pk, stock__gte=quantity).update(stock=F("stock") - quantity):
            raise Conflict(_("Sold out: not enough in stock."), code="points.out_of_stock")
        # The row is locked now: decide on it as it is, not as it was read before the request waited.
        row = Goods.objects.values("price", "is_active", "limit_per_person", "limit_period").get(pk=goods.pk)
        if not row["is_active"]:
            raise Conflict(_("These goods are not on sale."), code="points.not_on_sale")
        if row["price"] != goods.price:
            raise Conflict(_("The price has just changed: please look again."), code="points.price_changed")
        goods.limit_per_person, goods.limit_period = row["limit_per_person"], row["limit_period"]
        if goods.limit_per_person:
            # Read after the resident's account is locked: their own redemptions at the same moment wait.
            since = _period_start(goods.limit_period)
            taken = Redemption.objects.filter(resident=resident, goods=goods).exclude(state=Redemption.State.CANCELLED)
            if since is not None:
                taken = taken.filter(created_at__gte=since)
            had = taken.aggregate(s=Sum("quantity"))["s"] or 0
            if had + quantity > goods.limit_per_person:
                raise Conflict(
                    _("Limit reached: at most %(n)s %(period)s per person.")
                    % {"n": goods.limit_per_person, "period": goods.get_limit_period_display()},
                    code="points.limit_reached",
                )

    def write() -> Redemption:
        at = now()
        points = goods.price * quantity
        # The lock order of every redemption and refund (see _move): the resident's account, the goods,
        # the shop's account.
        entry = _move(
            key=full_key,
            kind=Entry.Kind.REDEEM,
            source=resident_account(resident),
            sink=shop_account(shop),
            amount=points,
            resident=resident,
            by=by,
            reason=f"{goods.name} × {quantity}",
            at=at,
            then=take_goods,
        )
        reserved = channel == Redemption.Channel.ONLINE
        r = Redemption.objects.create(
            key=full_key,
            shop=shop,
            goods=goods,
            resident=resident,
            path=resident.path,
            quantity=quantity,
            points=points,
            channel=channel,
            state=Redemption.State.RESERVED if reserved else Redemption.State.COLLECTED,
            created_at=at,
            created_by=by,
            entry=entry,
            pickup_by=at + dt.timedelta(days=int(setting("PICKUP_DAYS"))) if reserved else None,
            collected_at=None if reserved else at,
            collected_by=None if reserved else by,
        )
        StockMove.objects.create(goods=goods, kind=StockMove.Kind.REDEEM, delta=-quantity, redemption=r, at=at, by=by)
        return r

    return _once(lookup, write)


def redemption_collect(*, redemption: Redemption, by: User) -> Redemption:
    _check_shop_staff(by, redemption.shop)
    with transaction.atomic():
        REDEMPTION.move(redemption, "collect", fields={"collected_at": now(), "collected_by": by})
    redemption.refresh_from_db()
    return redemption


def redemption_cancel(*, redemption: Redemption, by: User | None, reason: str = "") -> Redemption:
    """Cancel a redemption: the points go back into the lots they came from and the goods into stock.
    A resident may cancel their own reservation; shop staff may also cancel a counter redemption (the
    goods came back), with a reason."""
    own = by is not None and redemption.resident.user_id == by.pk
    staff = by is not None and not own and manages(by, redemption.shop.path)
    if by is not None and not own:  # (by None: the worker, a reservation not picked up in time)
        _check_shop_staff(by, redemption.shop)
        reason = _reason(reason)
    if not staff and redemption.state != Redemption.State.RESERVED:
        # Only shop staff take back goods already handed over; the resident and the worker cancel reservations.
        raise Conflict(NOT_RESERVED[0], code=NOT_RESERVED[1])
    REDEMPTION.check(redemption, "cancel")
    with transaction.atomic():
        at = now()
        # Decided on the row, not on the copy read before (compare-and-set): a reservation handed over a
        # moment ago is no longer the resident's (or the worker's) to cancel.
        REDEMPTION.move(
            redemption,
            "cancel",
            fields={"cancelled_at": at, "cancelled_by": by, "cancel_reason": (reason or "")[:200]},
            from_states=None if staff else {Redemption.State.RESERVED},
        )
        spent = redemption.entry
        refund = _move(
            key=f"refund:{redemption.pk}",
            kind=Entry.Kind.REFUND,
            source=shop_account(redemption.shop),
            sink=resident_account(redemption.resident),
            amount=redemption.points,
            resident=redemption.resident,
            by=by,
            reason=reason or _("Reservation cancelled"),
            restore_from=spent,
            at=at,
            # The same lock order as a redemption: the resident's account, the goods, the shop's account.
            then=lambda: Goods.objects.filter(pk=redemption.goods_id).update(stock=F("stock") + redemption.quantity),
        )
        Redemption.objects.filter(pk=redemption.pk).update(refund=refund)
        StockMove.objects.create(
            goods_id=redemption.goods_id,
            kind=StockMove.Kind.CANCEL,
            delta=redemption.quantity,
            redemption=redemption,
            at=at,
            by=by if getattr(by, "pk", None) else None,
        )
    redemption.refresh_from_db()
    return redemption


# --- the worker's step: reservations not picked up ----------------------------------------------------------


def pickup_lapse_one() -> bool:
    """Cancel one reservation whose pickup time has passed: points back, goods back."""
    r = (
        Redemption.objects.filter(state=Redemption.State.RESERVED, pickup_by__lte=now())
        .select_related("shop", "resident", "entry")
        .order_by("pickup_by", "id")
        .first()
    )
    if r is None:
        return False
    with contextlib.suppress(Conflict):  # cancelled or collected meanwhile
        redemption_cancel(redemption=r, by=None, reason=_("Not picked up in time"))
    return True
