"""The words for bad input, one set for the pages' forms and the API: a field too long, a NUL byte, a
missing value, a number that is not one. core.forms gives them to every page form; api/ turns pydantic's
errors into the same sentences, so a person reads the same thing whichever way they came in."""

from __future__ import annotations

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


def has_nul(value: Any) -> bool:
    return isinstance(value, str) and "\x00" in value


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
    if kind == "value_error" and str(ctx.get("error", "")) == str(NUL):
        return str(NUL)
    return str(err.get("msg", ""))
