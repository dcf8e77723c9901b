"""One way to move any lifecycle's state: a transition table, a compare-and-set UPDATE, the event row in
the same transaction, and a coded 409 when a move is refused or lost to someone faster.

Every lifecycle of Gongzhi (work orders, one-key calls, extensions, exemptions, claims, redemptions,
participations, activities, and the apps to come) declares a `Machine` in its `states.py` and moves
rows only through `Machine.move`. The pages and the API ask the same machine which actions a user may
take now (`Machine.allowed`), so a button is shown exactly when the service would accept it.

Why a compare-and-set and not a lock: `UPDATE … SET state = new WHERE id = … AND state = old` decides
a race in the database whatever the caller read before, on SQLite and PostgreSQL alike; the loser
changes nothing (0 rows) and gets `<name>.state_changed`. Services that decide side effects from
other columns still lock the row first (`select_for_update`): the machine does not replace that.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any, Generic, TypeVar

from django.db import models, transaction
from django.utils.translation import gettext_lazy as _

from core.errors import ApiError, Conflict, NotFound

M = TypeVar("M", bound=models.Model)
E = TypeVar("E")

Table = Mapping[str, Mapping[str, frozenset[str]]]

REFUSED = _("This cannot be done now that it is %(state)s.")
RACED = _("Someone else changed this just now. Please reload it.")


def table(*rows: tuple[str, str | Iterable[str], str | Iterable[str]]) -> dict[str, dict[str, frozenset[str]]]:
    """Build a transition table from rows (action, from state(s), to state(s)).

    An action with several targets from one state (a rating is good or bad) lists each; the service
    names the one it takes."""
    out: dict[str, dict[str, set[str]]] = {}
    for action, froms, tos in rows:
        froms = (froms,) if isinstance(froms, str) else tuple(froms)
        tos = (tos,) if isinstance(tos, str) else tuple(tos)
        for f in froms:
            out.setdefault(str(action), {}).setdefault(str(f), set()).update(str(t) for t in tos)
    return {a: {f: frozenset(t) for f, t in by_from.items()} for a, by_from in out.items()}


@dataclass(frozen=True)
class Moved(Generic[E]):
    """What a move did: from which state to which, and the event row it wrote (if the machine writes one)."""

    from_state: str
    to_state: str
    event: E | None


@dataclass(frozen=True)
class Machine(Generic[M]):
    """A lifecycle: which action leads from which state to which, for rows of `model`'s `field`.

    model: the class, or its "app_label.Model" label where states.py sits below models.py.
    name: the error-code prefix (`workorder` → `workorder.transition_not_allowed`, `workorder.state_changed`).
    refused: the message of a move the table does not allow, with `%(state)s` for the state's label.
    raced: the message of a move lost to someone faster.
    """

    name: str
    model: type[M] | str  # the class, or "app_label.Model" where states.py sits below models.py
    transitions: Table
    refused: Any = REFUSED
    raced: Any = RACED
    field: str = "state"
    refused_code: str = ""  # default <name>.transition_not_allowed; kept where clients know an older code
    raced_code: str = ""  # default <name>.state_changed
    # Where a refusal says more than "not now": per action, or per state the row is in, a (message, code).
    refused_by_action: Mapping[str, tuple[Any, str]] = dc_field(default_factory=dict)
    refused_in_state: Mapping[str, tuple[Any, str]] = dc_field(default_factory=dict)
    # A move lost to someone faster answers as a refusal from the state the row is in now ("already
    # decided", "already cancelled") instead of the generic `state_changed`.
    recheck: bool = False
    # Decide from the row as it is now, not from the copy the caller read (callers that hold copies across
    # requests: a shop counter's list, an organiser's page). One more read per move.
    decide_on_row: bool = False
    _states: frozenset[str] = dc_field(default=frozenset(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        states = {s for by_from in self.transitions.values() for f, tos in by_from.items() for s in (f, *tos)}
        object.__setattr__(self, "_states", frozenset(states))

    @property
    def model_class(self) -> type[M]:
        if isinstance(self.model, str):
            from django.apps import apps

            return apps.get_model(self.model)
        return self.model

    # --- the table ----------------------------------------------------------------------------
    @property
    def states(self) -> frozenset[str]:
        """Every state the table names."""
        return self._states

    @property
    def actions(self) -> tuple[str, ...]:
        return tuple(self.transitions)

    def targets(self, action: str, state: str) -> frozenset[str]:
        return self.transitions.get(action, {}).get(state, frozenset())

    def target(self, action: str, state: str) -> str | None:
        """The one state `action` leads to from `state` (None when it is not allowed there). Only for
        actions with one outcome: ask `targets` for the others."""
        tos = self.targets(action, state)
        if len(tos) > 1:
            raise ValueError(f"{self.name}: {action} from {state} has several outcomes; name one")
        return next(iter(tos), None)

    def can(self, action: str, state: str, to: str | None = None) -> bool:
        tos = self.targets(action, state)
        return bool(tos) if to is None else to in tos

    def actions_from(self, state: str) -> list[str]:
        return [a for a, by_from in self.transitions.items() if state in by_from]

    def label(self, state: str) -> str:
        field = self.model_class._meta.get_field(self.field)  # a concrete column, never a relation
        choices = dict(field.choices or ()) if isinstance(field, models.Field) else {}
        return str(choices.get(state, state))

    # --- refusing -----------------------------------------------------------------------------
    def refusal(self, state: str, action: str | None = None) -> Conflict:
        message, code = (
            self.refused_in_state.get(state)
            or self.refused_by_action.get(action or "")
            or (
                self.refused,
                self.refused_code or f"{self.name}.transition_not_allowed",
            )
        )
        return Conflict(message % {"state": self.label(state)}, code=code, fields={self.field: [state]})

    def race(self) -> Conflict:
        return Conflict(self.raced, code=self.raced_code or f"{self.name}.state_changed")

    def check(self, obj: M, action: str, to: str | None = None) -> str:
        """The state `action` takes `obj` to (`to` when given), or the coded 409 that refuses it."""
        state = getattr(obj, self.field)
        tos = self.targets(action, state)
        if to is None:
            if len(tos) > 1:
                raise ValueError(f"{self.name}: {action} from {state} has several outcomes; name one")
            if tos:
                return next(iter(tos))
        elif to in tos:
            return to
        raise self.refusal(state, action)

    # --- moving -------------------------------------------------------------------------------
    def move(
        self,
        obj: M,
        action: str,
        to: str | None = None,
        *,
        fields: Mapping[str, Any] | None = None,
        derive: Callable[[M], Mapping[str, Any]] | None = None,
        record: Callable[[str, str], E] | None = None,
        lost: Callable[[M], ApiError | None] | None = None,
        where: Mapping[str, Any] | None = None,
        from_states: Collection[str] | None = None,
    ) -> Moved[E]:
        """Move `obj` by `action` (to `to` where the action has several outcomes), in the caller's
        transaction: check the table, `UPDATE … WHERE pk = obj.pk AND state = <the state obj was read
        in>` with `fields`, then write the event row through `record(from_state, to_state)`.

        derive: computes more columns from the object once its new state and `fields` are set on it
        (a work order's next deadline check). lost: when the UPDATE finds the row already moved, may
        return a more telling error than `<name>.state_changed` (a call someone else took). where: more
        conditions the row must meet for the move (checked in the same UPDATE), refused like a race.
        from_states: the states this caller may move the row from, where who may act depends on the state
        (a resident cancels a reservation, shop staff also goods handed over): checked against the state
        the move is decided from (the row's own with `decide_on_row`), so a copy read before someone else
        moved the row cannot carry the caller past their rule."""
        if not transaction.get_connection().in_atomic_block:
            raise RuntimeError(f"{self.name}: move outside a transaction: the event row could be lost")
        manager = self.model_class._default_manager
        if self.decide_on_row:
            current = manager.filter(pk=obj.pk).values_list(self.field, flat=True).first()
            if current is None:
                raise NotFound()
            setattr(obj, self.field, current)
        from_state: str = getattr(obj, self.field)
        to_state = self.check(obj, action, to)
        if from_states is not None and from_state not in from_states:
            raise self.refusal(from_state, action)
        values = dict(fields or {})
        values[self.field] = to_state
        before = {k: getattr(obj, k) for k in values}
        for k, v in values.items():
            setattr(obj, k, v)
        if derive is not None:
            extra = dict(derive(obj))
            before.update({k: getattr(obj, k) for k in extra if k not in before})
            for k, v in extra.items():
                setattr(obj, k, v)
            values.update(extra)
        updated = manager.filter(pk=obj.pk, **{self.field: from_state}, **(where or {})).update(**values)
        if not updated:
            for k, v in before.items():
                setattr(obj, k, v)
            error = lost(obj) if lost is not None else None
            if error is None and self.recheck:
                now_in = manager.filter(pk=obj.pk).values_list(self.field, flat=True).first()
                error = self.refusal(now_in, action) if now_in is not None else None
            raise error or self.race()
        event = record(from_state, to_state) if record is not None else None
        return Moved(from_state, to_state, event)

    # --- asking -------------------------------------------------------------------------------
    def allowed(self, obj: M, may: Callable[[str], bool]) -> list[str]:
        """The actions the table allows from `obj`'s state and `may(action)` grants this user, in the
        table's order: the buttons a page shows and the `actions` an API answer lists."""
        state = getattr(obj, self.field)
        return [a for a in self.actions_from(state) if may(a)]


MACHINES: dict[str, Machine[Any]] = {}


def register(machine: Machine[M]) -> Machine[M]:
    """Declare a lifecycle (in its app's states.py); tests walk every registered machine."""
    if machine.name in MACHINES and MACHINES[machine.name] is not machine:
        raise ValueError(f"a lifecycle named {machine.name!r} is already declared")
    MACHINES[machine.name] = machine
    return machine
