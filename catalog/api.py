"""The published catalogue: categories and service items are public, logged in or not."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from catalog import selectors
from catalog.models import Category, ServiceItem
from core.errors import NotFound
from core.schemas import Page, PageParams, QueryIn, paginate

router = Router(tags=["catalogue"])


class CategoryOut(Schema):
    id: int
    code: str
    name: str
    level: int
    parent_id: int | None
    time_class: str


class CategoryTreeOut(CategoryOut):
    children: list[CategoryTreeOut] = []


class FormFieldOut(Schema):
    name: str
    label: str
    type: str
    required: bool = False
    choices: list[str] = []


class ServiceItemOut(Schema):
    id: int
    code: str
    name: str
    category_id: int
    category_name: str
    mode: str
    mode_label: str
    level: str
    department_name: str | None
    description: str
    materials: list[str]
    form_fields: list[FormFieldOut]
    promised_days: int

    @staticmethod
    def resolve_category_name(obj: ServiceItem) -> str:
        return obj.category.name

    @staticmethod
    def resolve_mode_label(obj: ServiceItem) -> str:
        return str(obj.get_mode_display())

    @staticmethod
    def resolve_department_name(obj: ServiceItem) -> str | None:
        return obj.department.name if obj.department is not None else None


class ItemFilter(QueryIn):
    q: str = Field("", max_length=50)
    category: int | None = Field(None, ge=1)
    level: str | None = Field(None, pattern="^(village|town|county)$")
    mode: str | None = Field(None, pattern="^(direct|proxy|assisted|online)$")


def _tree(cats: list[Category]) -> list[dict]:
    by_parent: dict[int | None, list[Category]] = {}
    for c in cats:
        by_parent.setdefault(c.parent_id, []).append(c)

    def build(parent: int | None) -> list[dict]:
        return [{**CategoryOut.from_orm(c).dict(), "children": build(c.pk)} for c in by_parent.get(parent, [])]

    return build(None)


@router.get("/catalog/categories", response=list[CategoryTreeOut], auth=None, summary="The category tree")
def category_tree(request: HttpRequest):
    return _tree(list(selectors.active_categories()))


@router.get("/catalog/items", response=Page[ServiceItemOut], auth=None, summary="Published service items")
def item_list(request: HttpRequest, filters: Query[ItemFilter], page: Query[PageParams]):
    return paginate(
        selectors.published_items(q=filters.q, category_id=filters.category, level=filters.level, mode=filters.mode),
        page,
    )


@router.get("/catalog/items/{code}", response=ServiceItemOut, auth=None, summary="One service item")
def item_detail(request: HttpRequest, code: str):
    item = selectors.published_items().filter(code=code[:20]).first()
    if item is None:
        raise NotFound()
    return item
