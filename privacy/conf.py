"""The retention setting: PERSONAL_DATA_RETENTION_YEARS in settings when the project declares it, else the
environment's GONGZHI_PERSONAL_DATA_RETENTION_YEARS; 0 (the default) keeps personal data for ever."""

from __future__ import annotations

import os

from django.conf import settings


def retention_years() -> int:
    value = getattr(settings, "PERSONAL_DATA_RETENTION_YEARS", None)
    if value is None:
        value = os.environ.get("GONGZHI_PERSONAL_DATA_RETENTION_YEARS", "0") or "0"
    years = int(value)
    if years < 0:
        raise ValueError("PERSONAL_DATA_RETENTION_YEARS must be 0 (keep for ever) or more")
    return years
