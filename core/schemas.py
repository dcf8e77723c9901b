"""Shared API schemas: pagination (by page number, or by keyset cursor) and strict input."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import logging
import math
import uuid
from dataclasses import dataclass
from decimal import Decimal
from types import UnionType
from typing import Any, Generic, TypeVar, Union, get_args, get_origin

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import DecimalValidator
from django.db import connections, models
from django.db.models import Q, QuerySet
from django.db.models.query import ModelIterable, ValuesIterable
from django.utils.translation import gettext_lazy as _
from ninja import Field, Schema
from ninja.schema import DjangoGetter
from pydantic import ConfigDict, ModelWrapValidatorHandler, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from core.errors import ValidationFailed
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


# A cursor is short (an id, a time, a path: tens of characters); this bounds what is decoded at all.
CURSOR_MAX = 1000

CURSOR_ONLY_BY_NUMBER = _("This list is paged by number, not by cursor.")
CURSOR_WITH_PAGE = _("Use page or cursor, not both.")
CURSOR_INVALID = _("This cursor is not valid: pass back the next_cursor of a page of this list.")
CURSOR_OTHER_LIST = _("This cursor belongs to another list or another order of it.")

log = logging.getLogger(__name__)


class PageParams(Schema):
    page: int = Field(
        1, ge=1, le=settings.GONGZHI["API_PAGE_MAX"], description="Page number, from 1 (with `cursor`: leave it at 1)"
    )
    page_size: int = Field(20, ge=1, le=settings.GONGZHI["API_PAGE_SIZE_MAX"])
    cursor: str | None = Field(
        None,
        max_length=CURSOR_MAX,
        description=(
            "The `next_cursor` of the page before: the next page by position, as fast deep in a big list as on its "
            "first page, and no row skipped or repeated when rows are added meanwhile. Lists whose order does not "
            "allow it answer `next_cursor: null` and refuse a cursor (422)."
        ),
    )


class Page(Schema, Generic[T]):
    count: int = Field(
        description="Rows in the whole list (also when walking by cursor), counted up to a cap: see `count_exact`"
    )
    count_exact: bool = Field(True, description="False when there are more rows than `count` says (big lists)")
    page: int
    page_size: int
    pages: int
    items: list[T]
    next_cursor: str | None = Field(
        None,
        description=(
            "Pass it as `cursor` to get the next page; null on the last page (and always on lists paged by number only)"
        ),
    )


# --- keyset pagination -------------------------------------------------------------------------------
#
# A list ordered by plain columns can be read from "after the last row seen" instead of "skip N rows": the
# database range-scans its index from there, whatever the depth (OFFSET reads and throws away every row
# before the page). The cursor carries the last row's ordering values; the list's own query (its scope
# filters) is applied as always, so a cursor, even an edited one, can only move within what its bearer sees.


def _kind(field: models.Field) -> str | None:
    """How a column's value travels in a cursor, or None where it cannot (JSON, binary, durations…)."""
    while field.is_relation:  # a foreign key's own column: the type of what it points to
        target = getattr(field, "target_field", None)
        if target is None:
            return None
        field = target
    for cls, kind in (
        (models.BooleanField, "bool"),
        (models.IntegerField, "int"),  # AutoField, BigAutoField and the Positive…/Small… ones too
        (models.FloatField, "float"),
        (models.DecimalField, "decimal"),
        (models.DateTimeField, "datetime"),  # before DateField, its parent
        (models.DateField, "date"),
        (models.TimeField, "time"),
        (models.UUIDField, "uuid"),
        (models.CharField, "str"),
        (models.TextField, "str"),
    ):
        if isinstance(field, cls):
            return kind
    return None


@dataclass(frozen=True)
class _Key:
    lookup: str  # what the filter names: "pk" or the column's attribute name
    field: models.Field  # the field itself (for a foreign key's column, the foreign key)
    kind: str
    desc: bool
    row_keys: tuple[str, ...]  # where a .values() row may hold the value


class _BadCursor(Exception):
    pass


@dataclass(frozen=True)
class Keyset:
    """The ordering columns of a list (the pk last), and the cursor they make."""

    keys: tuple[_Key, ...]
    tag: str  # a short hash of the model and the ordering: a cursor is for lists in this order only
    rows_are_dicts: bool

    # -- reading and writing cursors --

    def encode(self, row: Any) -> str | None:
        values = []
        for k in self.keys:
            if self.rows_are_dicts:
                v = next((row[name] for name in k.row_keys if name in row), None)
            else:
                v = getattr(row, k.field.attname)
            if v is None:  # not null by the columns' definition; an odd row ends the walk rather than skip rows
                return None
            try:
                values.append(_to_json(v))
            except TypeError:
                log.warning("no cursor form for a %s in %s", type(v).__name__, self.tag)
                return None
        raw = json.dumps({"o": self.tag, "v": values}, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        token = base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode("ascii")
        if len(token) > CURSOR_MAX:
            # Only text columns of hundreds of characters get here; no cursor rather than one we would refuse.
            log.warning("keyset cursor of %d characters for %s not given", len(token), self.tag)
            return None
        return token

    def decode(self, token: str, db: str) -> list[Any]:
        """The ordering values a cursor carries, each checked by its field; else 422 on `cursor`."""
        try:
            values = self._decode(token, db)
        except _BadCursor as e:
            raise ValidationFailed(fields={"cursor": [e.args[0] if e.args else CURSOR_INVALID]}) from None
        return values

    def _decode(self, token: str, db: str) -> list[Any]:
        if len(token) > CURSOR_MAX:
            raise _BadCursor()
        try:
            raw = base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_", validate=True)
            data = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
        except (ValueError, UnicodeError, RecursionError, binascii.Error):
            raise _BadCursor() from None
        if not isinstance(data, dict) or set(data) != {"o", "v"} or not isinstance(data["v"], list):
            raise _BadCursor()
        if data["o"] != self.tag:
            raise _BadCursor(CURSOR_OTHER_LIST)
        if len(data["v"]) != len(self.keys):
            raise _BadCursor()
        return [_from_json(k, v, db) for k, v in zip(self.keys, data["v"], strict=True)]

    # -- the filter --

    def after(self, values: list[Any]) -> Q:
        """Rows after the one `values` came from, in the form an index on the leading column serves:
        f1 >= v1 AND (f1 > v1 OR (f1 = v1 AND (f2 > v2 OR (f2 = v2 AND …)))) — with < and <= where a column
        descends. The first term alone bounds the range scan; the rest picks the rows within it."""

        def beyond(k: _Key, v: Any) -> Q:
            return Q(**{f"{k.lookup}__{'lt' if k.desc else 'gt'}": v})

        def rest(i: int) -> Q:
            k, v = self.keys[i], values[i]
            if i == len(self.keys) - 1:
                return beyond(k, v)
            return beyond(k, v) | (Q(**{k.lookup: v}) & rest(i + 1))

        first = self.keys[0]
        if len(self.keys) == 1:
            return beyond(first, values[0])
        return Q(**{f"{first.lookup}__{'lte' if first.desc else 'gte'}": values[0]}) & rest(0)


def _no_constant(name: str) -> Any:
    raise ValueError(name)  # NaN, Infinity: not a value of any column


def _to_json(v: Any) -> Any:
    if isinstance(v, bool | int | float | str):
        return v
    if isinstance(v, Decimal | uuid.UUID):
        return str(v)
    if isinstance(v, dt.datetime | dt.date | dt.time):
        return v.isoformat()  # an aware datetime with its offset; microseconds kept
    raise TypeError(f"no cursor form for {type(v).__name__}")


def _from_json(k: _Key, v: Any, db: str) -> Any:
    """One value of a cursor, as the column's field reads it (to_python), refused unless it is exactly of the
    column's JSON form and within what the database can compare (no NUL, no out-of-range number)."""
    field = k.field
    while field.is_relation:
        field = field.target_field  # type: ignore[attr-defined]
    if k.kind == "bool":
        ok = type(v) is bool
    elif k.kind == "int":
        ok = type(v) is int
    elif k.kind == "float":
        ok = type(v) in (int, float) and math.isfinite(v)
    else:
        ok = type(v) is str
    if not ok:
        raise _BadCursor()
    if k.kind == "str":
        try:
            v.encode("utf-8")  # a lone surrogate ("\ud800") is no text a database takes
        except UnicodeError:
            raise _BadCursor() from None
        if "\x00" in v:
            raise _BadCursor()
    try:
        value = field.to_python(v)
        if k.kind == "int":
            try:
                low, high = connections[db].ops.integer_field_range(field.get_internal_type())
            except KeyError:  # an integer field of a type the backend lists no range for
                low, high = -(2**63), 2**63 - 1
            if (low is not None and value < low) or (high is not None and value > high):
                raise _BadCursor()
        elif k.kind == "decimal":
            DecimalValidator(field.max_digits, field.decimal_places)(value)  # type: ignore[attr-defined]
        elif k.kind == "datetime":
            if not isinstance(value, dt.datetime) or (settings.USE_TZ and value.tzinfo is None):
                raise _BadCursor()
            value.astimezone(dt.UTC)  # "0001-01-01T00:00+05:00" has no UTC time: OverflowError, refused here
        elif k.kind == "date" and (not isinstance(value, dt.date) or isinstance(value, dt.datetime)):
            raise _BadCursor()
    except (DjangoValidationError, ValueError, TypeError, OverflowError):
        raise _BadCursor() from None
    return value


def keyset_of(qs: QuerySet | list) -> tuple[QuerySet | list, Keyset | None]:
    """`qs` ordered with its pk last (added as a tiebreak where missing, so that pages are stable), and its
    Keyset — or None where the list can only be paged by number: a list, not a QuerySet; an order by an
    annotation, a related model's column (`grid__name`, or `grid` which means the grid's own ordering), an
    expression, a nullable or non-scalar column; sliced, combined (union) or DISTINCT ON queries; rows that
    are tuples (values_list) or dicts without the ordering columns."""
    if not isinstance(qs, QuerySet):
        return qs, None
    q = qs.query
    if q.is_sliced or q.combinator or q.extra_order_by:
        return qs, None
    meta = qs.model._meta
    model_rows = issubclass(qs._iterable_class, ModelIterable)
    dict_rows = qs._iterable_class is ValuesIterable
    if not model_rows and (q.group_by is not None or q.distinct):
        return qs, None  # values() with GROUP BY or DISTINCT: another column in the order would change the rows
    ordering: list[Any] = list(q.order_by) if q.order_by else (list(meta.ordering) if q.default_ordering else [])

    parsed = [_key(qs, entry) for entry in ordering]
    if not any(k is not None and k.field is meta.pk for k in parsed):
        last = ordering[-1] if ordering else None
        desc = (isinstance(last, str) and last.startswith("-")) or bool(getattr(last, "descending", False))
        ordering.append("-pk" if desc else "pk")
        parsed.append(_key(qs, ordering[-1]))
        qs = qs.order_by(*ordering)
    keys = [k for k in parsed if k is not None]
    if len(keys) < len(parsed) or q.distinct_fields or not (model_rows or dict_rows):
        return qs, None
    if dict_rows and q.values_select and any(not set(k.row_keys) & set(q.values_select) for k in keys):
        return qs, None  # the rows lack a column the cursor needs
    spec = f"{meta.label_lower}:" + ",".join(("-" if k.desc else "") + k.field.attname for k in keys)
    tag = hashlib.sha256(spec.encode()).hexdigest()[:12]
    return qs, Keyset(keys=tuple(keys), tag=tag, rows_are_dicts=dict_rows)


def _key(qs: QuerySet, entry: Any) -> _Key | None:
    """One ordering entry as a keyset column, or None where it is not a plain non-null column of qs.model."""
    if not isinstance(entry, str) or entry in ("?", "-?"):
        return None
    desc = entry.startswith("-")
    name = entry.lstrip("-")
    if not name or "__" in name or "." in name or name in qs.query.annotations:
        return None
    meta = qs.model._meta
    if name == "pk":
        field: Any = meta.pk
    else:
        try:
            field = meta.get_field(name)
        except FieldDoesNotExist:
            return None
    if not isinstance(field, models.Field) or not field.concrete or field.null:
        return None
    if field.is_relation and name not in (field.attname, "pk"):
        return None  # order_by("grid") sorts by the grid model's own ordering, not by the column
    kind = _kind(field)
    if kind is None:
        return None
    lookup = "pk" if field is meta.pk else field.attname
    row_keys = tuple(dict.fromkeys([name, field.attname, field.name] + (["pk"] if field is meta.pk else [])))
    return _Key(lookup=lookup, field=field, kind=kind, desc=desc, row_keys=row_keys)


def _count(qs: QuerySet | list, cap: int) -> tuple[int, bool]:
    if not isinstance(qs, QuerySet):
        return len(qs), True
    counted = qs if qs.query.is_sliced else qs.order_by()
    n = counted[: cap + 1].count()
    return (cap, False) if n > cap else (n, True)


def paginate(
    qs: QuerySet | list, params: PageParams, convert: Any = None, count_cap: int | None = None
) -> dict[str, Any]:
    """One page of `qs`, by number (`page`) or after a cursor (`cursor`), as a Page.

    Counting stops at `count_cap` (default settings.GONGZHI["API_COUNT_CAP"]; count_exact=False past it):
    counting a million rows to print "page 1 of 50,000" costs more than the page itself.

    Every QuerySet gets its pk as the last ordering column where it is not there yet, so rows that tie on
    the order (two orders of the same second) come in the same order on every page. Where the ordering is
    plain non-null columns of the model (keyset_of), each full page carries `next_cursor`: the last row's
    ordering values, which the next request turns into "after that row" (Keyset.after) instead of an
    OFFSET — the same rows in the same order as the numbered pages, at any depth. Elsewhere `next_cursor` is
    null and a cursor is refused (422).

    With a cursor the count is still of the whole list, capped: a capped count costs at most `count_cap`
    index entries, and a client walking by cursor keeps its "N results" and its progress bar. `page` is
    then 1 (the cursor, not a number, says where the page is).

    `convert` turns each row into its answer; the cursor is made from the raw row (a model instance, or a
    dict from .values()). A page fetches page_size+1 rows to know whether another follows."""
    cursor = params.cursor or None
    if cursor is not None and params.page > 1:
        raise ValidationFailed(fields={"cursor": [CURSOR_WITH_PAGE]})
    qs, keyset = keyset_of(qs)
    values: list[Any] | None = None
    if cursor is not None:
        if keyset is None:
            raise ValidationFailed(fields={"cursor": [CURSOR_ONLY_BY_NUMBER]})
        values = keyset.decode(cursor, qs.db)  # type: ignore[union-attr]
    cap = count_cap if count_cap is not None else settings.GONGZHI["API_COUNT_CAP"]
    count, exact = _count(qs, cap)
    size = params.page_size
    if values is not None:
        rows = list(qs.filter(keyset.after(values))[: size + 1])  # type: ignore[union-attr]
    else:
        start = (params.page - 1) * size
        rows = list(qs[start : start + size + 1])
    more = len(rows) > size
    rows = rows[:size]
    next_cursor = keyset.encode(rows[-1]) if keyset is not None and more else None
    return {
        "count": count,
        "count_exact": exact,
        "page": params.page,
        "page_size": size,
        "pages": (count + size - 1) // size,
        "items": [convert(r) for r in rows] if convert else rows,
        "next_cursor": next_cursor,
    }
