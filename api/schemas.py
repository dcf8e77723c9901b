"""Shared API schemas: pagination and strict input."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from django.conf import settings
from django.db.models import QuerySet
from ninja import Field, Schema
from pydantic import ConfigDict, model_validator

T = TypeVar("T")


def _no_nul(model: Schema) -> Schema:
    for name, value in model.__dict__.items():
        if isinstance(value, str) and "\x00" in value:
            raise ValueError(f"{name}: NUL characters are not allowed")
    return model


class StrictIn(Schema):
    """Input bodies refuse fields they do not know: a typo must not be silently ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    _no_nul = model_validator(mode="after")(_no_nul)


class QueryIn(Schema):
    """Query-string filters: surrounding spaces are not part of a search."""

    model_config = ConfigDict(str_strip_whitespace=True)


class PageParams(Schema):
    page: int = Field(1, ge=1, le=settings.GONGZHI["API_PAGE_MAX"])
    page_size: int = Field(20, ge=1, le=settings.GONGZHI["API_PAGE_SIZE_MAX"])


class Page(Schema, Generic[T]):
    count: int
    count_exact: bool = Field(True, description="False when there are more rows than `count` says (big lists)")
    page: int
    page_size: int
    pages: int
    items: list[T]


def paginate(
    qs: QuerySet | list, params: PageParams, convert: Any = None, count_cap: int | None = None
) -> dict[str, Any]:
    """One page of `qs`. With `count_cap`, counting stops there (count_exact=False): counting a million
    rows to print "page 1 of 50,000" costs more than the page itself."""
    exact = True
    if not isinstance(qs, QuerySet):
        count = len(qs)
    elif count_cap is None:
        count = qs.count()
    else:
        count = qs.order_by()[: count_cap + 1].count()
        if count > count_cap:
            count, exact = count_cap, False
    start = (params.page - 1) * params.page_size
    rows = list(qs[start : start + params.page_size])
    return {
        "count": count,
        "count_exact": exact,
        "page": params.page,
        "page_size": params.page_size,
        "pages": (count + params.page_size - 1) // params.page_size,
        "items": [convert(r) for r in rows] if convert else rows,
    }
