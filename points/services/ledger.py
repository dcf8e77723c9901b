"""The ledger: accounts, the one mover of points (`_move`) with its lots, awards and deductions by
hand, reversals and expiry. See the package's docstring for how it stays as trustworthy as money."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext as _

from accounts.models import User, actor_label
from core.clock import SHANGHAI, now
from core.errors import Conflict, ValidationFailed
from org.models import Node, Resident
from points.models import Account, Entry, Lot, LotUse, Rule, Shop
from points.services.common import (
    MAX_POINTS,
    _check_manager,
    _client_key,
    _once,
    _reason,
    _tell,
    setting,
    village_id,
)

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
    by: User | None,
    reason: str = "",
    rule: Rule | None = None,
    reverses: Entry | None = None,
    restore_from: Entry | None = None,
    prefer_lot: Lot | None = None,
    at: dt.datetime | None = None,
    then: Callable[[], object] | None = None,
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


# --- awards and deductions by hand --------------------------------------------------------------------------


def award_manual(
    *, resident: Resident, amount: int, reason: str, by: User, key: str | None = None
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
    *, resident: Resident, amount: int, reason: str, by: User, key: str | None = None
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


def entry_reverse(*, entry: Entry, reason: str, by: User) -> Entry:
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


# --- the worker's step: expiry -------------------------------------------------------------------------------


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
