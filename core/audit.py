from __future__ import annotations

from typing import Any, Protocol

from django.contrib.auth.base_user import AbstractBaseUser

from core.models import PersonalDataAccess


class PersonRecord(Protocol):
    """What the log needs of a resident (org.Resident), without core importing the app above it."""

    pk: Any
    user_id: int | None


def log_personal_read(
    *,
    user: AbstractBaseUser,
    field: str,
    channel: str,
    path: str = "",
    resident: PersonRecord | None = None,
    subject: str = "",
) -> None:
    """Record that `user` saw a whole personal number: `resident`'s, or, for someone not on the register,
    the `subject`'s ("work order ABC caller"). Reading one's own data is not logged. Callers go through
    org.selectors.whole_number, which decides whether the number is shown whole at all."""
    if resident is not None and resident.user_id is not None and resident.user_id == user.pk:
        return
    PersonalDataAccess.objects.create(
        user_id=user.pk,
        resident_id=resident.pk if resident is not None else None,
        subject=subject[:80],
        field=field,
        channel=channel,
        path=path[:300],
    )
