"""Points (积分): an append-only double-entry ledger, the rules that award points, the shop that takes
them, and the recognition built on them.

Every movement of points is one Entry from one account to another, so the balances of all accounts
always add up to zero: villages issue (their issue account goes negative by what they gave out),
residents hold, shops, deductions and expiry take in. A resident's balance is cached on the account,
kept in the same transaction as the entry and held non-negative by the database; what a resident
holds is also kept as lots (one per award, oldest spent first) so that points can expire by age.
Nothing in the ledger is ever edited: a mistake is put right by a reversing entry.
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from org.models import Node, PathField, Resident, ServicePoint


class Account(models.Model):
    class Kind(models.TextChoices):
        RESIDENT = "resident", _("resident")
        ISSUE = "issue", _("points issued")  # a node's source of awards
        SHOP = "shop", _("points shop")  # a shop's sink of redemptions
        DEDUCTED = "deducted", _("points deducted")  # a node's sink of deductions
        EXPIRED = "expired", _("points expired")  # a node's sink of expiry

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    resident = models.OneToOneField(
        Resident, null=True, blank=True, on_delete=models.PROTECT, related_name="points_account",
        verbose_name=_("resident"),
    )  # fmt: skip
    node = models.ForeignKey(
        Node, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("node")
    )
    shop = models.OneToOneField(
        "Shop", null=True, blank=True, on_delete=models.PROTECT, related_name="account", verbose_name=_("shop")
    )
    path = PathField(_("path"))  # the resident's grid or the node: scoped reads filter on it
    balance = models.BigIntegerField(_("balance"), default=0)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("points account")
        verbose_name_plural = _("points accounts")
        constraints = [
            # Only a source may go below zero: a resident can never spend what they do not have.
            models.CheckConstraint(condition=Q(kind="issue") | Q(balance__gte=0), name="points_balance_not_negative"),
            models.CheckConstraint(
                condition=(Q(kind="resident", resident__isnull=False, node__isnull=True, shop__isnull=True))
                | (Q(kind="shop", shop__isnull=False, resident__isnull=True))
                | (Q(kind__in=["issue", "deducted", "expired"], node__isnull=False, resident__isnull=True)),
                name="points_account_owner_matches_kind",
            ),
            models.UniqueConstraint(
                fields=["kind", "node"], condition=Q(node__isnull=False), name="points_account_node"
            ),
        ]

    def __str__(self) -> str:
        owner = self.resident or self.shop or self.node
        return f"{self.get_kind_display()} · {owner}"


class Rule(models.Model):
    """How many points an act is worth: per hour or per act, capped, approved by staff where it says."""

    class Kind(models.TextChoices):
        VOLUNTEER = "volunteer", _("volunteer service")
        ENVIRONMENT = "environment", _("environment upkeep")
        MEDIATION = "mediation", _("mediation")
        NEIGHBOUR = "neighbour", _("helping a neighbour")
        GOOD_DEED = "good_deed", _("good deed")
        GOOD_PERSON = "good_person", _("good person of the month")
        OTHER = "other", _("other")

    class Unit(models.TextChoices):
        HOUR = "hour", _("per hour")
        ACT = "act", _("per act")

    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=60)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    unit = models.CharField(_("unit"), max_length=4, choices=Unit.choices)
    points_per_unit = models.PositiveIntegerField(_("points per unit"))
    cap_per_activity = models.PositiveIntegerField(_("cap per activity"), null=True, blank=True)
    cap_per_month = models.PositiveIntegerField(_("cap per person per month"), null=True, blank=True)
    needs_approval = models.BooleanField(_("needs approval by village staff"), default=True)
    description = models.CharField(_("description"), max_length=200, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("points rule")
        verbose_name_plural = _("points rules")
        ordering = ["code"]
        constraints = [models.CheckConstraint(condition=Q(points_per_unit__gt=0), name="points_rule_positive")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Entry(models.Model):
    """One movement of points between two accounts. Append-only: the database refuses updates."""

    class Kind(models.TextChoices):
        AWARD = "award", _("award")
        DEDUCT = "deduct", _("deduction")
        REDEEM = "redeem", _("redemption")
        REFUND = "refund", _("refund")
        EXPIRE = "expire", _("expiry")
        REVERSE = "reverse", _("reversal")

    key = models.CharField(_("idempotency key"), max_length=120, unique=True)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    source = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="out_entries", verbose_name=_("from account")
    )
    sink = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="in_entries", verbose_name=_("to account"))
    amount = models.BigIntegerField(_("points"))
    # The resident whose points moved, and their grid: "my history" and scoped reports read these.
    resident = models.ForeignKey(
        Resident, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("resident")
    )
    path = PathField(_("path"))
    at = models.DateTimeField(_("time"), db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        verbose_name=_("by"),
    )  # fmt: skip
    actor_label = models.CharField(_("by"), max_length=80, blank=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    rule = models.ForeignKey(
        Rule, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("rule")
    )
    reverses = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by",
        verbose_name=_("reverses"),
    )  # fmt: skip

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["resident", "-id"], name="points_entry_resident"),
            models.Index(fields=["kind", "at"], name="points_entry_kind_at"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="points_entry_positive"),
            models.CheckConstraint(condition=~Q(source=F("sink")), name="points_entry_two_accounts"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()} {self.amount}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Integrity, not a business rule: the ledger is append-only (a database trigger says so too).
        if not self._state.adding:
            raise ValueError("points entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise ValueError("points entries are append-only")

    @property
    def signed(self) -> int:
        """The amount as the resident sees it: + into their account, - out of it (select the sink)."""
        return self.amount if self.sink.kind == Account.Kind.RESIDENT else -self.amount


class Lot(models.Model):
    """Points a resident received in one award (or one refund of an older lot's points), spent oldest
    first and expiring as a whole batch. The lots of an account always add up to its balance."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="lots")
    entry = models.OneToOneField(Entry, on_delete=models.PROTECT, related_name="lot")
    amount = models.BigIntegerField(_("points"))
    remaining = models.BigIntegerField(_("remaining"))
    received_at = models.DateTimeField(_("received"))
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)

    class Meta:
        verbose_name = _("points lot")
        verbose_name_plural = _("points lots")
        ordering = ["received_at", "id"]
        indexes = [
            models.Index(fields=["account", "received_at", "id"], condition=Q(remaining__gt=0), name="points_lot_open"),
            models.Index(fields=["expires_at"], condition=Q(remaining__gt=0), name="points_lot_expiring"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(remaining__gte=0) & Q(remaining__lte=F("amount")), name="points_lot_remaining_in_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.remaining}/{self.amount}"


class LotUse(models.Model):
    """How much of which lot an outgoing entry took: a refund or reversal puts it back where it was."""

    entry = models.ForeignKey(Entry, on_delete=models.PROTECT, related_name="lot_uses")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="uses")
    amount = models.BigIntegerField()

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="points_lotuse_positive")]

    def __str__(self) -> str:
        return f"{self.lot_id}: {self.amount}"


class Claim(models.Model):
    """A request for points under a rule (service done, a good deed reported), approved by village staff
    where the rule says so; approval writes the award."""

    class State(models.TextChoices):
        PENDING = "pending", _("pending approval")
        APPROVED = "approved", _("approved")
        REJECTED = "rejected", _("rejected")

    key = models.CharField(_("idempotency key"), max_length=120, unique=True)
    resident = models.ForeignKey(
        Resident, on_delete=models.PROTECT, related_name="points_claims", verbose_name=_("resident")
    )
    path = PathField(_("path"))
    rule = models.ForeignKey(Rule, on_delete=models.PROTECT, related_name="claims", verbose_name=_("rule"))
    quantity = models.DecimalField(_("hours or acts"), max_digits=6, decimal_places=1)
    description = models.CharField(_("description"), max_length=300)
    source = models.CharField(_("source"), max_length=40, blank=True)  # e.g. "participation:12"
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.PENDING)
    points = models.PositiveIntegerField(_("points"), default=0)  # worked out when decided
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("submitted by")
    )
    submitted_at = models.DateTimeField(_("submitted"))
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decision_note = models.CharField(_("note"), max_length=200, blank=True)
    entry = models.OneToOneField(
        Entry, null=True, blank=True, on_delete=models.PROTECT, related_name="claim", verbose_name=_("ledger entry")
    )

    class Meta:
        verbose_name = _("points claim")
        verbose_name_plural = _("points claims")
        ordering = ["-id"]
        indexes = [models.Index(fields=["state", "path"], name="points_claim_state_path")]
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="points_claim_positive")]

    def __str__(self) -> str:
        return f"{self.rule_id} · {self.resident_id} · {self.state}"


class Shop(models.Model):
    """A points shop (积分超市) of a village or a town: it serves the residents under its node."""

    node = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="points_shops", verbose_name=_("node"))
    path = PathField(_("path"))
    name = models.CharField(_("name"), max_length=60)
    service_point = models.ForeignKey(
        ServicePoint, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("service point"),
    )  # fmt: skip
    address = models.CharField(_("address"), max_length=200, blank=True)
    opening_hours = models.CharField(_("opening hours"), max_length=200, blank=True)
    is_active = models.BooleanField(pgettext_lazy("shop", "open"), default=True)

    class Meta:
        verbose_name = _("points shop")
        verbose_name_plural = _("points shops")
        ordering = ["path", "id"]

    def __str__(self) -> str:
        return self.name


class Goods(models.Model):
    class Period(models.TextChoices):
        DAY = "day", _("per day")
        WEEK = "week", _("per week")
        MONTH = "month", _("per month")
        YEAR = "year", _("per year")
        EVER = "ever", _("in all")

    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="goods", verbose_name=_("shop"))
    name = models.CharField(_("name"), max_length=60)
    description = models.CharField(_("description"), max_length=200, blank=True)
    price = models.PositiveIntegerField(_("points price"))
    stock = models.IntegerField(_("stock"), default=0)
    limit_per_person = models.PositiveIntegerField(_("limit per person"), null=True, blank=True)
    limit_period = models.CharField(_("limit period"), max_length=5, choices=Period.choices, default=Period.MONTH)
    is_active = models.BooleanField(_("on sale"), default=True)
    sort = models.PositiveIntegerField(_("sort order"), default=0)

    class Meta:
        verbose_name = _("goods")
        verbose_name_plural = _("goods")
        ordering = ["shop", "sort", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(stock__gte=0), name="points_goods_stock_not_negative"),
            models.CheckConstraint(condition=Q(price__gt=0), name="points_goods_price_positive"),
        ]

    def __str__(self) -> str:
        return self.name


class Redemption(models.Model):
    class State(models.TextChoices):
        RESERVED = "reserved", _("reserved, to pick up")
        COLLECTED = "collected", _("collected")
        CANCELLED = "cancelled", pgettext_lazy("redemption", "cancelled")

    class Channel(models.TextChoices):
        COUNTER = "counter", _("at the counter")
        ONLINE = "online", _("reserved online")

    key = models.CharField(_("idempotency key"), max_length=120, unique=True)
    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="redemptions", verbose_name=_("shop"))
    goods = models.ForeignKey(Goods, on_delete=models.PROTECT, related_name="redemptions", verbose_name=_("goods"))
    resident = models.ForeignKey(
        Resident, on_delete=models.PROTECT, related_name="redemptions", verbose_name=_("resident")
    )
    path = PathField(_("path"))
    quantity = models.PositiveIntegerField(_("quantity"))
    points = models.PositiveIntegerField(_("points"))
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    state = models.CharField(_("state"), max_length=10, choices=State.choices)
    created_at = models.DateTimeField(_("time"), db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("created by")
    )
    pickup_by = models.DateTimeField(_("pick up by"), null=True, blank=True)
    collected_at = models.DateTimeField(_("time collected"), null=True, blank=True)
    collected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("handed over by"),
    )
    cancelled_at = models.DateTimeField(_("time cancelled"), null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("cancelled by"),
    )
    cancel_reason = models.CharField(_("reason"), max_length=200, blank=True)
    entry = models.OneToOneField(
        Entry, on_delete=models.PROTECT, related_name="redemption", verbose_name=_("ledger entry")
    )
    refund = models.OneToOneField(
        Entry,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="refunded_redemption",
        verbose_name=_("refund entry"),
    )

    class Meta:
        verbose_name = _("redemption")
        verbose_name_plural = _("redemptions")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["resident", "goods", "created_at"], name="points_redemption_limit"),
            models.Index(fields=["pickup_by"], condition=Q(state="reserved"), name="points_redemption_pickup"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="points_redemption_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.goods_id} × {self.quantity}"


class StockMove(models.Model):
    """Every change of a goods' stock, with why: restocking, a redemption, its cancellation, a count."""

    class Kind(models.TextChoices):
        RESTOCK = "restock", _("restock")
        REDEEM = "redeem", _("redemption")
        CANCEL = "cancel", _("cancellation")
        ADJUST = "adjust", _("stock count")

    goods = models.ForeignKey(Goods, on_delete=models.PROTECT, related_name="moves")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    delta = models.IntegerField()
    redemption = models.ForeignKey(Redemption, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    note = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return f"{self.kind} {self.delta:+d}"


class Nomination(models.Model):
    """A "good person" (好人) nomination for a month in a village; village staff select from them."""

    class State(models.TextChoices):
        NOMINATED = "nominated", _("nominated")
        SELECTED = "selected", _("selected")
        NOT_SELECTED = "not_selected", _("not selected")

    resident = models.ForeignKey(
        Resident, on_delete=models.PROTECT, related_name="nominations", verbose_name=_("resident")
    )
    path = PathField(_("path"))
    month = models.DateField(_("month"))  # the first day of the month
    reason = models.CharField(_("deeds"), max_length=500)
    nominated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("nominated by")
    )
    nominated_at = models.DateTimeField(_("time nominated"))
    state = models.CharField(_("state"), max_length=12, choices=State.choices, default=State.NOMINATED)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    entry = models.OneToOneField(
        Entry, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("ledger entry")
    )

    class Meta:
        verbose_name = _("good-person nomination")
        verbose_name_plural = _("good-person nominations")
        ordering = ["-month", "id"]
        constraints = [
            models.UniqueConstraint(fields=["resident", "month"], name="points_nomination_once_a_month"),
        ]

    def __str__(self) -> str:
        return f"{self.resident_id} · {self.month:%Y-%m}"
