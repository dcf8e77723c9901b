"""Every write to the county model. Views, the API, admin and the demo loader all come through here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.db import transaction
from django.utils.translation import gettext as _

from core.memo import bump
from core.validators import validate_id_number, validate_phone
from org.models import (
    Department,
    Gender,
    Household,
    HouseholdLink,
    Level,
    Node,
    PartyMember,
    Relation,
    Resident,
    ServicePoint,
)

if TYPE_CHECKING:
    from accounts.models import User

# Which level may sit under which: a tree with a grid under a county would break every report.
_CHILD_LEVEL = {
    Level.PROVINCE: Level.CITY,
    Level.CITY: Level.COUNTY,
    Level.COUNTY: Level.TOWN,
    Level.TOWN: Level.VILLAGE,
    Level.VILLAGE: Level.GRID,
}


class TreeError(ValueError):
    pass


def check_node_level(*, parent: Node | None, level: int) -> None:
    if parent is None:
        if level not in (Level.PROVINCE, Level.CITY, Level.COUNTY):
            raise TreeError(_("A root must be a province, a city or a county."))
    elif _CHILD_LEVEL.get(Level(parent.level)) != level:
        raise TreeError(
            _("A %(child)s cannot sit under a %(parent)s.")
            % {"child": Level(level).label, "parent": Level(parent.level).label}
        )


@transaction.atomic
def node_create(
    *,
    parent: Node | None,
    level: int,
    kind: str,
    name: str,
    code: str,
    lat: Decimal | float | None = None,
    lng: Decimal | float | None = None,
    sort: int = 0,
) -> Node:
    check_node_level(parent=parent, level=level)
    node = Node.objects.create(parent=parent, level=level, kind=kind, name=name, code=code, lat=lat, lng=lng, sort=sort)
    node.path = f"{parent.path if parent else '/'}{node.pk}/"
    node.save(update_fields=["path"])
    return node


NODE_EDITABLE = ("kind", "name", "code", "lat", "lng", "sort")


@transaction.atomic
def node_update(*, node: Node, **fields: Any) -> Node:
    """Rename or re-describe a node. Its place in the tree (parent, level, path) is not changed here: moving
    a node moves every path below it."""
    unknown = set(fields) - set(NODE_EDITABLE)
    if unknown:
        raise TreeError(_("These cannot be changed here: %(fields)s") % {"fields": ", ".join(sorted(unknown))})
    for k, v in fields.items():
        setattr(node, k, v)
    if fields:
        node.save(update_fields=list(fields))
    bump("tree")
    bump("org")
    return node


def nodes_bulk_create(*, parent: Node, items: Sequence[dict]) -> list[Node]:
    """Children of one parent in two statements; the caller holds the transaction."""
    level = _CHILD_LEVEL.get(Level(parent.level))
    if level is None:
        raise TreeError(_("A grid has no child nodes."))
    nodes = [Node(parent=parent, level=level, path="", **item) for item in items]
    Node.objects.bulk_create(nodes)
    for n in nodes:
        n.path = f"{parent.path}{n.pk}/"
    Node.objects.bulk_update(nodes, ["path"])
    bump("tree")
    bump("org")
    return nodes


def _phone_tail(phone: str) -> str:
    digits = "".join(c for c in phone if c.isdigit())
    return digits[-4:] if len(digits) >= 4 else ""


@transaction.atomic
def household_create(*, grid: Node, address: str, number: str = "", tags: Iterable[str] = ()) -> Household:
    if grid.level != Level.GRID:
        raise TreeError(_("A household belongs to a grid."))
    tags = sorted(set(tags))
    unknown = set(tags) - set(Household.Tag.values)
    if unknown:
        raise ValueError(_("Unknown household tags: %(tags)s") % {"tags": ", ".join(sorted(unknown))})
    return Household.objects.create(grid=grid, path=grid.path, address=address, number=number, tags=tags)


@transaction.atomic
def resident_create(
    *,
    household: Household,
    name: str,
    gender: str,
    birth_date: dt.date | None = None,
    relation: str = Relation.OTHER,
    phone: str = "",
    id_number: str = "",
    user: User | None = None,
) -> Resident:
    validate_phone(phone)
    validate_id_number(id_number)
    if gender not in Gender.values:
        raise ValueError("gender")
    return Resident.objects.create(
        household=household,
        path=household.path,
        name=name,
        gender=gender,
        birth_date=birth_date,
        relation=relation,
        phone=phone,
        phone_tail=_phone_tail(phone),
        id_number=id_number.upper(),
        user=user,
    )


def residents_bulk_create(rows: Sequence[Resident]) -> list[Resident]:
    """Bulk path for loaders: the same validation as resident_create, in one INSERT per batch."""
    for r in rows:
        validate_phone(r.phone)
        validate_id_number(r.id_number)
        r.id_number = r.id_number.upper()
        r.path = r.household.path
        r.phone_tail = _phone_tail(r.phone)
    created = Resident.objects.bulk_create(rows, batch_size=2000)
    bump("org")
    return created


def households_bulk_create(rows: Sequence[Household]) -> list[Household]:
    known = set(Household.Tag.values)
    for h in rows:
        if h.grid.level != Level.GRID:
            raise TreeError(_("A household belongs to a grid."))
        if not set(h.tags) <= known:
            raise ValueError(_("Unknown household tags: %(tags)s") % {"tags": ", ".join(sorted(set(h.tags) - known))})
        h.path = h.grid.path
        h.tags = sorted(set(h.tags))
    return Household.objects.bulk_create(rows, batch_size=2000)


PATH_COPIES: list[tuple[str, dict[str, object]]] = [
    ("sos.CareProfile", {}),
    ("points.Account", {}),
    ("points.Claim", {"state": "pending"}),
    ("points.Redemption", {"state": "reserved"}),
    ("points.Nomination", {"state": "nominated"}),
    ("volunteers.Volunteer", {}),
]


@transaction.atomic
def household_move(*, household: Household, grid: Node) -> Household:
    """Move a household to another grid, carrying its members' and links' path copies along."""
    if grid.level != Level.GRID:
        raise TreeError(_("A household belongs to a grid."))
    household.grid = grid
    household.path = grid.path
    household.save(update_fields=["grid", "path"])
    Resident.objects.filter(household=household).update(path=grid.path)
    PartyMember.objects.filter(resident__household=household).update(path=grid.path)
    # Other apps' copies of the residents' grid that decide who looks after them now (what is settled —
    # ledger entries, decided claims, past service — stays where it happened).
    for label, filters in PATH_COPIES:
        apps.get_model(label).objects.filter(**{"resident__household": household, **filters}).update(path=grid.path)
    Participation = apps.get_model("volunteers.Participation")
    Participation.objects.filter(
        volunteer__resident__household=household, state__in=["signed_up", "waitlisted", "checked_in", "checked_out"]
    ).update(path=grid.path)
    bump("org")  # the residents' own scopes name the old grid
    return household


@transaction.atomic
def resident_update_contact(*, resident: Resident, phone: str | None = None, id_number: str | None = None) -> Resident:
    fields = []
    if phone is not None:
        validate_phone(phone)
        resident.phone, resident.phone_tail = phone, _phone_tail(phone)
        fields += ["phone", "phone_tail"]
    if id_number is not None:
        validate_id_number(id_number)
        resident.id_number = id_number.upper()
        fields.append("id_number")
    if fields:
        resident.save(update_fields=fields)
    return resident


@transaction.atomic
def department_create(*, name: str, code: str, level: str, jurisdiction: Node, phone: str = "") -> Department:
    return Department.objects.create(name=name, code=code, level=level, jurisdiction=jurisdiction, phone=phone)


@transaction.atomic
def service_point_create(
    *,
    node: Node,
    name: str,
    kind: str,
    address: str,
    phone: str = "",
    opening_hours: str = "",
    services: Iterable[str] = (),
    lat: Decimal | float | None = None,
    lng: Decimal | float | None = None,
) -> ServicePoint:
    return ServicePoint.objects.create(
        node=node,
        path=node.path,
        name=name,
        kind=kind,
        address=address,
        phone=phone,
        opening_hours=opening_hours,
        services=list(services),
        lat=lat,
        lng=lng,
    )


@transaction.atomic
def party_member_create(
    *, resident: Resident, branch: Node, is_center_household: bool = False, joined_on: dt.date | None = None
) -> PartyMember:
    return PartyMember.objects.create(
        resident=resident,
        branch=branch,
        path=resident.path,
        is_center_household=is_center_household,
        joined_on=joined_on,
    )


@transaction.atomic
def household_link(*, member: PartyMember, household: Household, since: dt.date) -> HouseholdLink:
    """Link a household to a party member, replacing any earlier link (a household has one member)."""
    link, _ = HouseholdLink.objects.update_or_create(household=household, defaults={"member": member, "since": since})
    return link
