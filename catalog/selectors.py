"""Reads of the published catalogue (public: residents need it before they log in)."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from catalog.models import UNCLASSIFIED, Category, ServiceItem
from core.memo import memo


def active_categories() -> QuerySet[Category]:
    return Category.objects.filter(is_active=True).order_by("level", "sort", "code")


def published_items(
    *, q: str = "", category_id: int | None = None, level: str | None = None, mode: str | None = None
) -> QuerySet[ServiceItem]:
    qs = ServiceItem.objects.filter(is_published=True).select_related("category", "department")
    if q:
        qs = qs.filter(Q(name__contains=q) | Q(code=q) | Q(category__name__contains=q))
    if category_id:
        qs = qs.filter(
            Q(category_id=category_id) | Q(category__parent_id=category_id) | Q(category__parent__parent_id=category_id)
        )
    if level:
        qs = qs.filter(level=level)
    if mode:
        qs = qs.filter(mode=mode)
    return qs.order_by("sort", "code")


def category_by_code(code: str) -> Category | None:
    """A category with its parents (dispatch rules and time classes walk up the tree), from memory:
    intake looks one up on every submission. The instance is shared: read it, never change it."""
    return memo("catalog").get(
        ("category", code), lambda: Category.objects.select_related("parent__parent").filter(code=code).first()
    )


def published_item_by_code(code: str) -> ServiceItem | None:
    """A published service item with its category and that category's parents, from memory (shared:
    read it, never change it)."""
    return memo("catalog").get(
        ("item", code),
        lambda: (
            ServiceItem.objects.select_related("category__parent__parent", "department")
            .filter(code=code, is_published=True)
            .first()
        ),
    )


def category_choices() -> list[tuple[str, str]]:
    """(code, label) of every active category a dispatcher may put an order in, in tree order, each label
    indented by its level; from memory (every dispatch form shows them)."""

    def build() -> list[tuple[str, str]]:
        rows = Category.objects.filter(is_active=True).exclude(code=UNCLASSIFIED).values_list("code", "name", "level")
        return [(code, "\u3000" * (level - 1) + name) for code, name, level in sorted(rows)]

    return memo("catalog").get("category-choices", build)


def parent_codes() -> dict[str, str]:
    """Category code → its parent's code ("" at the top), every category, from memory: the text model's
    backoff to a parent, auto-dispatch's "this category or one above it", and "right at the level guessed"
    ask it of many codes per request. From the tree, not the codes' shape: a county's own categories need
    not nest their codes."""

    def build() -> dict[str, str]:
        return {code: parent or "" for code, parent in Category.objects.values_list("code", "parent__code")}

    return memo("catalog").get("parent-codes", build)


def ancestors(code: str) -> list[str]:
    """The codes of a category and of every category above it, itself first."""
    parents = parent_codes()
    out: list[str] = []
    while code and code not in out:
        out.append(code)
        code = parents.get(code, "")
    return out
