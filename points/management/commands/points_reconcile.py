from typing import Any

from django.core.management.base import BaseCommand, CommandError

from points.reconcile import reconcile


class Command(BaseCommand):
    help = (
        "Check that every points account's cached balance equals its ledger entries (and, for residents, "
        "their unexpired lots) and that all balances add up to zero. Exits 1 on any difference."
    )

    def handle(self, *args: Any, **opts: Any) -> None:
        n, diffs, total = reconcile()
        for d in diffs:
            self.stdout.write(f"account {d.account_id} {d.label}: cached {d.cached}, ledger {d.ledger}, lots {d.lots}")
        self.stdout.write(f"accounts {n}, differences {len(diffs)}, sum of balances {total}")
        if diffs or total != 0:
            raise CommandError("the points ledger does not reconcile")
