"""The points worker's step (`run_points`): expire a lot, or lapse a reservation not picked up."""

from __future__ import annotations

from points.services.ledger import expire_one
from points.services.shop import pickup_lapse_one


def handle_one() -> bool:
    return expire_one() or pickup_lapse_one()
