"""manage.py seed_demo: sizes, determinism, valid personal numbers, consistent tree copies, demo logins."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import random
import re
from collections import Counter

import pytest
from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import transaction
from django.db.models import Count, F, Q
from django.test import RequestFactory

from accounts.models import Role, RoleAssignment, User
from core.validators import is_valid_id_number, validate_phone
from demo import names
from demo.county import DEMO_PASSWORD, DEMO_USERNAMES, REFERENCE_DATE, _split
from org.models import (
    Department,
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

# A demo county is built through the services: seconds each. `make test-fast` leaves these out.
pytestmark = pytest.mark.slow


def _seed(**options) -> str:
    out = io.StringIO()
    # Work orders are played through the services and tested in demo/tests/test_workorders.py.
    call_command("seed_demo", stdout=out, **{"scale": "small", "seed": 1, "orders": 0, **options})
    return out.getvalue()


def _age(birth: dt.date) -> int:
    ref = REFERENCE_DATE
    return ref.year - birth.year - ((ref.month, ref.day) < (birth.month, birth.day))


def _fingerprint() -> str:
    """A digest of everything the generator writes, without database ids (they differ run to run)."""
    gw = re.compile(r"^gw\d+$")
    parts = [
        Node.objects.values_list("code", "level", "kind", "name", "lat", "lng", "sort", "parent__code"),
        Household.objects.values_list("grid__code", "number", "address", "tags"),
        Resident.objects.values_list(
            "household__address", "name", "gender", "birth_date", "relation", "phone", "id_number", "user__username"
        ),
        PartyMember.objects.values_list("resident__id_number", "branch__code", "is_center_household", "joined_on"),
        HouseholdLink.objects.values_list("member__resident__id_number", "household__address", "since"),
        Department.objects.values_list("code", "name", "level", "jurisdiction__code", "phone"),
        ServicePoint.objects.values_list(
            "node__code", "name", "kind", "address", "lat", "lng", "phone", "opening_hours", "services"
        ),
        [
            (gw.sub("gw", username), *rest)
            for username, *rest in RoleAssignment.objects.values_list(
                "user__username",
                "user__display_name",
                "user__work_phone",
                "user__is_staff",
                "user__is_superuser",
                "role",
                "node__code",
                "department__code",
            )
        ],
    ]
    lines = sorted(repr(tuple(row)) for part in parts for row in part)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _fingerprint_of(seed: int) -> str:
    """Seed, digest, then roll the savepoint back so the next run starts from an empty database."""
    with transaction.atomic():
        _seed(seed=seed)
        digest = _fingerprint()
        transaction.set_rollback(True)
    assert not Node.objects.exists()
    return digest


@pytest.mark.django_db
def test_small_scale_sizes():
    output = _seed()
    assert "Demo built" in output
    assert DEMO_PASSWORD in output
    roots = Node.objects.filter(parent__isnull=True)
    assert [(r.level, r.kind, r.code) for r in roots] == [(Level.COUNTY, NodeKind.COUNTY_CITY, "421181")]
    towns = Node.objects.filter(level=Level.TOWN)
    assert sorted(towns.values_list("kind", flat=True)) == ["subdistrict", "town", "township"]
    assert 9 <= Node.objects.filter(level=Level.VILLAGE).count() <= 12
    assert 27 <= Node.objects.filter(level=Level.GRID).count() <= 48
    assert 400 <= Household.objects.count() <= 600
    assert 1000 <= Resident.objects.count() <= 1700
    # A 街道 holds communities of estates; a 镇 or 乡 villages of villager groups.
    for town in towns:
        urban = town.kind == NodeKind.SUBDISTRICT
        villages = Node.objects.filter(parent=town)
        assert set(villages.values_list("kind", flat=True)) == {"community" if urban else "village"}
        grid_kinds = set(Node.objects.filter(parent__in=villages).values_list("kind", flat=True))
        assert grid_kinds == {"residential_area" if urban else "villager_group"}
    assert Department.objects.filter(level="county", jurisdiction__level=Level.COUNTY).count() == 25
    assert Department.objects.filter(level="town").count() == 3
    # A party-and-masses centre at every town and village, and a few stations and huts.
    kinds = Counter(ServicePoint.objects.values_list("kind", flat=True))
    assert kinds["party_center"] == towns.count() + Node.objects.filter(level=Level.VILLAGE).count()


@pytest.mark.django_db
def test_same_seed_same_data_other_seed_other_data():
    first = _fingerprint_of(7)
    assert _fingerprint_of(7) == first
    assert _fingerprint_of(8) != first


@pytest.mark.django_db
def test_id_numbers_are_valid_unique_and_describe_the_person():
    _seed()
    rows = list(Resident.objects.values_list("id_number", "gender", "birth_date"))
    numbers = [n for n, _, _ in rows]
    assert len(set(numbers)) == len(numbers)
    for number, gender, birth in rows:
        assert is_valid_id_number(number), number
        assert number == number.upper()
        assert number[:6] == "421181"
        assert number[6:14] == birth.strftime("%Y%m%d")
        assert int(number[16]) % 2 == (1 if gender == "M" else 0)


@pytest.mark.django_db
def test_phones_are_valid_and_mostly_held_by_adults():
    _seed()
    adults = with_phone = 0
    for phone, tail, birth in Resident.objects.values_list("phone", "phone_tail", "birth_date"):
        if phone:
            validate_phone(phone)
            assert re.fullmatch(r"1[3-9]\d{9}", phone)
            assert tail == phone[-4:]
        else:
            assert tail == ""
        age = _age(birth)
        if age < 15:
            assert phone == ""
        if age >= 18:
            adults += 1
            with_phone += bool(phone)
    assert 0.75 <= with_phone / adults <= 0.95
    for phone in [
        *Department.objects.values_list("phone", flat=True),
        *ServicePoint.objects.values_list("phone", flat=True),
    ]:
        validate_phone(phone)
        assert re.fullmatch(r"0713-2\d{6}", phone)
    for phone in User.objects.exclude(work_phone="").values_list("work_phone", flat=True):
        validate_phone(phone)


@pytest.mark.django_db
def test_households_are_consistent():
    _seed()
    heads = Household.objects.annotate(
        n=Count("members"), heads=Count("members", filter=Q(members__relation=Relation.HEAD))
    )
    assert not heads.filter(n=0).exists()
    assert set(heads.values_list("heads", flat=True)) == {1}
    for household in Household.objects.select_related("grid").prefetch_related("members"):
        assert household.grid.level == Level.GRID
        assert household.path == household.grid.path
        assert household.tags == sorted(set(household.tags))
        assert set(household.tags) <= set(Household.Tag.values)
        members = list(household.members.all())
        assert {m.path for m in members} == {household.path}
        head = next(m for m in members if m.relation == Relation.HEAD)
        for m in members:
            if m.relation == Relation.SPOUSE:
                assert m.gender != head.gender
            if m.relation == Relation.CHILD:
                assert _age(head.birth_date) - _age(m.birth_date) >= 15
            if m.relation == Relation.PARENT:
                assert _age(m.birth_date) - _age(head.birth_date) >= 15
        if Household.Tag.ELDERLY_ALONE in household.tags:
            assert len(members) == 1
            assert _age(members[0].birth_date) >= 70
    assert not PartyMember.objects.exclude(path=F("resident__path")).exists()
    for point in ServicePoint.objects.select_related("node"):
        assert point.path == point.node.path
        assert point.services
        assert point.opening_hours


@pytest.mark.django_db
def test_every_grid_has_one_grid_worker_and_nodes_have_paths():
    _seed()
    grids = Node.objects.filter(level=Level.GRID)
    workers = RoleAssignment.objects.filter(role=Role.GRID_WORKER, node__in=grids)
    assert workers.count() == grids.count()
    assert set(workers.values_list("node", flat=True)) == set(grids.values_list("pk", flat=True))
    bulk = User.objects.filter(username__startswith="gw")
    assert bulk.count() == grids.count() - 1  # the demo `grid` login covers one grid
    for user in bulk:
        assert user.username == f"gw{user.roles.get().node_id}"
        assert not user.has_usable_password()
        assert user.display_name
    for node in Node.objects.select_related("parent"):
        expected = f"{node.parent.path if node.parent else '/'}{node.pk}/"
        assert node.path == expected
        assert node.lat is not None
        assert abs(float(node.lat) - 31.17) < 0.6
        assert abs(float(node.lng) - 115.02) < 0.6


@pytest.mark.django_db
def test_party_members_and_links():
    _seed()
    households = Household.objects.count()
    links = HouseholdLink.objects.count()
    assert 0.07 <= links / households <= 0.16
    eligible = sum(25 <= _age(b) <= 75 for b in Resident.objects.values_list("birth_date", flat=True))
    assert 0.01 <= PartyMember.objects.count() / eligible <= 0.06
    for member in PartyMember.objects.select_related("resident", "branch"):
        assert member.branch.level == Level.VILLAGE
        assert member.path == member.resident.path
        assert member.path.startswith(member.branch.path)
        assert 25 <= _age(member.resident.birth_date) <= 75
        assert member.joined_on < REFERENCE_DATE
    for link in HouseholdLink.objects.select_related("member__branch", "household"):
        assert link.household.path.startswith(link.member.branch.path)  # 一联十户 stays in the village
        assert link.member.is_center_household
        assert link.household_id != link.member.resident.household_id


@pytest.mark.django_db
def test_demo_logins_authenticate_with_their_roles():
    _seed()
    request = RequestFactory().post("/accounts/login/")
    for username in DEMO_USERNAMES:
        user = authenticate(request, username=username, password=DEMO_PASSWORD)
        assert user is not None, username
        assert authenticate(request, username=username, password="wrong-password") is None

    county = Node.objects.get(parent__isnull=True)
    town = Node.objects.filter(parent=county, kind=NodeKind.TOWN).order_by("sort").first()
    village = Node.objects.filter(parent=town).order_by("sort").first()
    grid = Node.objects.filter(parent=village).order_by("sort").first()
    civil = Department.objects.get(name__endswith="民政局", level="county")
    expected = {
        "admin": {(Role.ADMIN, county.pk, None)},
        "leader": {(Role.LEADER, county.pk, None)},
        "dispatcher": {(Role.DISPATCHER, county.pk, None)},
        "dept": {(Role.DEPT_STAFF, None, civil.pk)},
        "town": {(Role.TOWN_STAFF, town.pk, None)},
        "village": {(Role.VILLAGE_STAFF, village.pk, None)},
        "grid": {(Role.GRID_WORKER, grid.pk, None)},
        "party": {(Role.PARTY_MEMBER, village.pk, None)},
        "volunteer": {(Role.VOLUNTEER, village.pk, None)},
        "resident": {(Role.RESIDENT, grid.pk, None)},
    }
    for username, roles in expected.items():
        user = User.objects.get(username=username)
        assert set(user.roles.values_list("role", "node", "department")) == roles, username
        assert user.is_staff == (username in {"admin", "leader", "dispatcher", "dept", "town", "village", "grid"})
        assert user.is_superuser == (username == "admin")
        assert user.display_name
    assert User.objects.get(username="grid").work_phone
    # The demo grid has no bulk worker of its own: `grid` is its worker.
    assert RoleAssignment.objects.filter(role=Role.GRID_WORKER, node=grid).get().user.username == "grid"


@pytest.mark.django_db
def test_demo_people_are_connected():
    _seed()
    grid_node = RoleAssignment.objects.get(user__username="grid").node
    village = grid_node.parent

    elderly = Resident.objects.select_related("household").get(user__username="resident")
    assert _age(elderly.birth_date) >= 70
    assert elderly.household.grid_id == grid_node.pk
    assert Household.Tag.ELDERLY_ALONE in elderly.household.tags
    assert elderly.household.members.count() == 1

    party = Resident.objects.get(user__username="party")
    member = party.party_member
    assert member.branch_id == village.pk
    assert member.is_center_household
    assert elderly.household.party_link.member_id == member.pk
    links = member.links.select_related("household")
    assert 8 <= links.count() <= 12
    assert all(link.household.path.startswith(village.path) for link in links)

    volunteer = Resident.objects.get(user__username="volunteer")
    assert volunteer.path.startswith(village.path)
    assert 18 <= _age(volunteer.birth_date) <= 65
    assert len({elderly.pk, party.pk, volunteer.pk}) == 3


@pytest.mark.django_db
def test_if_empty_does_nothing_on_a_seeded_database_and_plain_refuses():
    _seed()
    counts = (Node.objects.count(), Resident.objects.count(), User.objects.count())
    output = _seed(if_empty=True, seed=2)
    assert "already has data" in output
    with pytest.raises(CommandError, match="already has data"):
        _seed(seed=2)
    assert (Node.objects.count(), Resident.objects.count(), User.objects.count()) == counts


@pytest.mark.django_db
def test_refuses_when_a_demo_username_is_taken():
    User.objects.create(username="admin")
    with pytest.raises(CommandError, match="admin"):
        _seed()
    assert not Node.objects.exists()


@pytest.mark.django_db
def test_province_scale_shrunk():
    _seed(scale="province", fraction=0.002)
    province = Node.objects.get(parent__isnull=True)
    assert province.level == Level.PROVINCE
    cities = Node.objects.filter(parent=province)
    assert [c.level for c in cities] == [Level.CITY, Level.CITY]
    counties = Node.objects.filter(level=Level.COUNTY).order_by("code")
    assert counties.count() == 6
    assert all(c.parent.level == Level.CITY for c in counties)
    for county in counties:
        prefixes = set(Resident.objects.filter(county.subtree_q()).values_list("id_number", flat=True).iterator())
        assert prefixes
        assert {n[:6] for n in prefixes} == {county.code}
        assert Department.objects.filter(jurisdiction=county).count() == 25
    first = Node.objects.get(code="421181")
    for username in ("admin", "leader", "dispatcher"):
        assert RoleAssignment.objects.get(user__username=username).node_id == first.pk
    dept = RoleAssignment.objects.get(user__username="dept").department
    assert dept.jurisdiction_id == first.pk
    assert Resident.objects.get(user__username="resident").path.startswith(first.path)
    numbers = list(Resident.objects.values_list("id_number", flat=True))
    assert len(numbers) == len(set(numbers))


def test_split_is_exact_and_floored():
    rng = random.Random(1)
    for total, n, floor in [(10, 3, 1), (3260, 204, 1), (5, 5, 1), (100, 7, 3), (0, 2, 0)]:
        parts = _split(rng, total, [1.0] * n, spread=0.35, floor=floor)
        assert sum(parts) == total
        assert min(parts) >= floor
    with pytest.raises(ValueError, match="cannot split"):
        _split(rng, 2, [1.0] * 3, spread=0.1)


def test_vocabulary_helpers():
    assert [names.chinese_number(n) for n in (1, 10, 12, 20, 35)] == ["一", "十", "十二", "二十", "三十五"]
    rng = random.Random(3)
    taken: set[str] = set()
    made = [names.unique(rng, lambda r: "桃园村", taken) for _ in range(3)]
    assert made == ["桃园村", "桃园二村", "桃园三村"]
    for _ in range(200):
        phone = names.mobile(rng)
        validate_phone(phone)
    with pytest.raises(ValidationError):
        validate_phone("12345")
