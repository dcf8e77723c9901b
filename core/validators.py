"""Validators for Chinese personal numbers."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# ASCII digits only, whole string: full-width digits or a trailing newline would slip past "$" and \d.
_ID_RE = re.compile(r"\d{17}[\dX]", re.ASCII)
_PHONE_RE = re.compile(r"1[3-9]\d{9}|0\d{2,3}-?\d{7,8}", re.ASCII)


def id_check_char(first17: str) -> str:
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def is_valid_id_number(value: str) -> bool:
    """GB 11643-1999 citizen identity number: 17 digits and a check character."""
    value = value.upper()
    return bool(_ID_RE.fullmatch(value)) and id_check_char(value[:17]) == value[17]


def validate_id_number(value: str) -> None:
    if value and not is_valid_id_number(value):
        raise ValidationError(_("Enter a valid 18-character ID number."), code="invalid_id_number")


def validate_phone(value: str) -> None:
    if value and not _PHONE_RE.fullmatch(value):
        raise ValidationError(_("Enter a valid mobile or landline number."), code="invalid_phone")
