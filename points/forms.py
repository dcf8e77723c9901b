"""The forms of the points pages: every posted action is read here (core.forms).

Lengths are those of the rows and services behind them (Claim.description 300, Goods.name 60, a reason
200, a nomination's deeds 500, the search box 30): what is longer is refused, never cut.

Numbers typed into a box or picked from a list are read with `Whole`: a number, or None when it is not one.
The service then refuses what is out of range in its own words ("The quantity must be from 1 to 99."),
which tells a person more than "Enter a whole number." would, and a missing resident is "Choose a
resident first." as before."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from core.forms import ActionForm, Choice, Flag, Key, NextForm, Text, Whole
from points.models import Goods

SEARCH_MAX = 30  # the resident search box (templates/points/_find.html)


# --- a resident's ------------------------------------------------------------------------------------------


class ClaimForm(ActionForm):
    """申报积分. The quantity stays text: the service reads hours as decimals ("1.5") and says the range."""

    rule = Text(max_length=20, label=_("What did you do?"))  # Rule.code
    quantity = Text(max_length=10, label=_("How many times (or hours)"))
    description = Text(max_length=300, label=_("Describe it: when, where, for whom"))  # Claim.description
    key = Key()


class ReserveForm(ActionForm):
    goods = Whole(label=_("Goods"))
    quantity = Whole(label=_("How many"))
    key = Key()


class CancelForm(NextForm):
    """A resident cancels their reservation (no reason needed); shop staff give the reason."""

    reason = Text(max_length=200, label=_("Reason"))  # Redemption.cancel_reason, a refund entry's reason


# --- staff: claims, awards and deductions ---------------------------------------------------------------------


class DecideForm(ActionForm):
    """Approve or reject a claim: a decision that is neither is refused (it no longer counts as a rejection)."""

    decision = Choice(choices=[("approve", _("Approve")), ("reject", _("Reject"))], required=True)
    note = Text(max_length=200, label=_("Why not"))  # Claim.decision_note


class AdjustForm(ActionForm):
    """Award (the default) or deduct by hand; `q` is the search the page goes back to."""

    resident = Whole(label=_("Resident"))
    kind = Choice(choices=[("award", _("Award")), ("deduct", _("Deduct"))])
    amount = Whole(label=_("Points"))
    reason = Text(max_length=200, label=_("Reason"))  # Entry.reason
    key = Key()
    q = Text(max_length=SEARCH_MAX)


# --- staff: the shop counter ----------------------------------------------------------------------------------


class CounterRedeemForm(ActionForm):
    resident = Whole(label=_("Resident"))
    goods = Whole(label=_("Goods"))
    quantity = Whole(label=_("Quantity"))
    key = Key()
    q = Text(max_length=SEARCH_MAX)


class CollectForm(ActionForm):
    """Hand over a reservation: nothing to fill in (a NUL byte smuggled in is still refused)."""


class GoodsAddForm(ActionForm):
    """New goods; an empty period is a month, as the form's default."""

    name = Text(max_length=60, label=_("Name"))  # Goods.name
    description = Text(max_length=200, label=pgettext_lazy("goods", "Description"))  # Goods.description
    price = Whole(label=_("Price in points"))
    stock = Whole(label=_("In stock"))
    limit_per_person = Whole(label=_("Limit per person"))
    limit_period = Choice(choices=Goods.Period.choices, label=_("Limit period"))


class GoodsStockForm(ActionForm):
    """A delivery, or with `count` a correction after counting the shelf."""

    delta = Whole(label=_("How many"))
    note = Text(max_length=200, label=_("Note"))  # StockMove.note
    count = Flag()


class GoodsSaleForm(ActionForm):
    """Take goods off sale or put them back: nothing to fill in."""


# --- recognition ---------------------------------------------------------------------------------------------


class NominateForm(ActionForm):
    """A good person of a month; the month as the page's month box sends it (YYYY-MM)."""

    resident = Whole(label=_("Resident"))
    reason = Text(max_length=500, label=_("The good deeds"))  # Nomination.reason
    month = Text(max_length=7, label=_("Month"))


class NominationDecideForm(ActionForm):
    """Select or pass over (the decision is in the address): nothing to fill in."""
