"""Shared API schemas: pagination and strict input."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from django.conf import settings
from django.db.models import QuerySet
from ninja import Field, Schema
from ninja.schema import DjangoGetter
from pydantic import ConfigDict, ModelWrapValidatorHandler, ValidationInfo, field_validator, model_validator

from core.validation import NUL, has_nul

T = TypeVar("T")


def _no_nul(value: Any) -> Any:
    """Every text field of an input body: a NUL byte is refused with the forms' own message."""
    if has_nul(value):
        raise ValueError(str(NUL))
    return value


class DictSchema(Schema):
    """A schema that reads a plain dict as it is.

    ninja's Schema wraps whatever it validates in a DjangoGetter (which lists managers and calls
    callables for each field), and with extra="forbid" validates it twice. For the dicts that JSON bodies
    and our views' answers are, that was a third of a submission's time (bench/intake.py). Objects still
    go through the DjangoGetter, so nested model instances work as before. Subclasses must not use
    `resolve_*` methods on dict input: only the DjangoGetter runs them."""

    @model_validator(mode="wrap")
    @classmethod
    def _run_root_validator(cls, values: Any, handler: ModelWrapValidatorHandler, info: ValidationInfo) -> Any:
        if type(values) is dict:
            return handler(values)
        if cls.model_config.get("extra") == "forbid":
            handler(values)
        return handler(DjangoGetter(values, cls, info.context))


class StrictIn(DictSchema):
    """Input bodies refuse fields they do not know: a typo must not be silently ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    _no_nul = field_validator("*", mode="after")(_no_nul)


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
