"""Masking of personal numbers (个人信息保护法): shown as 138****1234 and 4201**********1234."""

from __future__ import annotations


def mask_phone(value: str | None) -> str:
    if not value:
        return ""
    digits = value.strip()
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"


def mask_id_number(value: str | None) -> str:
    if not value:
        return ""
    v = value.strip()
    if len(v) < 8:
        return "*" * len(v)
    return f"{v[:4]}{'*' * (len(v) - 8)}{v[-4:]}"


def mask_name(value: str | None) -> str:
    """张阿姨 → 张**: for public views of anonymous reporters."""
    if not value:
        return ""
    return value[0] + "*" * (len(value) - 1)
