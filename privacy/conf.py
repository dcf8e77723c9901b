"""The retention setting: settings.PERSONAL_DATA_RETENTION_YEARS (GONGZHI_PERSONAL_DATA_RETENTION_YEARS); 0, the
default, keeps personal data for ever."""

from __future__ import annotations

from django.conf import settings


def retention_years() -> int:
    years = int(settings.PERSONAL_DATA_RETENTION_YEARS)
    if years < 0:
        raise ValueError("PERSONAL_DATA_RETENTION_YEARS must be 0 (keep for ever) or more")
    return years
