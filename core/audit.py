from __future__ import annotations

from typing import TYPE_CHECKING

from core.models import PersonalDataAccess

if TYPE_CHECKING:
    from accounts.models import User
    from org.models import Resident


def log_personal_read(*, user: User, resident: Resident, field: str, channel: str, path: str = "") -> None:
    """Record that `user` saw `resident`'s unmasked `field`. Reading one's own data is not logged."""
    if resident.user_id is not None and resident.user_id == user.pk:
        return
    PersonalDataAccess.objects.create(user=user, resident=resident, field=field, channel=channel, path=path[:300])
