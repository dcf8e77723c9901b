"""manage.py seed_demo: fill an empty database with a demo county of invented people."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core import ratelimit
from demo.county import (
    COUNTY,
    DEMO_PASSWORD,
    PROVINCE_COUNTY,
    SCALES,
    SMALL,
    CountySpec,
    DemoDataError,
    Summary,
    generate,
)
from org.models import Node


def _sizes(spec: CountySpec) -> str:
    return f"{spec.town_count} towns, {spec.villages} villages, {spec.grids:,} grids, {spec.households:,} households"


class Command(BaseCommand):
    help = (
        "Fill an empty database with a demo county and the demo logins (password gongzhi-demo). "
        "The same --scale and --seed always give the same data. "
        f"small: one county of {_sizes(SMALL)}, ~1,300 residents (about 2 s). "
        f"county: {_sizes(COUNTY)}, ~308,000 residents, 42 departments, ~310 service points, "
        "~6,700 party members, ~11,400 household links (about 1.5 min and 250 MB on SQLite or PostgreSQL). "
        f"province: a province of 2 cities of 3 counties, each county of {_sizes(PROVINCE_COUNTY)}: "
        "576,000 households and ~1.56 M residents in all (about 7 min on SQLite); "
        "the demo logins work in the first county."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--scale", choices=SCALES, default="small")
        parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="do nothing when the tree already has nodes (for `make run`) instead of failing",
        )
        parser.add_argument(
            "--orders",
            type=int,
            default=None,
            help="work orders to play through the past year (default: 300 small, 3000 county, 0 province)",
        )
        parser.add_argument(
            "--calls",
            type=int,
            default=None,
            help="one-key calls to play through the past year, with residents registered for them "
            "(default: 150 small, 1500 county, 0 province; 0 registers nobody)",
        )
        parser.add_argument(
            "--points",
            type=int,
            default=None,
            help="volunteer activities to play through the past year, with volunteers, teams, points shops, "
            "claims, redemptions and good-person nominations around them, and next week's activities "
            "(default: 40 small, 600 county, 0 province; 0 adds none)",
        )
        parser.add_argument(
            "--fraction",
            type=float,
            default=1.0,
            help="shrink villages, grids and households by this factor, to try a scale quickly (default 1)",
        )

    def handle(
        self,
        *args: Any,
        scale: str,
        seed: int,
        if_empty: bool,
        fraction: float,
        orders: int | None,
        calls: int | None = None,
        points: int | None = None,
        **options: Any,
    ) -> None:
        # The demo replays a county's months through the services: no person files this fast.
        with ratelimit.suspended():
            self._seed(
                scale=scale,
                seed=seed,
                if_empty=if_empty,
                fraction=fraction,
                orders=orders,
                calls=calls,
                points=points,
                verbosity=options.get("verbosity", 1),
            )

    def _seed(
        self,
        *,
        scale: str,
        seed: int,
        if_empty: bool,
        fraction: float,
        orders: int | None,
        calls: int | None,
        points: int | None,
        verbosity: int,
    ) -> None:
        nodes = Node.objects.count()
        if nodes:
            message = f"The database already has data ({nodes:,} nodes in the tree); not adding a demo."
            if if_empty:
                self.stdout.write(message)
                return
            # Two demo counties in one database would mix up the demo logins and the figures.
            raise CommandError(message + " Use an empty database, or --if-empty to skip quietly.")
        if not 0 < fraction <= 1:
            raise CommandError("--fraction must be in (0, 1].")
        progress = self.stdout.write if verbosity >= 2 else None
        try:
            summary = generate(scale=scale, seed=seed, fraction=fraction, progress=progress)
        except DemoDataError as exc:
            raise CommandError(str(exc)) from exc
        from demo.workorders import seed_orders, setup_catalog

        setup_catalog()  # the default catalogue and the demo county's dispatch rules
        if orders is None:
            orders = {"small": 300, "county": 3000}.get(scale, 0)
        if orders:
            started = time.perf_counter()
            made = seed_orders(count=orders, seed=seed)
            if verbosity >= 1:
                self.stdout.write(f"Work orders: {made:,} over the past year in {time.perf_counter() - started:.1f} s")
        if orders:
            from dashboards.rollups import rebuild

            started = time.perf_counter()
            rebuild()  # the command centre's tallies, at once rather than by the worker's batches
            if verbosity >= 1:
                self.stdout.write(f"Dashboard tallies rebuilt in {time.perf_counter() - started:.1f} s")
        if orders:
            from demo.workorders import seed_smart

            started = time.perf_counter()
            sm = seed_smart(seed=seed)
            if verbosity >= 1:
                model = (
                    f"model v{sm.model} (category accuracy {sm.accuracy:.0%} on held-back appeals)"
                    if sm.model is not None and sm.accuracy is not None
                    else "no model (too few decided appeals)"
                )
                self.stdout.write(
                    f"Smart dispatch: {model}; {sm.planted} planted voices of one matter; {sm.topics} hot topics, "
                    f"{sm.flagged} flagged, in {time.perf_counter() - started:.1f} s"
                )
        if calls is None:
            calls = {"small": 150, "county": 1500}.get(scale, 0)
        if calls:
            from demo.sos import seed_calls

            started = time.perf_counter()
            made = seed_calls(count=calls, seed=seed, profiles={"small": 40}.get(scale, 400))
            if verbosity >= 1:
                self.stdout.write(
                    f"One-key calls: {made:,} over the past year in {time.perf_counter() - started:.1f} s"
                )
        if points is None:
            points = {"small": 40, "county": 600}.get(scale, 0)
        if points:
            from demo.points import seed_points

            p = seed_points(activities=points, seed=seed)
            if verbosity >= 1:
                self.stdout.write(
                    f"Volunteers and points: {p.volunteers:,} volunteers in {p.teams:,} teams, {p.activities:,} "
                    f"activities ({p.participations:,} sign-ups), {p.claims:,} claims, {p.redemptions:,} "
                    f"redemptions in {p.shops:,} shops over the past year, {p.upcoming:,} activities next week, "
                    f"in {p.seconds:.1f} s"
                )
        if scale in ("small", "county"):
            from demo.party import seed_party

            pt = seed_party(seed=seed, cap={"small": 20000}.get(scale, 60000))
            if verbosity >= 1:
                self.stdout.write(
                    f"Household visits: {pt.visits:,} over three months, {pt.needs:,} needs found, {pt.orders:,} "
                    f"relayed as work orders, {pt.projects} practical projects, in {pt.seconds:.1f} s"
                )
            from demo.notices import seed_notices

            nt = seed_notices(seed=seed)
            if verbosity >= 1:
                self.stdout.write(f"Notices: {nt.notices}; events this week: {nt.events} ({nt.signups} sign-ups)")
            from demo.deliberation import seed_deliberation

            dl = seed_deliberation(seed=seed)
            if verbosity >= 1:
                self.stdout.write(
                    f"Village deliberation: {dl.matters} matters in {dl.villages} villages, {dl.votes} votes "
                    f"({dl.ballots:,} ballots online and on paper), {dl.disclosures} postings (三公开)"
                )
            from demo.mediation import seed_mediation

            md = seed_mediation(seed=seed)
            if verbosity >= 1:
                self.stdout.write(
                    f"Disputes: {md.cases} cases, {md.settled} settled ({md.in_village} in the grid or village), "
                    f"{md.open} open, {md.red_flags} red flag"
                )
            from demo.integrations import seed_integrations

            hl = seed_integrations(seed=seed)
            if verbosity >= 1:
                self.stdout.write(f"12345 hotline: {hl.orders} orders received, {hl.dispatched} dispatched")
        if verbosity >= 1:
            self._report(summary)

    def _report(self, s: Summary) -> None:
        out = self.stdout.write
        out(self.style.SUCCESS(f"Demo built: scale {s.scale}, seed {s.seed}, in {s.seconds:.1f} s"))
        rows = [
            ("counties", s.counties),
            ("towns", s.towns),
            ("villages", s.villages),
            ("grids", s.grids),
            ("households", s.households),
            ("residents", s.residents),
            ("party members", s.party_members),
            ("household links", s.links),
            ("departments", s.departments),
            ("service points", s.service_points),
            ("grid-worker users", s.grid_worker_users),
        ]
        for label, value in rows:
            out(f"  {label:<18}{value:>12,}")
        out("")
        out(f"Demo logins (password {DEMO_PASSWORD}):")
        width = max(len(login.username) for login in s.logins) + 2
        for login in s.logins:
            out(f"  {login.username:<{width}}{login.display_name}\t{login.roles}")
