from __future__ import annotations

from typing import Any, Protocol

from django.contrib.auth.base_user import AbstractBaseUser

from core.models import PersonalDataAccess


class PersonRecord(Protocol):
    """What the log needs of a resident (org.Resident), without core importing the app above it."""

    pk: Any
    user_id: int | None


def log_personal_read(
    *, user: AbstractBaseUser, resident: PersonRecord, field: str, channel: str, path: str = ""
) -> None:
    """Record that `user` saw `resident`'s unmasked `field`. Reading one's own data is not logged."""
    if resident.user_id is not None and resident.user_id == user.pk:
        return
    PersonalDataAccess.objects.create(user=user, resident=resident, field=field, channel=channel, path=path[:300])
