"""Build a demo county (or a province of them) full of invented, realistic people.

The output depends only on the scale and the seed: one `random.Random(seed)` drives every choice, ages
count from a fixed REFERENCE_DATE, and nothing iterates over a hash-ordered set. Database ids are not
part of the data (only the grid workers' usernames carry them).

Shape of the work: the sizes of every town, village and grid are planned first (a few thousand
integers), then the county is built town by town. A town's households, residents, party members and
links are composed in memory and written with bulk inserts in batches, so memory stays bounded by the
largest town however large the county. Every write goes through org.services / accounts.services or,
for the bulk rows those services have no bulk form for, through the small helpers below that fill the
same derived fields the services do (path copies).
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import itertools
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.db import transaction

from accounts.models import Role, RoleAssignment, User
from accounts.services import role_assign, user_create
from core.memo import bump
from core.validators import id_check_char
from demo import names
from org import services
from org.models import (
    Department,
    Gender,
    Household,
    HouseholdLink,
    Level,
    Node,
    NodeKind,
    PartyMember,
    Relation,
    Resident,
    ServicePoint,
)

REFERENCE_DATE = dt.date(2026, 11, 1)  # "today" for every age and date, so the output ignores the clock
DEMO_PASSWORD = "gongzhi-demo"  # noqa: S105 - published in the Makefile and README on purpose
BATCH_SIZE = 2000
DEMO_USERNAMES = ("admin", "leader", "dispatcher", "dept", "town", "village", "grid", "party", "volunteer", "resident")
SCALES = ("small", "county", "province")
# Demo logins that get into the admin site (is_staff); the other three are residents.
STAFF_DEMO_USERNAMES = frozenset(("admin", "leader", "dispatcher", "dept", "town", "village", "grid"))

Tag = Household.Tag


class DemoDataError(Exception):
    """The database is not in a state a demo can safely be added to."""


# --- sizes --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CountySpec:
    """Headline sizes of one county. Totals are exact; how they spread over the units varies by seed."""

    subdistricts: int  # 街道: urban, their children are 社区 communities with 小区 grids
    towns: int  # 镇
    townships: int  # 乡
    villages: int  # villages and communities of all towns together
    grids: int
    households: int
    spread: float = 0.35  # how unequal siblings are: each gets its share × (1 ± spread)

    @property
    def town_count(self) -> int:
        return self.subdistricts + self.towns + self.townships

    def shrunk(self, fraction: float) -> CountySpec:
        """The same county with fewer villages, grids and households (to try a scale quickly)."""
        if fraction >= 1:
            return self
        villages = max(self.town_count, round(self.villages * fraction))
        grids = max(villages, round(self.grids * fraction))
        households = max(3 * grids, round(self.households * fraction))
        return replace(self, villages=villages, grids=grids, households=households)


SMALL = CountySpec(subdistricts=1, towns=1, townships=1, villages=10, grids=36, households=480, spread=0.2)
# Macheng-like: 17 towns, ~200 villages, ~3,300 grids, ~114,000 households (~315,000 people registered
# as living there; the articles' 0.7–1.2 M include everyone working away).
COUNTY = CountySpec(subdistricts=3, towns=10, townships=4, villages=204, grids=3260, households=114_000)
PROVINCE_COUNTY = CountySpec(subdistricts=2, towns=9, townships=4, villages=180, grids=2800, households=96_000)


@dataclass(frozen=True)
class Place:
    name: str
    code: str  # administrative division code; a county's is also the region prefix of its ID numbers
    kind: str
    lat: float
    lng: float
    area_code: str = "0713"  # telephone area code


HOME_COUNTY = Place("共治市", "421181", NodeKind.COUNTY_CITY, 31.17, 115.02)
PROVINCE = Place("荆楚省", "420000", NodeKind.PROVINCE, 30.85, 114.55)
PROVINCE_CITIES: tuple[tuple[Place, tuple[Place, ...]], ...] = (
    (
        Place("江汉市", "421100", NodeKind.CITY, 31.05, 114.95),
        (
            HOME_COUNTY,
            Place("清河县", "421182", NodeKind.COUNTY, 30.82, 115.38),
            Place("安平县", "421183", NodeKind.COUNTY, 31.52, 114.78),
        ),
    ),
    (
        Place("东陵市", "421200", NodeKind.CITY, 30.25, 114.20, area_code="0715"),
        (
            Place("永丰县", "421281", NodeKind.COUNTY, 30.40, 113.92, area_code="0715"),
            Place("长宁县", "421282", NodeKind.COUNTY, 30.08, 114.48, area_code="0715"),
            Place("兴隆市", "421283", NodeKind.COUNTY_CITY, 29.88, 114.08, area_code="0715"),
        ),
    ),
)


# --- results ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoLogin:
    username: str
    display_name: str
    roles: str


@dataclass
class Summary:
    scale: str
    seed: int
    counties: int = 0
    towns: int = 0
    villages: int = 0
    grids: int = 0
    households: int = 0
    residents: int = 0
    party_members: int = 0
    links: int = 0
    departments: int = 0
    service_points: int = 0
    grid_worker_users: int = 0
    seconds: float = 0.0
    logins: list[DemoLogin] = field(default_factory=list)


def generate(*, scale: str, seed: int, fraction: float = 1.0, progress: Callable[[str], None] | None = None) -> Summary:
    """Build the demo in one transaction. The caller checks that the database holds no tree yet."""
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}")
    taken = sorted(User.objects.filter(username__in=DEMO_USERNAMES).values_list("username", flat=True))
    if taken:
        raise DemoDataError(f"users already exist with demo usernames: {', '.join(taken)}")
    started = time.perf_counter()
    builder = _Builder(scale=scale, seed=seed, progress=progress or (lambda _line: None))
    with transaction.atomic():
        if scale == "province":
            builder.province(PROVINCE_COUNTY.shrunk(fraction))
        else:
            spec = SMALL if scale == "small" else COUNTY
            county = services.node_create(
                parent=None,
                level=Level.COUNTY,
                kind=HOME_COUNTY.kind,
                name=HOME_COUNTY.name,
                code=HOME_COUNTY.code,
                lat=_dec(HOME_COUNTY.lat),
                lng=_dec(HOME_COUNTY.lng),
            )
            builder.county(county, HOME_COUNTY, spec.shrunk(fraction), demo=True, dept_prefix="")
    builder.summary.seconds = time.perf_counter() - started
    return builder.summary


# --- small pure helpers ---------------------------------------------------------------------------


def _dec(value: float) -> Decimal:
    return Decimal(f"{value:.6f}")


def _at(node: Node) -> tuple[float, float]:
    """Where a node made here is (every one has its coordinates)."""
    assert node.lat is not None and node.lng is not None
    return float(node.lat), float(node.lng)


def _near(rng: random.Random, lat: float, lng: float, rmin: float, rmax: float) -> tuple[float, float]:
    """A point rmin..rmax degrees (of latitude) away in a random direction."""
    angle = rng.uniform(0, 2 * math.pi)
    r = rng.uniform(rmin, rmax)
    return lat + r * math.cos(angle), lng + r * math.sin(angle) / math.cos(math.radians(lat))


def _split(rng: random.Random, total: int, weights: Sequence[float], *, spread: float, floor: int = 1) -> list[int]:
    """Share `total` among the parts by weight, each jittered by ±spread; the sum is exact."""
    n = len(weights)
    if total < floor * n:
        raise ValueError(f"cannot split {total} into {n} parts of at least {floor}")
    jittered = [w * (1 + rng.uniform(-spread, spread)) for w in weights]
    factor = total / sum(jittered)
    raw = [w * factor for w in jittered]
    out = [max(floor, int(r)) for r in raw]
    by_remainder = sorted(range(n), key=lambda i: raw[i] - out[i], reverse=True)
    for i in itertools.islice(itertools.cycle(by_remainder), max(0, total - sum(out))):
        out[i] += 1
    while sum(out) > total:  # floors pushed it over: take back from the largest parts
        out[max(range(n), key=out.__getitem__)] -= 1
    return out


def _age(birth: dt.date | None) -> int:
    assert birth is not None  # every resident made here has a birth date
    return REFERENCE_DATE.year - birth.year - ((REFERENCE_DATE.month, REFERENCE_DATE.day) < (birth.month, birth.day))


# Birth-date windows by age, as ordinals: someone aged a on REFERENCE_DATE was born in (ref - a - 1 y, ref - a y].
_BIRTH_WINDOWS: dict[int, tuple[int, int]] = {}


def _birth_date(rng: random.Random, age: int) -> dt.date:
    window = _BIRTH_WINDOWS.get(age)
    if window is None:
        ref = REFERENCE_DATE
        first = ref.replace(year=ref.year - age - 1).toordinal() + 1
        last = ref.replace(year=ref.year - age).toordinal()
        window = _BIRTH_WINDOWS[age] = (first, last - first)
    return dt.date.fromordinal(window[0] + int(rng.random() * (window[1] + 1)))


class _IdNumbers:
    """GB 11643 numbers for one county: region code, birth date, sequence (odd last digit for men), check.

    The two free sequence digits are random, probing past any already issued for that birth date and
    gender, so the numbers are unique by construction and do not all end alike.
    """

    def __init__(self, region: str) -> None:
        self.region = region
        self.issued: dict[tuple[int, bool], int] = {}  # bit n set: sequence n taken

    def issue(self, rng: random.Random, birth: dt.date, male: bool) -> str:
        key = (birth.toordinal(), male)
        taken = self.issued.get(key, 0)
        if taken == (1 << 100) - 1:
            raise DemoDataError(f"more than 100 people of one gender born on {birth} in one county")
        seq = int(rng.random() * 100)
        while taken >> seq & 1:
            seq = (seq + 1) % 100
        self.issued[key] = taken | 1 << seq
        digit = "13579"[int(rng.random() * 5)] if male else "02468"[int(rng.random() * 5)]
        body = f"{self.region}{birth.year:04d}{birth.month:02d}{birth.day:02d}{seq:02d}{digit}"
        return body + id_check_char(body)


# --- household composition ------------------------------------------------------------------------

# A member before it becomes a Resident: relation, is male, age, surname.
Member = tuple[str, bool, int, str]

# Kinds of household and how common they are in a village and in a town community. Villages are old:
# couples whose children work away, grandparents raising grandchildren; communities are young families.
_TEMPLATES = (
    "alone_old",
    "alone",
    "old_couple",
    "left_behind",
    "young_family",
    "mid_family",
    "mid_couple",
    "three_generations",
    "with_parent",
)
_VILLAGE_WEIGHTS = (4.4, 4.0, 31.0, 3.2, 9.0, 18.0, 9.0, 12.0, 9.4)
_URBAN_WEIGHTS = (2.5, 10.0, 14.0, 1.0, 30.0, 22.0, 7.0, 9.0, 4.5)
_VILLAGE_CUM = tuple(itertools.accumulate(_VILLAGE_WEIGHTS))
_URBAN_CUM = tuple(itertools.accumulate(_URBAN_WEIGHTS))

# Independent tags and their rates (elderly_alone and left_behind follow from the household's kind).
_RANDOM_TAGS = ((Tag.DISABLED, 0.02), (Tag.LOW_INCOME, 0.03), (Tag.MILITARY, 0.01), (Tag.SERIOUSLY_ILL, 0.01))

PARTY_CENTER_HOURS = "周一至周五 8:30-12:00 14:30-17:30"
RED_STATION_HOURS = "每天 8:00-20:00"
GOV_HUT_HOURS = "周一至周六 9:00-12:00 14:30-17:00"


def _pick_template(rng: random.Random, urban: bool) -> str:
    cum = _URBAN_CUM if urban else _VILLAGE_CUM
    return _TEMPLATES[bisect.bisect_right(cum, rng.random() * cum[-1])]


def _tri(rng: random.Random, low: int, high: int, mode: int) -> int:
    return round(rng.triangular(low, high, mode))


def _children(rng: random.Random, count: int, mother_age: int, family: str, *, gap: tuple[int, int]) -> list[Member]:
    """Children born when their mother was gap[0]..gap[1]; an impossible age drops the child."""
    kids: list[Member] = []
    for _ in range(count):
        age = mother_age - rng.randint(*gap)
        if age >= 0:
            kids.append((Relation.CHILD, rng.random() < 0.52, age, family))
    return kids


def _couple(rng: random.Random, head_age: int, family: str, *, min_wife: int = 20) -> list[Member]:
    wife = max(min_wife, head_age - _tri(rng, -2, 7, 2))
    return [(Relation.HEAD, True, head_age, family), (Relation.SPOUSE, False, wife, names.surname(rng))]


def _compose(rng: random.Random, template: str, family: str, urban: bool, clan: str | None) -> list[Member]:
    """The members of one household, head first, with ages that fit their relations."""
    if template == "alone_old":
        return [(Relation.HEAD, rng.random() < 0.4, 70 + _tri(rng, 0, 22, 6), family)]
    if template == "alone":
        age = rng.randint(22, 45) if urban else rng.randint(35, 69)
        return [(Relation.HEAD, rng.random() < (0.55 if urban else 0.7), age, family)]
    if template == "old_couple":
        return _couple(rng, _tri(rng, 58, 86, 68), family, min_wife=52)
    if template == "left_behind":
        head_age = rng.randint(55, 76)
        if rng.random() < 0.7:
            members = _couple(rng, head_age, family, min_wife=50)
            kin = family
        else:  # a grandmother alone with the children of her late husband's line
            members = [(Relation.HEAD, False, head_age, family)]
            kin = clan or names.surname(rng)
        kids = rng.choice((1, 1, 2))
        return members + [(Relation.GRANDCHILD, rng.random() < 0.52, rng.randint(3, 15), kin) for _ in range(kids)]
    if template == "young_family":
        members = _couple(rng, rng.randint(26, 40), family)
        count = rng.choice((0, 1, 1, 2)) if urban else rng.choice((0, 1, 2, 2))
        return members + _children(rng, count, members[1][2], family, gap=(22, 32))
    if template == "mid_family":
        members = _couple(rng, rng.randint(40, 58), family)
        return members + _children(rng, rng.choice((1, 1, 2)), members[1][2], family, gap=(21, 34))
    if template == "mid_couple":
        return _couple(rng, rng.randint(45, 62), family)
    if template == "three_generations":
        members = _couple(rng, rng.randint(32, 55), family)
        members += _children(rng, rng.choice((1, 1, 2)), members[1][2], family, gap=(22, 32))
        return members + _parents(rng, members[0][2], family, rng.choice(("both", "both", "mother", "father")))
    if template == "with_parent":
        members = _couple(rng, rng.randint(45, 62), family)
        return members + _parents(rng, members[0][2], family, "mother" if rng.random() < 0.65 else "father")
    raise AssertionError(template)


def _parents(rng: random.Random, head_age: int, family: str, which: str) -> list[Member]:
    """The head's father (same surname) and/or mother, about 24–32 years older; few live past 95."""
    out: list[Member] = []
    father = head_age + rng.randint(24, 32)
    mother = father - _tri(rng, -2, 7, 2)
    if which in ("both", "father") and father <= 96:
        out.append((Relation.PARENT, True, father, family))
    if which in ("both", "mother") and mother <= 98:
        out.append((Relation.PARENT, False, mother, names.surname(rng)))
    return out


# --- plans --------------------------------------------------------------------------------------


@dataclass
class GridPlan:
    name: str
    households: int
    clan: str | None  # the lineage most households of a village group belong to; none in town estates
    lat: float
    lng: float


@dataclass
class VillagePlan:
    name: str
    kind: str
    lat: float
    lng: float
    grids: list[GridPlan] = field(default_factory=list)

    @property
    def urban(self) -> bool:
        return self.kind == NodeKind.COMMUNITY


@dataclass
class TownPlan:
    name: str
    kind: str
    code: str
    lat: float
    lng: float
    villages: list[VillagePlan] = field(default_factory=list)


# --- the in-memory village before it is written ---------------------------------------------------


@dataclass
class _VillageDraft:
    node: Node
    plan: VillagePlan
    grids: list[Node]
    households: list[Household] = field(default_factory=list)
    members: list[list[Resident]] = field(default_factory=list)  # per household, head first
    grid_of: list[int] = field(default_factory=list)  # per household, index into grids
    party: list[PartyMember] = field(default_factory=list)
    links: list[HouseholdLink] = field(default_factory=list)


@dataclass
class _CountyContext:
    node: Node
    place: Place
    ids: _IdNumbers
    civil_affairs: Department | None = None


# --- bulk helpers for rows whose services write one at a time -------------------------------------


def _party_members_bulk_create(rows: Sequence[PartyMember]) -> None:
    """Like services.party_member_create: the member carries their resident's path."""
    for m in rows:
        m.path = m.resident.path
    PartyMember.objects.bulk_create(rows, batch_size=BATCH_SIZE)


def _household_links_bulk_create(rows: Sequence[HouseholdLink]) -> None:
    """Like services.household_link for households that have no link yet (each is linked once here)."""
    HouseholdLink.objects.bulk_create(rows, batch_size=BATCH_SIZE)
    bump("org")


def _grid_workers_bulk_create(rows: Sequence[tuple[User, Node]]) -> None:
    """Like accounts.services.user_create(password=None) + role_assign, without a query per user."""
    users = [u for u, _ in rows]
    for u in users:
        u.set_unusable_password()
    User.objects.bulk_create(users, batch_size=BATCH_SIZE)
    RoleAssignment.objects.bulk_create(
        [RoleAssignment(user=u, role=Role.GRID_WORKER, node=g) for u, g in rows], batch_size=BATCH_SIZE
    )
    bump("org")


# --- the builder ------------------------------------------------------------------------------------


class _Builder:
    def __init__(self, *, scale: str, seed: int, progress: Callable[[str], None]) -> None:
        self.rng = random.Random(seed)
        self.summary = Summary(scale=scale, seed=seed)
        self.progress = progress
        self.started = time.perf_counter()

    # -- tree above the county --------------------------------------------------------------------
    def province(self, spec: CountySpec) -> None:
        p = PROVINCE
        root = services.node_create(
            parent=None, level=Level.PROVINCE, kind=p.kind, name=p.name, code=p.code, lat=_dec(p.lat), lng=_dec(p.lng)
        )
        cities = services.nodes_bulk_create(
            parent=root,
            items=[self._node_item(c, sort=i) for i, (c, _) in enumerate(PROVINCE_CITIES, start=1)],
        )
        first = True
        for city, (_, places) in zip(cities, PROVINCE_CITIES, strict=True):
            counties = services.nodes_bulk_create(
                parent=city, items=[self._node_item(c, sort=i) for i, c in enumerate(places, start=1)]
            )
            for county, place in zip(counties, places, strict=True):
                # Department codes are unique across the database, so a province prefixes them.
                self.county(county, place, spec, demo=first, dept_prefix=f"{place.code}-")
                first = False

    @staticmethod
    def _node_item(place: Place, *, sort: int) -> dict:
        return {
            "kind": place.kind,
            "name": place.name,
            "code": place.code,
            "lat": _dec(place.lat),
            "lng": _dec(place.lng),
            "sort": sort,
        }

    # -- one county -------------------------------------------------------------------------------
    def county(self, county: Node, place: Place, spec: CountySpec, *, demo: bool, dept_prefix: str) -> None:
        ctx = _CountyContext(node=county, place=place, ids=_IdNumbers(place.code))
        plans = self._plan_county(place, spec)
        towns = services.nodes_bulk_create(
            parent=county,
            items=[
                {"kind": t.kind, "name": t.name, "code": t.code, "lat": _dec(t.lat), "lng": _dec(t.lng), "sort": i}
                for i, t in enumerate(plans, start=1)
            ],
        )
        self.summary.counties += 1
        self.summary.towns += len(towns)
        self._departments(ctx, towns, dept_prefix)
        demo_town = next((t for t in towns if t.kind == NodeKind.TOWN), towns[0]) if demo else None
        for town, plan in zip(towns, plans, strict=True):
            self._town(ctx, town, plan, demo=town is demo_town)
            self.progress(
                f"  {place.name}{town.name}: {len(plan.villages)} villages, "
                f"{sum(len(v.grids) for v in plan.villages)} grids, "
                f"{sum(g.households for v in plan.villages for g in v.grids)} households, "
                f"{time.perf_counter() - self.started:.1f} s"
            )

    def _plan_county(self, place: Place, spec: CountySpec) -> list[TownPlan]:
        """Names, places and sizes of every unit, decided before anything is written."""
        rng = self.rng
        kinds = (
            [NodeKind.SUBDISTRICT] * spec.subdistricts
            + [NodeKind.TOWN] * spec.towns
            + [NodeKind.TOWNSHIP] * spec.townships
        )
        town_names: set[str] = set()
        village_names: set[str] = set()
        towns: list[TownPlan] = []
        rural_total = spec.towns + spec.townships
        for i, kind in enumerate(kinds):
            if kind == NodeKind.SUBDISTRICT:
                base = names.unique(rng, lambda r: r.choice(names.SUBDISTRICT_BASES), town_names)
                name, number = f"{base}街道", i + 1  # division codes: 街道 0xx, 镇 1xx, 乡 2xx
                lat, lng = _near(rng, place.lat, place.lng, 0.01, 0.04)
            else:
                base = names.unique(rng, lambda r: r.choice(names.TOWN_BASES), town_names)
                k = i - spec.subdistricts
                name = f"{base}{'镇' if kind == NodeKind.TOWN else '乡'}"
                number = 100 + k + 1 if kind == NodeKind.TOWN else 200 + k - spec.towns + 1
                # Rural towns round the county seat, each in its own sector.
                angle = 2 * math.pi * (k + rng.uniform(-0.3, 0.3)) / max(1, rural_total)
                radius = rng.uniform(0.1, 0.32)
                lat = place.lat + radius * math.cos(angle)
                lng = place.lng + radius * math.sin(angle) / math.cos(math.radians(place.lat))
            towns.append(TownPlan(name=name, kind=kind, code=f"{place.code}{number:03d}", lat=lat, lng=lng))

        village_counts = _split(rng, spec.villages, [1.0] * len(towns), spread=spec.spread)
        for town, count in zip(towns, village_counts, strict=True):
            urban = town.kind == NodeKind.SUBDISTRICT
            for _ in range(count):
                make = names.community_name if urban else names.village_name
                vname = names.unique(rng, make, village_names)
                rmin, rmax = (0.004, 0.02) if urban else (0.01, 0.07)
                vlat, vlng = _near(rng, town.lat, town.lng, rmin, rmax)
                kind = NodeKind.COMMUNITY if urban else NodeKind.VILLAGE
                town.villages.append(VillagePlan(name=vname, kind=kind, lat=vlat, lng=vlng))

        villages = [v for t in towns for v in t.villages]
        grid_counts = _split(rng, spec.grids, [1.0] * len(villages), spread=spec.spread)
        for village, count in zip(villages, grid_counts, strict=True):
            self._plan_grids(village, count)
        grids = [g for v in villages for g in v.grids]
        # Town estates hold more households than a hamlet.
        weights = [1.6 if g.clan is None else 1.0 for g in grids]
        for grid, count in zip(grids, _split(rng, spec.households, weights, spread=spec.spread, floor=3), strict=True):
            grid.households = count
        return towns

    def _plan_grids(self, village: VillagePlan, count: int) -> None:
        rng = self.rng
        taken: set[str] = set()
        clans = self._village_clans(village.name)
        by_hamlet = not village.urban and rng.random() < 0.5  # else numbered groups: 一组, 二组, …
        for n in range(1, count + 1):
            clan: str | None = None
            if village.urban:
                name = names.unique(rng, names.estate_name, taken)
            else:
                group_clan = clans[int(rng.random() * len(clans))]
                clan = group_clan
                if by_hamlet:
                    name = names.unique(rng, functools.partial(names.clan_group_name, clan=group_clan), taken)
                else:
                    name = names.ordinal_group_name(n)
            radius = (0.001, 0.004) if village.urban else (0.002, 0.01)
            lat, lng = _near(rng, village.lat, village.lng, *radius)
            village.grids.append(GridPlan(name=name, households=0, clan=clan, lat=lat, lng=lng))

    def _village_clans(self, village_name: str) -> list[str]:
        """The two to four lineages of a village; 张家畈村 is first of all the 张 family's."""
        clans = [names.surname(self.rng) for _ in range(self.rng.randint(2, 4))]
        if len(village_name) > 2 and village_name[1] == "家":
            clans.insert(0, village_name[0])
        return clans

    # -- departments ------------------------------------------------------------------------------
    def _departments(self, ctx: _CountyContext, towns: Sequence[Node], prefix: str) -> None:
        rng, county = self.rng, ctx.node
        for i, base in enumerate(names.COUNTY_DEPARTMENTS, start=1):
            dept = services.department_create(
                name=f"{county.name}{base}",
                code=f"{prefix}D{i:02d}",
                level=Department.DeptLevel.COUNTY,
                jurisdiction=county,
                phone=names.landline(rng, ctx.place.area_code),
            )
            if base == "民政局":
                ctx.civil_affairs = dept
        for town in towns:
            services.department_create(
                name=f"{town.name}便民服务中心",
                code=f"T{town.code}",
                level=Department.DeptLevel.TOWN,
                jurisdiction=town,
                phone=names.landline(rng, ctx.place.area_code),
            )
        self.summary.departments += len(names.COUNTY_DEPARTMENTS) + len(towns)

    # -- one town -----------------------------------------------------------------------------------
    def _town(self, ctx: _CountyContext, town: Node, plan: TownPlan, *, demo: bool) -> None:
        villages = services.nodes_bulk_create(
            parent=town,
            items=[
                {
                    "kind": v.kind,
                    "name": v.name,
                    "code": f"{town.code}{i if v.urban else 200 + i:03d}",  # 社区 0xx, 村 2xx
                    "lat": _dec(v.lat),
                    "lng": _dec(v.lng),
                    "sort": i,
                }
                for i, v in enumerate(plan.villages, start=1)
            ],
        )
        drafts: list[_VillageDraft] = []
        for village, vplan in zip(villages, plan.villages, strict=True):
            grids = services.nodes_bulk_create(
                parent=village,
                items=[
                    {
                        "kind": NodeKind.RESIDENTIAL_AREA if vplan.urban else NodeKind.VILLAGER_GROUP,
                        "name": g.name,
                        "code": f"{village.code}{i:03d}",
                        "lat": _dec(g.lat),
                        "lng": _dec(g.lng),
                        "sort": i,
                    }
                    for i, g in enumerate(vplan.grids, start=1)
                ],
            )
            draft = _VillageDraft(node=village, plan=vplan, grids=grids)
            is_demo_village = demo and not drafts
            self._people(ctx, draft, demo=is_demo_village)
            self._party(draft, demo=is_demo_village)
            drafts.append(draft)
        if demo:
            self._demo_logins(ctx, town, drafts[0])

        services.households_bulk_create([h for d in drafts for h in d.households])
        services.residents_bulk_create([r for d in drafts for hh in d.members for r in hh])
        _party_members_bulk_create([m for d in drafts for m in d.party])
        _household_links_bulk_create([link for d in drafts for link in d.links])
        self._service_points(ctx, town, drafts)
        self._grid_workers([g for d in drafts for g in d.grids], skip=drafts[0].grids[0] if demo else None)

        s = self.summary
        s.villages += len(drafts)
        s.grids += sum(len(d.grids) for d in drafts)
        s.households += sum(len(d.households) for d in drafts)
        s.residents += sum(len(m) for d in drafts for m in d.members)
        s.party_members += sum(len(d.party) for d in drafts)
        s.links += sum(len(d.links) for d in drafts)

    # -- people -------------------------------------------------------------------------------------
    def _people(self, ctx: _CountyContext, draft: _VillageDraft, *, demo: bool) -> None:
        """Households and residents of a village, in memory. The demo village's first grid begins with
        an elderly person living alone and a family whose head becomes the demo party member."""
        for gi, (grid, gplan) in enumerate(zip(draft.grids, draft.plan.grids, strict=True)):
            forced = ("demo_elderly", "demo_party") if demo and gi == 0 else ()
            number = 0
            for k in range(gplan.households):
                template = forced[k] if k < len(forced) else _pick_template(self.rng, draft.plan.urban)
                number, house_no = self._house_number(k, number, draft.plan.urban)
                household, members = self._household(ctx, grid, gplan, template, house_no, draft.plan.urban)
                draft.households.append(household)
                draft.members.append(members)
                draft.grid_of.append(gi)

    def _house_number(self, k: int, last: int, urban: bool) -> tuple[int, str]:
        if urban:  # 24 flats a building: two units, six floors, two doors
            building, flat = divmod(k, 24)
            unit, rest = divmod(flat, 12)
            floor, door = divmod(rest, 2)
            return last, f"{building + 1}栋{unit + 1}单元{floor + 1}0{door + 1}室"
        number = last + (1 if self.rng.random() < 0.75 else self.rng.randint(2, 3))  # gaps: houses gone
        return number, f"{number}号"

    def _household(
        self, ctx: _CountyContext, grid: Node, gplan: GridPlan, template: str, house_no: str, urban: bool
    ) -> tuple[Household, list[Resident]]:
        rng = self.rng
        clan = gplan.clan
        family = clan if clan is not None and rng.random() < 0.5 else names.surname(rng)
        if template == "demo_elderly":
            spec: list[Member] = [(Relation.HEAD, False, rng.randint(72, 84), family)]
            template = "alone_old"
        elif template == "demo_party":
            spec = _couple(rng, rng.randint(45, 56), family)
            spec += _children(rng, 1, spec[1][2], family, gap=(22, 28))
        else:
            spec = _compose(rng, template, family, urban, clan)
        tags = []
        if template == "alone_old":
            tags.append(Tag.ELDERLY_ALONE)
        elif template == "left_behind":
            tags.append(Tag.LEFT_BEHIND)
        tags += [tag for tag, rate in _RANDOM_TAGS if rng.random() < rate]
        village = grid.parent
        assert village is not None  # a grid is in a village
        household = Household(grid=grid, number=house_no, address=f"{village.name}{grid.name}{house_no}", tags=tags)
        seen: set[str] = set()
        members = [self._resident(ctx, household, m, seen) for m in spec]
        return household, members

    def _resident(self, ctx: _CountyContext, household: Household, member: Member, seen: set[str]) -> Resident:
        rng = self.rng
        relation, male, age, family = member
        birth = _birth_date(rng, age)
        for _ in range(4):  # two children called 子轩 in one house would confuse everyone
            name = family + names.given_name(rng, male=male, birth_year=birth.year)
            if name not in seen:
                break
        seen.add(name)
        if age >= 18:
            phone = names.mobile(rng) if rng.random() < 0.85 else ""
        elif age >= 15:
            phone = names.mobile(rng) if rng.random() < 0.4 else ""
        else:
            phone = ""
        return Resident(
            household=household,
            name=name,
            gender=Gender.MALE if male else Gender.FEMALE,
            birth_date=birth,
            relation=relation,
            phone=phone,
            id_number=ctx.ids.issue(rng, birth, male),
        )

    # -- party members and household links ----------------------------------------------------------
    def _party(self, draft: _VillageDraft, *, demo: bool) -> None:
        """~3% of people aged 25–75 are members; centre-household members each look after ~10
        households of their village (一联十户), nearest first and vulnerable ones before others,
        until ~10% of the village's households are linked."""
        rng = self.rng
        candidates = [
            (hi, r) for hi, members in enumerate(draft.members) for r in members if 25 <= _age(r.birth_date) <= 75
        ]
        # Rural party membership is mostly male.
        chosen = [(hi, r) for hi, r in candidates if rng.random() < (0.04 if r.gender == Gender.MALE else 0.02)]
        if demo:  # the head of the second household of the first grid is the demo party member
            forced = draft.members[1][0]
            chosen = [(1, forced)] + [c for c in chosen if c[1] is not forced]
        elif not chosen and candidates:
            chosen = [rng.choice(candidates)]  # every village has a party branch
        draft.party = [self._party_member(draft.node, r) for _, r in chosen]
        if not chosen:
            return
        target = round(0.1 * len(draft.households))
        count = min(len(chosen), max(1, round(target / 10))) if target else int(demo)
        rest = range(1, len(chosen)) if demo else range(len(chosen))
        order = ([0] if demo else []) + rng.sample(rest, len(rest))  # the demo member links first
        quotas = _split(rng, target, [1.0] * count, spread=0.2, floor=0) if count and target else [0] * count
        if demo:
            quotas[0] = max(quotas[0], 10)
        linked: set[int] = set()
        for position, (i, quota) in enumerate(zip(order[:count], quotas, strict=True)):
            member = draft.party[i]
            member.is_center_household = True
            must = [0] if demo and position == 0 else []  # the demo elderly household
            for hi in must + self._nearby(draft, chosen[i][0], linked | set(must), quota - len(must)):
                linked.add(hi)
                since = REFERENCE_DATE - dt.timedelta(days=rng.randint(30, 4 * 365))
                draft.links.append(HouseholdLink(member=member, household=draft.households[hi], since=since))

    def _party_member(self, branch: Node, resident: Resident) -> PartyMember:
        rng = self.rng
        birth = resident.birth_date
        assert birth is not None  # every resident made here has a birth date
        age = _age(birth)
        joined_at_age = rng.randint(20, max(20, min(age - 1, 50)))
        joined = dt.date.fromordinal(birth.toordinal() + int(joined_at_age * 365.25) + rng.randint(0, 300))
        return PartyMember(resident=resident, branch=branch, joined_on=min(joined, REFERENCE_DATE - dt.timedelta(30)))

    def _nearby(self, draft: _VillageDraft, own: int, taken: set[int], count: int) -> list[int]:
        """Up to `count` unlinked households: the member's own grid first, tagged ones first within each."""
        if count <= 0:
            return []
        rng = self.rng
        own_grid = draft.grid_of[own]
        free = [i for i in range(len(draft.households)) if i != own and i not in taken]
        rng.shuffle(free)
        free.sort(key=lambda i: (draft.grid_of[i] != own_grid, not draft.households[i].tags))
        return free[:count]

    # -- service points -----------------------------------------------------------------------------
    def _service_points(self, ctx: _CountyContext, town: Node, drafts: Sequence[_VillageDraft]) -> None:
        rng = self.rng
        phone_area = ctx.place.area_code
        lat, lng = _near(rng, *_at(town), 0.0002, 0.001)
        street = rng.choice(("人民路", "解放路", "建设路", "中心街", "新华路"))
        services.service_point_create(
            node=town,
            name=f"{town.name}党群服务中心",
            kind=ServicePoint.Kind.PARTY_MASSES_CENTER,
            address=f"{town.name}{street}{rng.randint(1, 120)}号",
            phone=names.landline(rng, phone_area),
            opening_hours=PARTY_CENTER_HOURS,
            services=names.pick_some(rng, names.PARTY_CENTER_SERVICES, 5, 8),
            lat=_dec(lat),
            lng=_dec(lng),
        )
        count = 1
        for d in drafts:
            village = d.node
            committee = "居民委员会" if d.plan.urban else "村民委员会"
            lat, lng = _near(rng, *_at(village), 0.0002, 0.001)
            services.service_point_create(
                node=village,
                name=f"{village.name}党群服务中心",
                kind=ServicePoint.Kind.PARTY_MASSES_CENTER,
                address=f"{town.name}{village.name}{committee}",
                phone=names.landline(rng, phone_area),
                opening_hours=PARTY_CENTER_HOURS,
                services=names.pick_some(rng, names.PARTY_CENTER_SERVICES, 4, 7),
                lat=_dec(lat),
                lng=_dec(lng),
            )
            count += 1
            if rng.random() < 0.4:
                red = rng.random() < 0.5
                grid = rng.choice(d.grids)
                lat, lng = _near(rng, *_at(grid), 0.0002, 0.001)
                services.service_point_create(
                    node=village,
                    name=f"{village.name}{'红色驿站' if red else '政务小屋'}",
                    kind=ServicePoint.Kind.RED_STATION if red else ServicePoint.Kind.GOV_HUT,
                    address=f"{village.name}{grid.name}{rng.randint(1, 40)}号",
                    phone=names.landline(rng, phone_area),
                    opening_hours=RED_STATION_HOURS if red else GOV_HUT_HOURS,
                    services=names.pick_some(rng, names.RED_STATION_SERVICES if red else names.GOV_HUT_SERVICES, 3, 5),
                    lat=_dec(lat),
                    lng=_dec(lng),
                )
                count += 1
        self.summary.service_points += count

    # -- users --------------------------------------------------------------------------------------
    def _staff_name(self) -> str:
        rng = self.rng
        return names.surname(rng) + names.given_name(rng, male=rng.random() < 0.5, birth_year=rng.randint(1968, 1998))

    def _grid_workers(self, grids: Sequence[Node], *, skip: Node | None) -> None:
        rows = [
            (User(username=f"gw{g.pk}", display_name=self._staff_name(), work_phone=names.mobile(self.rng)), g)
            for g in grids
            if g is not skip
        ]
        _grid_workers_bulk_create(rows)
        self.summary.grid_worker_users += len(rows)

    def _demo_logins(self, ctx: _CountyContext, town: Node, draft: _VillageDraft) -> None:
        """The ten published logins, placed so that each sees something on the first screen."""
        rng = self.rng
        county, village, grid = ctx.node, draft.node, draft.grids[0]
        civil_affairs = ctx.civil_affairs
        assert civil_affairs is not None, "departments are created before the towns"
        elderly = draft.members[0][0]
        party = draft.members[1][0]
        volunteer = self._volunteer(draft, exclude={id(elderly), id(party)})
        # The demo party member is the linked households' contact: the resident home shows a call button.
        party.phone = party.phone or names.mobile(rng)
        # One argon2 hash for all ten: hashing costs ~0.3 s each here, and the password is public anyway.
        password = make_password(DEMO_PASSWORD)

        def login(username: str, display_name: str, *, work_phone: str = "", superuser: bool = False) -> User:
            user = user_create(
                username=username,
                password=None,
                display_name=display_name,
                work_phone=work_phone,
                is_staff=username in STAFF_DEMO_USERNAMES,
                is_superuser=superuser,
            )
            user.password = password
            user.save(update_fields=["password"])
            return user

        plan: list[tuple[User, list[tuple[str, Node | Department]]]] = [
            (login("admin", "系统管理员", superuser=True), [(Role.ADMIN, county)]),
            (login("leader", self._staff_name(), work_phone=names.mobile(rng)), [(Role.LEADER, county)]),
            (login("dispatcher", self._staff_name(), work_phone=names.mobile(rng)), [(Role.DISPATCHER, county)]),
            (login("dept", self._staff_name(), work_phone=names.mobile(rng)), [(Role.DEPT_STAFF, civil_affairs)]),
            (login("town", self._staff_name(), work_phone=names.mobile(rng)), [(Role.TOWN_STAFF, town)]),
            (login("village", self._staff_name(), work_phone=names.mobile(rng)), [(Role.VILLAGE_STAFF, village)]),
            (login("grid", self._staff_name(), work_phone=names.mobile(rng)), [(Role.GRID_WORKER, grid)]),
            (login("party", party.name, work_phone=party.phone), [(Role.PARTY_MEMBER, village)]),
            (login("volunteer", volunteer.name), [(Role.VOLUNTEER, village)]),
            (login("resident", elderly.name), [(Role.RESIDENT, grid)]),
        ]
        users = {u.username: u for u, _ in plan}
        # The residents are written after this, with their logins already attached.
        elderly.user, party.user, volunteer.user = users["resident"], users["party"], users["volunteer"]
        for user, roles in plan:
            for role, scope in roles:
                if isinstance(scope, Department):
                    role_assign(user=user, role=role, department=scope)
                else:
                    role_assign(user=user, role=role, node=scope)
            described = "; ".join(f"{role} @ {scope.name}" for role, scope in roles)
            if user.is_superuser:
                described += "; superuser"
            self.summary.logins.append(DemoLogin(user.username, user.display_name, described))

    def _volunteer(self, draft: _VillageDraft, *, exclude: set[int]) -> Resident:
        """A working-age villager with a phone, preferably not from the two demo households."""
        pool = [
            r
            for members in draft.members[2:]
            for r in members
            if 18 <= _age(r.birth_date) <= 60 and r.phone and id(r) not in exclude
        ]
        if pool:
            return self.rng.choice(pool)
        # The demo party household always has a spouse of working age.
        return next(r for r in draft.members[1] if id(r) not in exclude)
