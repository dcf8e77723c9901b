"""The county: the administrative tree, households, residents, departments, service points, party links.

Subtree queries use a materialized path of ids ("/1/7/42/"). A subtree is the half-open range
[path, path-with-last-"/"-replaced-by-"0"), which a plain B-tree index answers on SQLite and
PostgreSQL alike (a LIKE 'x%' would need special collations on both). Households, residents and
party members carry a copy of their grid's path so that scoped lists need no join; services keep
the copies in step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper


class PathField(models.CharField):
    """A materialized path ("/1/7/42/"), compared byte by byte.

    Range queries need "/" to sort before "0". Byte order guarantees that; a language collation
    (glibc en_US.UTF-8, for one) ignores punctuation and does not, so PostgreSQL columns get "C".
    SQLite compares with BINARY by default.
    """

    db_index: bool  # set by Field.__init__; django-stubs does not declare it

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 255)
        kwargs.setdefault("db_index", True)
        kwargs.setdefault("editable", False)
        kwargs.setdefault("default", "")
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> tuple[str, str, Sequence[Any], dict[str, Any]]:
        # Django leaves db_index out when it is False, which __init__ would then turn back into True.
        name, path, args, kwargs = super().deconstruct()
        kwargs["db_index"] = self.db_index
        return name, path, args, kwargs

    def db_parameters(self, connection: BaseDatabaseWrapper) -> dict[str, str | None]:
        params = super().db_parameters(connection)
        if connection.vendor == "postgresql":
            params["collation"] = "C"
        return params


def path_ids(path: str) -> list[int]:
    """The ids a path names, root first: "/1/7/42/" → [1, 7, 42]."""
    return [int(p) for p in path.strip("/").split("/") if p]


def path_prefixes(path: str) -> list[str]:
    """The paths of a node and its ancestors: "/1/7/" → ["/1/", "/1/7/"]."""
    ids = path_ids(path)
    return ["/" + "".join(f"{i}/" for i in ids[: n + 1]) for n in range(len(ids))]


def path_range(path: str, field: str = "path") -> Q:
    """Q for every row whose `field` lies in the subtree rooted at `path` (itself included)."""
    upper = path[:-1] + "0"  # "0" sorts right after "/": "/1/5/…" < "/1/50"
    return Q(**{f"{field}__gte": path, f"{field}__lt": upper})


class Level(models.IntegerChoices):
    PROVINCE = 1, _("province")
    CITY = 2, _("city")
    COUNTY = 3, _("county")
    TOWN = 4, _("town")
    VILLAGE = 5, _("village")
    GRID = 6, _("grid")


class NodeKind(models.TextChoices):
    """What a node is called locally; the level decides behaviour, the kind only the label."""

    PROVINCE = "province", _("province")
    CITY = "city", _("city")
    COUNTY = "county", _("county")
    COUNTY_CITY = "county_city", _("county-level city")
    TOWNSHIP = "township", _("township")
    TOWN = "town", _("town")
    SUBDISTRICT = "subdistrict", _("sub-district")
    VILLAGE = "village", _("village")
    COMMUNITY = "community", _("community")
    VILLAGER_GROUP = "villager_group", _("villager group")
    RESIDENTIAL_AREA = "residential_area", _("residential area")
    GRID = "grid", _("grid")


class Node(models.Model):
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children", verbose_name=_("parent")
    )
    level = models.PositiveSmallIntegerField(_("level"), choices=Level.choices)
    kind = models.CharField(_("kind"), max_length=20, choices=NodeKind.choices)
    name = models.CharField(_("name"), max_length=60)
    code = models.CharField(_("code"), max_length=20, unique=True)
    path = PathField(_("path"))
    lat = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    lng = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    sort = models.PositiveIntegerField(_("sort order"), default=0)

    class Meta:
        verbose_name = _("node")
        verbose_name_plural = _("administrative tree")
        ordering = ["path"]
        indexes = [models.Index(fields=["parent", "sort", "name"]), models.Index(fields=["level", "name"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(parent__isnull=True) | Q(level__gt=Level.PROVINCE), name="node_root_or_child"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def ancestor_ids(self) -> list[int]:
        return path_ids(self.path)[:-1]

    def subtree_q(self, field: str = "path") -> Q:
        return path_range(self.path, field)


class Household(models.Model):
    class Tag(models.TextChoices):
        ELDERLY_ALONE = "elderly_alone", _("elderly living alone")
        DISABLED = "disabled", _("disabled member")
        LOW_INCOME = "low_income", _("low income")
        LEFT_BEHIND = "left_behind", _("left-behind children or elderly")
        MILITARY = "military", _("military family")
        SERIOUSLY_ILL = "seriously_ill", _("seriously ill member")

    grid = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="households", verbose_name=_("grid"))
    path = PathField(_("path"), db_index=False)  # indexed with id below: scoped lists are ordered by (path, id)
    number = models.CharField(_("house number"), max_length=30, blank=True)
    address = models.CharField(_("address"), max_length=200)
    tags = models.JSONField(_("tags"), default=list, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("household")
        verbose_name_plural = _("households")
        ordering = ["path", "id"]
        indexes = [models.Index(fields=["path", "id"], name="household_path_id")]

    def __str__(self) -> str:
        return self.address

    def tag_labels(self) -> list[str]:
        labels = dict(self.Tag.choices)
        return [str(labels.get(t, t)) for t in self.tags]


class Gender(models.TextChoices):
    MALE = "M", _("male")
    FEMALE = "F", _("female")


class Relation(models.TextChoices):
    HEAD = "head", _("head of household")
    SPOUSE = "spouse", _("spouse")
    CHILD = "child", _("child")
    PARENT = "parent", _("parent")
    GRANDCHILD = "grandchild", _("grandchild")
    OTHER = "other", _("other relative")


class Resident(models.Model):
    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, related_name="members", verbose_name=_("household")
    )
    path = PathField(_("path"), db_index=False)  # indexed with household and id below, the list order
    name = models.CharField(_("name"), max_length=40, db_index=True)
    gender = models.CharField(_("gender"), max_length=1, choices=Gender.choices)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    relation = models.CharField(_("relation"), max_length=12, choices=Relation.choices, default=Relation.OTHER)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    # Last four digits, indexed: the part of a masked number people actually read out.
    phone_tail = models.CharField(_("phone last four digits"), max_length=4, blank=True, db_index=True, editable=False)
    id_number = models.CharField(_("ID number"), max_length=18, blank=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="resident",
        verbose_name=_("login"),
    )

    class Meta:
        verbose_name = _("resident")
        verbose_name_plural = _("residents")
        ordering = ["household_id", "id"]
        indexes = [models.Index(fields=["path", "household", "id"], name="resident_path_household_id")]
        constraints = [
            models.UniqueConstraint(fields=["id_number"], condition=~Q(id_number=""), name="resident_id_number_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class Department(models.Model):
    class DeptLevel(models.TextChoices):
        COUNTY = "county", _("county level")
        TOWN = "town", _("town level")

    name = models.CharField(_("name"), max_length=60)
    code = models.CharField(_("code"), max_length=20, unique=True)
    level = models.CharField(_("level"), max_length=10, choices=DeptLevel.choices)
    # The part of the tree it serves: the county for a county bureau, the town for a town office.
    jurisdiction = models.ForeignKey(
        Node, on_delete=models.PROTECT, related_name="departments", verbose_name=_("jurisdiction")
    )
    phone = models.CharField(_("office phone"), max_length=20, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["level", "code"]

    def __str__(self) -> str:
        return self.name


class ServicePoint(models.Model):
    class Kind(models.TextChoices):
        PARTY_MASSES_CENTER = "party_center", _("party and masses service centre")
        RED_STATION = "red_station", _("red post station")
        GOV_HUT = "gov_hut", _("government service hut")
        COOP = "coop", _("comprehensive service co-op")
        CIVILIZATION = "civilization", _("civilization practice station")

    name = models.CharField(_("name"), max_length=80)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    node = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="service_points", verbose_name=_("node"))
    path = PathField(_("path"))
    address = models.CharField(_("address"), max_length=200)
    lat = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    lng = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    opening_hours = models.CharField(_("opening hours"), max_length=200, blank=True)
    services = models.JSONField(_("services offered"), default=list, blank=True)

    class Meta:
        verbose_name = _("service point")
        verbose_name_plural = _("service points")
        ordering = ["path", "id"]

    def __str__(self) -> str:
        return self.name


class PartyMember(models.Model):
    resident = models.OneToOneField(
        Resident, on_delete=models.PROTECT, related_name="party_member", verbose_name=_("resident")
    )
    # The branch or group the member belongs to (a village or a grid).
    branch = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="party_members", verbose_name=_("branch"))
    path = PathField(_("path"))
    is_center_household = models.BooleanField(_("party-member centre household"), default=False)
    joined_on = models.DateField(_("joined the party"), null=True, blank=True)

    class Meta:
        verbose_name = _("party member")
        verbose_name_plural = _("party members")
        ordering = ["path", "id"]

    def __str__(self) -> str:
        return self.resident.name


class HouseholdLink(models.Model):
    """党员联户: a party member looks after a household; a household has at most one such member."""

    member = models.ForeignKey(
        PartyMember, on_delete=models.CASCADE, related_name="links", verbose_name=_("party member")
    )
    household = models.OneToOneField(
        Household, on_delete=models.CASCADE, related_name="party_link", verbose_name=_("household")
    )
    since = models.DateField(_("since"))

    class Meta:
        verbose_name = _("household link")
        verbose_name_plural = _("household links")

    def __str__(self) -> str:
        return f"{self.member} → {self.household}"
