"""The words for bad input, one set for the pages' forms and the API: a field too long, a NUL byte, a
missing value, a number that is not one. core.forms gives them to every page form; api/ turns pydantic's
errors into the same sentences, so a person reads the same thing whichever way they came in.

The one rule for control characters, for every text that comes in (page forms, JSON bodies, query filters):

- NUL (U+0000) refuses the request: it is never meaningful, PostgreSQL cannot store it, and it is how
  truncation attacks start. The API answers 400 `malformed_request` (core.middleware); a page form shows
  the message beside the others.
- Every other invisible control is removed: C0 controls but tab and line feed (BEL, ESC, …), DEL, C1
  controls, the bidirectional overrides, embeddings and isolates (U+202A–U+202E, U+2066–U+2069, which
  make "txt.exe" read as "exe.txt" on a staff page), the marks U+200E/U+200F, zero-width space, word
  joiner and the byte-order mark. A person pasting from a chat keeps what they see.
- CR LF and lone CR become LF; a tab becomes a space. Line breaks stay in texts (descriptions, replies),
  and a line (a title, a name: `one_line`) has every run of white space folded into one space.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.utils.translation import gettext_lazy as _

REQUIRED = _("This field is required.")
TOO_LONG = _("At most %(limit_value)s characters (this has %(show_value)s).")
TOO_SHORT = _("At least %(limit_value)s characters (this has %(show_value)s).")
NUL = _("NUL characters are not allowed.")
NOT_A_NUMBER = _("Enter a whole number.")
TOO_SMALL = _("At least %(limit_value)s.")
TOO_LARGE = _("At most %(limit_value)s.")
BAD_CHOICE = _("Choose one of the options offered.")
BAD_DATE = _("Enter a date as YYYY-MM-DD.")
NOT_A_BOOLEAN = _("Enter true or false.")
NOT_A_TEXT = _("Enter a text.")
NOT_A_DECIMAL = _("Enter a number.")
NOT_A_LIST = _("Enter a list.")
NOT_AN_OBJECT = _("Enter an object.")
UNKNOWN_FIELD = _("This field is not known.")
BAD_PATTERN = _("This value does not have the expected form.")
TOO_FEW = _("At least %(limit_value)s items.")
TOO_MANY = _("At most %(limit_value)s items.")
INVALID = _("This value is not valid.")


_INVISIBLE: dict[int, str | None] = {
    c: None for c in [*range(0x01, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0)]
}
_INVISIBLE.update(
    {c: None for c in [0x200B, 0x200E, 0x200F, 0x2060, 0xFEFF, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]}
)
_INVISIBLE[0x09] = " "
_SPACES = re.compile(r"\s+")


def has_nul(value: Any) -> bool:
    return isinstance(value, str) and "\x00" in value


def clean_text(value: str) -> str:
    """A text as it is kept: invisible controls removed, line ends as LF, tabs as spaces (the module's rule).
    NUL is not touched here: it is refused before (has_nul)."""
    if value.isprintable():  # the common case, in one C loop: nothing to remove
        return value
    if "\r" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    return value.translate(_INVISIBLE)


def one_line(value: str) -> str:
    """A line (a title, a name): the text cleaned, every run of white space (line breaks too) one space."""
    return _SPACES.sub(" ", clean_text(value)).strip()


def checked_text(
    value: str | None, field: str, *, max_len: int, line: bool = False, min_len: int = 1, code: str = "validation"
) -> str:
    """A text a service keeps, by the module's rule: NUL refused, controls removed (a line folded), then its
    length checked; "" only where `min_len` is 0. Refusals are 422s naming `field`, in the forms' words."""
    from core.errors import ValidationFailed

    def refuse(message: Any, suffix: str) -> ValidationFailed:
        return ValidationFailed(message, code=f"{code}.{suffix}", fields={field: [message]})

    value = value or ""
    if has_nul(value):
        raise refuse(NUL, "nul")
    value = one_line(value) if line else clean_text(value).strip()
    if min_len and not value:
        raise refuse(REQUIRED, "required")
    if len(value) > max_len:
        raise refuse(TOO_LONG % {"limit_value": max_len, "show_value": len(value)}, "too_long")
    if len(value) < min_len:
        raise refuse(TOO_SHORT % {"limit_value": min_len, "show_value": len(value)}, "too_short")
    return value


def api_message(err: dict[str, Any]) -> str:
    """One pydantic error (from ninja's ValidationError) in the forms' words, where there is one."""
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    given = err.get("input")
    if kind == "missing":
        return str(REQUIRED)
    if kind == "string_too_long":
        return str(TOO_LONG % {"limit_value": ctx.get("max_length"), "show_value": len(given or "")})
    if kind == "string_too_short":
        return str(TOO_SHORT % {"limit_value": ctx.get("min_length"), "show_value": len(given or "")})
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return str(NOT_A_NUMBER)
    if kind in ("greater_than_equal", "greater_than"):
        return str(TOO_SMALL % {"limit_value": ctx.get("ge", ctx.get("gt"))})
    if kind in ("less_than_equal", "less_than"):
        return str(TOO_LARGE % {"limit_value": ctx.get("le", ctx.get("lt"))})
    if kind in ("enum", "literal_error"):
        return str(BAD_CHOICE)
    if kind in ("bool_type", "bool_parsing"):
        return str(NOT_A_BOOLEAN)
    if kind in ("string_type", "string_unicode"):
        return str(NOT_A_TEXT)
    if kind in ("decimal_parsing", "decimal_type", "float_parsing", "float_type", "finite_number"):
        return str(NOT_A_DECIMAL)
    if kind in ("decimal_max_digits", "decimal_max_places", "decimal_whole_digits"):
        return str(INVALID)
    if kind in ("date_parsing", "date_type", "date_from_datetime_parsing", "datetime_parsing", "datetime_type"):
        return str(BAD_DATE)
    if kind in ("list_type", "tuple_type", "set_type", "iterable_type"):
        return str(NOT_A_LIST)
    if kind in ("dict_type", "model_type", "model_attributes_type", "dataclass_type"):
        return str(NOT_AN_OBJECT)
    if kind == "extra_forbidden":
        return str(UNKNOWN_FIELD)
    if kind == "string_pattern_mismatch":
        return str(BAD_PATTERN)
    if kind == "too_short":
        return str(TOO_FEW % {"limit_value": ctx.get("min_length")})
    if kind == "too_long":
        return str(TOO_MANY % {"limit_value": ctx.get("max_length")})
    if kind in ("value_error", "assertion_error"):
        # Our own validators raise translated sentences; pydantic prefixes them with "Value error, ".
        return str(ctx.get("error", "")) or str(INVALID)
    # Whatever else pydantic says is in English: a person reading Chinese gets a sentence in Chinese.
    return str(INVALID)


def _no_constants(name: str) -> None:
    # NaN and Infinity are not JSON (RFC 8259), and neither database stores them: refuse them at the door.
    raise json.JSONDecodeError(f"{name} is not allowed in JSON", name, 0)


def strict_json(raw: bytes) -> Any:
    """JSON as RFC 8259 says it travels: UTF-8 (json.loads would guess UTF-16 and UTF-32 from bytes, and a
    byte-order mark is refused), without NaN or Infinity. Raises json.JSONDecodeError (a ValueError)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise json.JSONDecodeError("JSON must be UTF-8", "", exc.start) from exc
    return json.loads(text, parse_constant=_no_constants)
