"""Every write of points, by concern (common, ledger, claims, shop, nominations, worker): awards by rule
and by hand, deductions, reversals, redemptions, expiry.

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

Views, the API, the volunteers app, the demo loader and the `run_points` worker call these names from
`points.services`; the modules underneath are free to move code between them.
"""

from core.clock import SHANGHAI
from points.selectors import manages
from points.services.claims import claim_decide, claim_submit, rule_points
from points.services.common import MAX_POINTS, MAX_QUANTITY, setting, village_id
from points.services.ledger import (
    award_manual,
    deduct_manual,
    entry_reverse,
    expire_one,
    node_account,
    resident_account,
    shop_account,
)
from points.services.nominations import nominate, nomination_decide
from points.services.shop import (
    goods_restock,
    goods_save,
    pickup_lapse_one,
    redeem,
    redemption_cancel,
    redemption_collect,
    shop_create,
)
from points.services.worker import handle_one

__all__ = [
    "MAX_POINTS",
    "MAX_QUANTITY",
    "SHANGHAI",
    "award_manual",
    "claim_decide",
    "claim_submit",
    "deduct_manual",
    "entry_reverse",
    "expire_one",
    "goods_restock",
    "goods_save",
    "handle_one",
    "manages",
    "node_account",
    "nominate",
    "nomination_decide",
    "pickup_lapse_one",
    "redeem",
    "redemption_cancel",
    "redemption_collect",
    "resident_account",
    "rule_points",
    "setting",
    "shop_account",
    "shop_create",
    "village_id",
]
