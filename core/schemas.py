"""Shared API schemas: pagination and strict input."""

from __future__ import annotations

from types import UnionType
from typing import Any, Generic, TypeVar, Union, get_args, get_origin

from django.conf import settings
from django.db.models import QuerySet
from ninja import Field, Schema
from ninja.schema import DjangoGetter
from pydantic import ConfigDict, ModelWrapValidatorHandler, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from core.validation import NUL, clean_text, has_nul

T = TypeVar("T")


def _no_nul(value: Any) -> Any:
    """Every text of an input body, nested ones too (a service form's answers): a NUL byte is refused with
    the forms' own message (the API's middleware refuses it sooner, as a malformed request), and invisible
    controls are removed (core.validation's rule)."""
    if isinstance(value, str):
        if has_nul(value):
            raise ValueError(str(NUL))
        return clean_text(value)
    if isinstance(value, dict):
        return {_no_nul(k): _no_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_nul(v) for v in value]
    return value


# Fields kept exactly as typed (a NUL still refused): a password with a tab or a zero-width space is the
# password the login page takes, and cleaning it would lock its owner out of the API.
VERBATIM = frozenset({"password", "old_password", "new_password", "token", "secret"})


# Per input schema, the JSON type each field must have exactly (bool, int or None: any), worked out once.
_EXACT: dict[type, dict[str, type | None]] = {}


def _exact_type(annotation: Any) -> type | None:
    """bool or int where a field is one (or one or None), else None."""
    if annotation in (bool, int):
        return annotation
    args = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) in (Union, UnionType) and len(args) == 1 and args[0] in (bool, int):
        return args[0]
    return None


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

    @field_validator("*", mode="after")
    @classmethod
    def _clean(cls, value: Any, info: ValidationInfo) -> Any:
        if info.field_name in VERBATIM:
            if has_nul(value):
                raise ValueError(str(NUL))
            return value
        return _no_nul(value)

    @field_validator("*", mode="before")
    @classmethod
    def _json_types(cls, value: Any, info: ValidationInfo) -> Any:
        """JSON has booleans and numbers of its own: "yes" or 1 where a boolean belongs, "5" or true where a
        whole number does, is a client's mistake to be told, not a guess to be made (pydantic's lax mode
        takes them)."""
        try:
            want = _EXACT[cls][info.field_name or ""]
        except KeyError:
            _EXACT[cls] = {name: _exact_type(f.annotation) for name, f in cls.model_fields.items()}
            want = _EXACT[cls].get(info.field_name or "")
        if want is bool and type(value) is not bool and value is not None:
            raise PydanticCustomError("bool_type", "Input should be a valid boolean")
        # JSON Schema's "integer" takes 5.0 (the document says integer); a string or a boolean it does not.
        if (
            want is int
            and value is not None
            and not (type(value) is int or (type(value) is float and value.is_integer()))
        ):
            raise PydanticCustomError("int_type", "Input should be a valid integer")
        return value


class QueryIn(Schema):
    """Query-string filters: surrounding spaces are not part of a search."""

    model_config = ConfigDict(str_strip_whitespace=True)

    _clean = field_validator("*", mode="after")(_no_nul)


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
