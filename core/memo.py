"""Per-process copies of data read on every request that changes seldom: the catalogue, the dispatch
rules, the grid centres, each user's scope.

Each copy belongs to a named generation ("catalog", "org"): a counter row in `core_generation`. Whatever
changes the data bumps its counter in the same transaction (model signals do it for saves and deletes,
services call `bump` after a queryset `update`). A process drops its copies at once when it bumps a
counter itself, and notices another process's bump the next time it looks at the counter, which it does
at most once every `GONGZHI["MEMO_CHECK_SECONDS"]` (1 s by default): a role taken away in one server
process stops working in the others within that second.

    memo("catalog").get(("category", code), lambda: load(code))
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

T = TypeVar("T")

MAX_ENTRIES = 20_000  # a county's users and codes; past it the copy starts again rather than grow


class Memo:
    def __init__(self, generation: str) -> None:
        self.generation = generation
        self._lock = threading.Lock()
        self._entries: dict[Any, Any] = {}
        self._seen: int | None = None  # the counter the entries were read under
        self._checked_at = 0.0

    def get(self, key: Any, build: Callable[[], T]) -> T:
        self._check()
        try:
            return self._entries[key]
        except KeyError:
            pass
        value = build()
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = value
        return value

    def _check(self) -> None:
        now = time.monotonic()
        if now - self._checked_at < settings.GONGZHI["MEMO_CHECK_SECONDS"]:
            return
        current = _read(self.generation)
        with self._lock:
            if current != self._seen:
                self._entries.clear()
                self._seen = current
            self._checked_at = now

    def discard(self, key: Any) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def forget(self) -> None:
        """Drop every copy and look at the counter again on the next read."""
        with self._lock:
            self._entries.clear()
            self._seen = None
            self._checked_at = 0.0


_memos: dict[str, Memo] = {}
_memos_lock = threading.Lock()


def memo(generation: str) -> Memo:
    try:
        return _memos[generation]
    except KeyError:
        with _memos_lock:
            return _memos.setdefault(generation, Memo(generation))


def _read(generation: str) -> int:
    from core.models import Generation

    return Generation.objects.filter(name=generation).values_list("value", flat=True).first() or 0


def bump(generation: str) -> None:
    """The data behind `generation` changed (or is changing in the current transaction)."""
    from core.models import Generation

    if not Generation.objects.filter(name=generation).update(value=F("value") + 1):
        try:
            with transaction.atomic():
                Generation.objects.create(name=generation, value=1)
        except IntegrityError:  # another writer made the row first
            Generation.objects.filter(name=generation).update(value=F("value") + 1)
    m = memo(generation)
    m.forget()
    # Forget again once the change is visible: a request of this process may have read the old rows
    # between the forget above and the commit, and kept them under the old counter.
    transaction.on_commit(m.forget)


def forget_all() -> None:
    """Every copy in this process (tests: the database rolled back under them)."""
    for m in list(_memos.values()):
        m.forget()


def bump_on_change(generation: str, *models: Any) -> None:
    """Connect saves and deletes of `models` to a bump of `generation`."""
    from django.db.models.signals import post_delete, post_save

    def receiver(sender: Any, **kwargs: Any) -> None:
        if kwargs.get("raw"):  # loaddata
            return
        bump(generation)

    for model in models:
        post_save.connect(receiver, sender=model, weak=False, dispatch_uid=f"memo-{generation}-{model.__name__}")
        post_delete.connect(receiver, sender=model, weak=False, dispatch_uid=f"memo-d-{generation}-{model.__name__}")
