"""Every write of points: awards by rule and by hand, deductions, reversals, redemptions, expiry.

How the ledger stays as trustworthy as money:
- One function, `_move`, moves points: it takes the balances with conditional UPDATEs (a resident's
  `balance >= amount` or nothing), writes the Entry and keeps the lots, all in the caller's transaction.
  The database's CHECK constraints (no negative balance, no negative stock) are the last line.
- Rows are always locked in one order — goods first, then accounts by id — so two transactions never
  wait on each other in a circle (PostgreSQL); SQLite takes the one write lock at BEGIN IMMEDIATE.
- Every entry has a unique key. Requests carry the caller's idempotency key; a replay finds the first
  result by it and changes nothing, and two copies racing meet at the unique constraint.
- Nothing is edited: a wrong award is put right by a reversing entry, a cancelled redemption by a refund
  that puts the points back into the lots they came from.
"""

from __future__ import annotations

import calendar
import contextlib
import datetime as dt
import uuid
from collections.abc import Callable
from decimal import ROUND_DOWN, Decimal
from typing import Any, TypeVar

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils.translation import gettext as _

from accounts.models import actor_label
from core.clock import SHANGHAI, now, today
from core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from notify.services import message_queue
from org.models import Node, Resident, path_ids
from points.models import Account, Claim, Entry, Goods, Lot, LotUse, Nomination, Redemption, Rule, Shop, StockMove
from points.selectors import manages, shop_serves
from points.states import CLAIM, NOMINATION, NOT_RESERVED, REDEMPTION

T = TypeVar("T")

MAX_POINTS = 100_000  # one entry; far above any real award, it stops a typo of a few more zeros
MAX_QUANTITY = 99


def setting(name: str) -> Any:
    return settings.GONGZHI["POINTS"][name]


def village_id(path: str) -> int:
    """The village of a resident's grid ("/county/town/village/grid/")."""
    ids = path_ids(path)
    return ids[-2] if len(ids) >= 2 else ids[-1]


# --- accounts -----------------------------------------------------------------------------------------------


def resident_account(resident: Resident) -> Account:
    acc = Account.objects.filter(resident_id=resident.pk).first()
    if acc is not None:
        return acc
    try:
        with transaction.atomic():
            return Account.objects.create(kind=Account.Kind.RESIDENT, resident_id=resident.pk, path=resident.path)
    except IntegrityError:  # another request opened it at the same moment
        return Account.objects.get(resident_id=resident.pk)


def node_account(node_id: int, kind: str) -> Account:
    acc = Account.objects.filter(kind=kind, node_id=node_id).first()
    if acc is not None:
        return acc
    path = Node.objects.values_list("path", flat=True).get(pk=node_id)
    try:
        with transaction.atomic():
            return Account.objects.create(kind=kind, node_id=node_id, path=path)
    except IntegrityError:
        return Account.objects.get(kind=kind, node_id=node_id)


def shop_account(shop: Shop) -> Account:
    acc = Account.objects.filter(shop_id=shop.pk).first()
    if acc is not None:
        return acc
    try:
        with transaction.atomic():
            return Account.objects.create(kind=Account.Kind.SHOP, shop_id=shop.pk, path=shop.path)
    except IntegrityError:
        return Account.objects.get(shop_id=shop.pk)


def _expiry_for(at: dt.datetime) -> dt.datetime | None:
    """Points received at `at` expire at the start of the same day N months later (Asia/Shanghai)."""
    months = int(setting("EXPIRE_MONTHS"))
    if months <= 0:
        return None
    d = at.astimezone(SHANGHAI).date()
    y, m = divmod(d.month - 1 + months, 12)
    y += d.year
    day = min(d.day, calendar.monthrange(y, m + 1)[1])
    return dt.datetime(y, m + 1, day, tzinfo=SHANGHAI)


def _insufficient() -> Conflict:
    return Conflict(_("Not enough points."), code="points.insufficient_balance")


def _take(account: Account, amount: int) -> None:
    if account.kind == Account.Kind.ISSUE:
        Account.objects.filter(pk=account.pk).update(balance=F("balance") - amount)
    elif not Account.objects.filter(pk=account.pk, balance__gte=amount).update(balance=F("balance") - amount):
        raise _insufficient()


def _give(account: Account, amount: int) -> None:
    Account.objects.filter(pk=account.pk).update(balance=F("balance") + amount)


def _move(
    *,
    key: str,
    kind: str,
    source: Account,
    sink: Account,
    amount: int,
    resident: Resident | None,
    by: Any,
    reason: str = "",
    rule: Rule | None = None,
    reverses: Entry | None = None,
    restore_from: Entry | None = None,
    prefer_lot: Lot | None = None,
    at: dt.datetime | None = None,
    then: Callable[[], None] | None = None,
) -> Entry:
    """Move `amount` points from `source` to `sink` in the caller's transaction.

    Points leaving a resident come out of their lots, oldest first (`prefer_lot` first when a reversal
    takes back one award); points reaching a resident make a new lot, or, for a refund or a reversal of
    a spend (`restore_from`), go back into the lots that entry took them from.

    Locks, in the one order every transaction keeps: the resident's account first, then whatever `then`
    locks (the goods of a redemption), then the shared account (a village's, a shop's) last — the one
    row many residents' transactions wait for is held for the shortest time, and nothing waits in a
    circle."""
    if not isinstance(amount, int) or amount <= 0 or amount > MAX_POINTS:
        raise ValidationFailed(
            _("Points must be a whole number from 1 to %(max)s.") % {"max": MAX_POINTS},
            code="points.bad_amount",
            fields={"amount": _("out of range")},
        )
    at = at or now()
    shared_is_source = source.kind != Account.Kind.RESIDENT
    if shared_is_source:
        _give(sink, amount)
    else:
        _take(source, amount)
    if then is not None:
        then()
    entry = Entry(
        key=key,
        kind=kind,
        source=source,
        sink=sink,
        amount=amount,
        resident=resident,
        path=resident.path if resident is not None else sink.path,
        at=at,
        actor=by if getattr(by, "pk", None) else None,
        actor_label=actor_label(by),
        reason=reason[:200],
        rule=rule,
        reverses=reverses,
    )
    entry.save(force_insert=True)
    if source.kind == Account.Kind.RESIDENT:
        _spend_lots(source, entry, amount, prefer_lot)
    if sink.kind == Account.Kind.RESIDENT:
        if restore_from is not None:
            _restore_lots(restore_from, entry, amount)
        else:
            Lot.objects.create(
                account=sink, entry=entry, amount=amount, remaining=amount, received_at=at, expires_at=_expiry_for(at)
            )
    if shared_is_source:
        _take(source, amount)
    else:
        _give(sink, amount)
    return entry


def _spend_lots(account: Account, entry: Entry, amount: int, prefer: Lot | None) -> None:
    left = amount
    lots = list(Lot.objects.filter(account=account, remaining__gt=0).order_by("received_at", "id"))
    if prefer is not None:
        lots.sort(key=lambda lot: lot.pk != prefer.pk)  # stable: the rest stay oldest first
    for lot in lots:
        if left == 0:
            break
        use = min(lot.remaining, left)
        Lot.objects.filter(pk=lot.pk).update(remaining=F("remaining") - use)
        LotUse.objects.create(entry=entry, lot=lot, amount=use)
        left -= use
    if left:  # the cached balance said yes but the lots say no: the ledger is inconsistent, stop here
        raise _insufficient()


def _restore_lots(spent: Entry, entry: Entry, amount: int) -> None:
    left = amount
    for use in LotUse.objects.filter(entry=spent).order_by("-lot__received_at", "-lot_id"):
        if left == 0:
            break
        back = min(use.amount, left)
        Lot.objects.filter(pk=use.lot_id).update(remaining=F("remaining") + back)
        left -= back
    if left:
        raise Conflict(_("These points cannot be put back."), code="points.restore_failed")


def _once(key_lookup: Callable[[], T | None], write: Callable[[], T]) -> tuple[T, bool]:
    """Run `write` in a transaction unless a replay of the same key already did: (result, created)."""
    found = key_lookup()
    if found is not None:
        return found, False
    try:
        with transaction.atomic():
            return write(), True
    except (IntegrityError, Conflict):
        # A copy of this request ran at the same moment: this one waited on its locks, then met its key
        # (or found the stock or the balance it took). The first one's answer is the answer.
        found = key_lookup()
        if found is None:
            raise
        return found, False


def _client_key(key: str | None) -> str:
    key = (key or "").strip()
    if len(key) > 64:
        raise ValidationFailed(
            _("The idempotency key is at most 64 characters."), code="points.bad_key", fields={"key": _("too long")}
        )
    return key or uuid.uuid4().hex


# --- awards and deductions by hand --------------------------------------------------------------------------


def _check_manager(by: Any, path: str, resident: Resident | None = None) -> None:
    if not manages(by, path):
        raise NotFound(_("No such resident in your area."), code="resident.not_found")
    if resident is not None and resident.user_id is not None and resident.user_id == by.pk:
        raise PermissionDenied(_("Points of your own are decided by a colleague."), code="points.own_account")


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(_("Give the reason."), code="points.reason_required", fields={"reason": _("required")})
    if len(reason) > 200:
        raise ValidationFailed(
            _("The reason is at most 200 characters."), code="points.reason_too_long", fields={"reason": _("too long")}
        )
    return reason


def award_manual(
    *, resident: Resident, amount: int, reason: str, by: Any, key: str | None = None
) -> tuple[Entry, bool]:
    """Village staff award points by hand, with the reason on the record."""
    _check_manager(by, resident.path, resident)
    reason = _reason(reason)
    full_key = f"manual:{by.pk}:{_client_key(key)}"

    def write() -> Entry:
        source = node_account(village_id(resident.path), Account.Kind.ISSUE)
        entry = _move(
            key=full_key,
            kind=Entry.Kind.AWARD,
            source=source,
            sink=resident_account(resident),
            amount=amount,
            resident=resident,
            by=by,
            reason=reason,
        )
        _tell(resident, _("You received %(n)s points: %(reason)s") % {"n": amount, "reason": reason})
        return entry

    entry, created = _once(lambda: _replay(full_key, Entry.Kind.AWARD, resident, amount), write)
    return entry, created


def deduct_manual(
    *, resident: Resident, amount: int, reason: str, by: Any, key: str | None = None
) -> tuple[Entry, bool]:
    """Village staff take points off with a reason (a rule broken, a false report); never below zero."""
    _check_manager(by, resident.path, resident)
    reason = _reason(reason)
    full_key = f"deduct:{by.pk}:{_client_key(key)}"

    def write() -> Entry:
        sink = node_account(village_id(resident.path), Account.Kind.DEDUCTED)
        entry = _move(
            key=full_key,
            kind=Entry.Kind.DEDUCT,
            source=resident_account(resident),
            sink=sink,
            amount=amount,
            resident=resident,
            by=by,
            reason=reason,
        )
        _tell(resident, _("%(n)s points were deducted: %(reason)s") % {"n": amount, "reason": reason})
        return entry

    return _once(lambda: _replay(full_key, Entry.Kind.DEDUCT, resident, amount), write)


def _replay(key: str, kind: str, resident: Resident, amount: int) -> Entry | None:
    entry = Entry.objects.filter(key=key).first()
    if entry is not None and (entry.kind != kind or entry.resident_id != resident.pk or entry.amount != amount):
        raise Conflict(_("This idempotency key was already used for a different request."), code="points.key_reused")
    return entry


def entry_reverse(*, entry: Entry, reason: str, by: Any) -> Entry:
    """Put a wrong award or deduction right with the opposite entry. Spends are undone by cancelling
    the redemption instead; expiry is final."""
    reason = _reason(reason)
    if entry.kind not in (Entry.Kind.AWARD, Entry.Kind.DEDUCT):
        raise Conflict(_("Only awards and deductions can be reversed."), code="points.not_reversible")
    if entry.resident is None:
        raise Conflict(_("Only awards and deductions can be reversed."), code="points.not_reversible")
    _check_manager(by, entry.resident.path, entry.resident)
    if Entry.objects.filter(reverses=entry).exists():
        raise Conflict(_("This entry has already been reversed."), code="points.already_reversed")
    try:
        with transaction.atomic():
            source = Account.objects.get(pk=entry.sink_id)
            sink = Account.objects.get(pk=entry.source_id)
            lot = Lot.objects.filter(entry=entry).first()
            return _move(
                key=f"reverse:{entry.pk}",
                kind=Entry.Kind.REVERSE,
                source=source,
                sink=sink,
                amount=entry.amount,
                resident=entry.resident,
                by=by,
                reason=reason,
                rule=entry.rule,
                reverses=entry,
                prefer_lot=lot,
                restore_from=entry if entry.kind == Entry.Kind.DEDUCT else None,
            )
    except IntegrityError as exc:
        raise Conflict(_("This entry has already been reversed."), code="points.already_reversed") from exc


def _tell(resident: Resident, text: str) -> None:
    """A message to the resident's inbox, written in the same transaction as the entry it tells of."""
    message_queue(user_id=resident.user_id, kind="points", text=text, link="/points/")


# --- claims: points by rule ---------------------------------------------------------------------------------


def _month_start(at: dt.datetime) -> dt.datetime:
    d = at.astimezone(SHANGHAI)
    return dt.datetime(d.year, d.month, 1, tzinfo=SHANGHAI)


def rule_points(rule: Rule, quantity: Decimal) -> int:
    points = int((Decimal(rule.points_per_unit) * quantity).to_integral_value(rounding=ROUND_DOWN))
    if rule.cap_per_activity is not None:
        points = min(points, rule.cap_per_activity)
    return points


def _quantity(rule: Rule, quantity: Any) -> Decimal:
    try:
        q = Decimal(str(quantity)).quantize(Decimal("0.1"))
    except Exception as exc:
        raise ValidationFailed(
            _("Enter a number of hours or acts."), code="points.bad_quantity", fields={"quantity": _("not a number")}
        ) from exc
    top = Decimal(24) if rule.unit == Rule.Unit.HOUR else Decimal(MAX_QUANTITY)
    if not q.is_finite() or q <= 0 or q > top:
        raise ValidationFailed(
            _("The quantity must be more than 0 and at most %(max)s.") % {"max": top},
            code="points.bad_quantity",
            fields={"quantity": _("out of range")},
        )
    return q


def claim_submit(
    *,
    resident: Resident,
    rule: Rule,
    quantity: Any,
    description: str,
    by: Any,
    source: str = "",
    key: str | None = None,
) -> tuple[Claim, bool]:
    """A claim for points under `rule`: by the resident for themself (a good deed, a neighbour helped),
    by staff or an activity's organiser for them. Rules that need no approval are decided at once."""
    if not rule.is_active:
        raise NotFound(_("No such points rule."), code="points.rule_not_found")
    own = resident.user_id is not None and resident.user_id == getattr(by, "pk", None)
    if not own and not source and not manages(by, resident.path, grid_workers=True):
        raise NotFound(_("No such resident in your area."), code="resident.not_found")
    description = (description or "").strip()
    if not description or len(description) > 300:
        raise ValidationFailed(
            _("Describe what was done (at most 300 characters)."),
            code="points.bad_description",
            fields={"description": _("required, at most 300 characters")},
        )
    q = _quantity(rule, quantity)
    full_key = f"claim:{source}" if source else f"claim:{by.pk}:{_client_key(key)}"

    def write() -> Claim:
        claim = Claim.objects.create(
            key=full_key,
            resident=resident,
            path=resident.path,
            rule=rule,
            quantity=q,
            description=description,
            source=source,
            submitted_by=by,
            submitted_at=now(),
        )
        # A rule without approval is decided at once only for what its organisers vouch for (a rated
        # participation, a selection) or village staff file: a resident's own word always goes to staff.
        if not rule.needs_approval and not own and manages(by, resident.path):
            _approve(claim, by=None, note="")
        return claim

    def lookup() -> Claim | None:
        found = Claim.objects.filter(key=full_key).first()
        if found is not None and (found.resident_id != resident.pk or found.rule_id != rule.pk or found.quantity != q):
            raise Conflict(
                _("This idempotency key was already used for a different request."), code="points.key_reused"
            )
        return found

    return _once(lookup, write)


def _approve(claim: Claim, *, by: Any, note: str) -> None:
    resident = claim.resident
    account = resident_account(resident)
    # Decide first (compare-and-set), so a second approval of the same claim stops here, changing nothing.
    CLAIM.move(claim, "approve", fields={"decided_by": by if getattr(by, "pk", None) else None, "decided_at": now()})
    # The monthly cap is read and then written: hold the resident's account while deciding.
    Account.objects.select_for_update().filter(pk=account.pk).first()
    points = rule_points(claim.rule, claim.quantity)
    if claim.rule.cap_per_month is not None:
        got = (
            Entry.objects.filter(
                resident=resident,
                rule=claim.rule,
                kind=Entry.Kind.AWARD,
                at__gte=_month_start(now()),
                reversed_by__isnull=True,
            ).aggregate(s=Sum("amount"))["s"]
            or 0
        )
        points = max(0, min(points, claim.rule.cap_per_month - got))
        if points == 0 and not note:
            note = _("The monthly cap of this rule is reached.")
    entry = None
    if points > 0:
        source = node_account(village_id(resident.path), Account.Kind.ISSUE)
        entry = _move(
            key=f"award:{claim.key}",
            kind=Entry.Kind.AWARD,
            source=source,
            sink=account,
            amount=points,
            resident=resident,
            by=by,
            reason=f"{claim.rule.name}：{claim.description}"[:200],
            rule=claim.rule,
        )
        _tell(resident, _("You received %(n)s points: %(reason)s") % {"n": points, "reason": claim.rule.name})
    Claim.objects.filter(pk=claim.pk).update(points=points, decision_note=note[:200], entry=entry)
    claim.refresh_from_db()


def claim_decide(*, claim: Claim, approve: bool, by: Any, note: str = "") -> Claim:
    """Village staff approve (the award is written) or reject (with a reason) a pending claim."""
    if claim.resident.user_id == by.pk:  # they see their own claim, so a plain "no" tells them nothing new
        raise PermissionDenied(_("You cannot decide your own claim."), code="points.own_claim")
    if not manages(by, claim.path):
        raise NotFound(_("No such claim."), code="points.claim_not_found")
    note = (note or "").strip()[:200]
    if not approve and not note:
        raise ValidationFailed(_("Give the reason."), code="points.reason_required", fields={"note": _("required")})
    with transaction.atomic():
        if approve:
            _approve(claim, by=by, note=note)
        else:
            CLAIM.move(claim, "reject", fields={"decided_by": by, "decided_at": now(), "decision_note": note})
            _tell(claim.resident, _("Your points claim was not approved: %(reason)s") % {"reason": note})
            claim.refresh_from_db()
    return claim


# --- the shop ------------------------------------------------------------------------------------------------


def shop_create(*, node: Node, name: str, by: Any, address: str = "", opening_hours: str = "") -> Shop:
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


def _check_shop_staff(by: Any, shop: Shop) -> None:
    if not manages(by, shop.path):
        raise NotFound(_("No such points shop."), code="points.shop_not_found")


def goods_save(*, shop: Shop, by: Any, goods: Goods | None = None, **fields: Any) -> Goods:
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


def goods_restock(*, goods: Goods, delta: int, by: Any, note: str = "", count: bool = False) -> Goods:
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
    *, goods: Goods, resident: Resident, quantity: int, by: Any, key: str | None = None
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


def redemption_collect(*, redemption: Redemption, by: Any) -> Redemption:
    _check_shop_staff(by, redemption.shop)
    with transaction.atomic():
        REDEMPTION.move(redemption, "collect", fields={"collected_at": now(), "collected_by": by})
    redemption.refresh_from_db()
    return redemption


def redemption_cancel(*, redemption: Redemption, by: Any, reason: str = "") -> Redemption:
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


# --- the worker's steps: expiry and reservations not picked up ------------------------------------------------


def expire_one() -> bool:
    """Expire the oldest due lot in full, as a ledger entry to the village's expiry account."""
    at = now()
    lot = (
        Lot.objects.filter(remaining__gt=0, expires_at__lte=at)
        .select_related("account__resident")
        .order_by("expires_at", "id")
        .first()
    )
    if lot is None:
        return False
    with transaction.atomic():
        # The resident's account first, as every move locks it: a spend committing meanwhile has then
        # either taken from this lot already (we read what is left) or waits until it is expired.
        Account.objects.select_for_update().filter(pk=lot.account_id).first()
        fresh = Lot.objects.filter(pk=lot.pk, remaining__gt=0).values_list("remaining", flat=True).first()
        if not fresh:
            return True  # spent meanwhile, or another worker took it
        resident = lot.account.resident
        sink = node_account(village_id(lot.account.path), Account.Kind.EXPIRED)
        n = LotUse.objects.filter(lot=lot).count()
        day = lot.received_at.astimezone(SHANGHAI).date().isoformat()
        _move(
            key=f"expire:{lot.pk}:{n}",
            kind=Entry.Kind.EXPIRE,
            source=lot.account,
            sink=sink,
            amount=fresh,
            resident=resident,
            by=None,
            reason=_("Points received on %(day)s expired") % {"day": day},
            prefer_lot=lot,
            at=at,
        )
        if Lot.objects.filter(pk=lot.pk).values_list("remaining", flat=True).get() != 0:
            raise RuntimeError("expiry took from another lot than the expiring one")  # a bug: roll back
    return True


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


def handle_one() -> bool:
    return expire_one() or pickup_lapse_one()


# --- recognition -----------------------------------------------------------------------------------------------


def nominate(*, resident: Resident, month: dt.date, reason: str, by: Any) -> Nomination:
    """Nominate a resident as a "good person" (好人) of a month: staff of their area, or a neighbour
    of the same village."""
    reason = (reason or "").strip()
    if not reason or len(reason) > 500:
        raise ValidationFailed(
            _("Describe the good deeds (at most 500 characters)."),
            code="points.bad_reason",
            fields={"reason": _("required")},
        )
    from org.access import get_scope

    own = get_scope(by).own
    if own is not None and own.id == resident.pk:
        raise PermissionDenied(_("Nominate someone else."), code="points.own_nomination")
    neighbour = own is not None and village_id(own.path) == village_id(resident.path)
    if not neighbour and not manages(by, resident.path, grid_workers=True):
        raise NotFound(_("No such resident in your area."), code="resident.not_found")
    month = month.replace(day=1)
    try:
        with transaction.atomic():
            return Nomination.objects.create(
                resident=resident, path=resident.path, month=month, reason=reason, nominated_by=by, nominated_at=now()
            )
    except IntegrityError as exc:
        raise Conflict(
            _("This resident is already nominated for that month."), code="points.already_nominated"
        ) from exc


def nomination_decide(*, nomination: Nomination, select: bool, by: Any) -> Nomination:
    """Village staff select (points under the good-person rule, if there is one) or pass over."""
    if not manages(by, nomination.path):
        raise NotFound(_("No such nomination."), code="points.nomination_not_found")
    if nomination.resident.user_id is not None and nomination.resident.user_id == by.pk:
        raise PermissionDenied(_("You cannot decide your own nomination."), code="points.own_nomination")
    with transaction.atomic():
        NOMINATION.move(nomination, "select" if select else "pass_over", fields={"decided_by": by, "decided_at": now()})
        if select:
            rule = Rule.objects.filter(kind=Rule.Kind.GOOD_PERSON, is_active=True).first()
            if rule is not None:
                claim, _created = claim_submit(
                    resident=nomination.resident,
                    rule=rule,
                    quantity=1,
                    by=by,
                    source=f"nomination:{nomination.pk}",
                    description=_("Good person of %(month)s") % {"month": nomination.month.strftime("%Y-%m")},
                )
                if claim.state == Claim.State.PENDING:
                    _approve(claim, by=by, note="")
                Nomination.objects.filter(pk=nomination.pk).update(entry=claim.entry)
            _tell(nomination.resident, _("You were selected as a good person of the month. Thank you!"))
    nomination.refresh_from_db()
    return nomination
