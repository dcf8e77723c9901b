"""Attributes set on an object beyond its declared ones, for whoever reads them next in the same request:
what a template or a response schema shows of a row (its actions, a count, a breadcrumb), or something
worked out once per request (a user's scope). They are not columns: nothing saves them.

One function, so that the type checker is told in one place that these are meant."""

from __future__ import annotations

from typing import Any, TypeVar

T = TypeVar("T")


def attach(obj: T, **attrs: Any) -> T:
    """Set `attrs` on `obj` and return it."""
    for name, value in attrs.items():
        setattr(obj, name, value)
    return obj
