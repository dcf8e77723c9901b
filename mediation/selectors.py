"""Who sees which dispute case, and how much of it.

A case is seen by:
- the mediators registered over its place (a village's 调委会 and mediators: its cases; a town's justice office
  and mediators: the town's), and the mediator assigned to it wherever they are registered: the whole case,
  the parties' phones whole (each read logged);
- the residents who are its parties: their own case, the other parties' names masked, no phones;
- whoever reported it (a grid worker from a patrol): what happened to it, the parties' names masked, no phones.
Nobody else: a mediator of another village, department staff, volunteers and other residents get the same 404
as for a case that does not exist. Nothing of a case is on a public page; the figures are counts only."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.clock import SHANGHAI
from core.errors import NotFound
from core.masking import mask_name
from mediation.models import Case, Mediator
from mediation.states import CASE, OPEN_STATES
from org.access import get_scope, paths_q
from org.models import Level as NodeLevel
from org.models import Node, path_prefixes
from org.policy import Cap, under
from org.selectors import whole_number

if TYPE_CHECKING:
    from accounts.models import User


@dataclass(frozen=True)
class Seat:
    """Where a user mediates: the paths of the places they are registered over."""

    paths: tuple[str, ...]
    mediator_ids: frozenset[int]


def seat(user: Any) -> Seat:
    if not getattr(user, "is_authenticated", False):
        return Seat((), frozenset())
    cached = getattr(user, "_mediation_seat", None)
    if cached is not None:
        return cached
    rows = list(Mediator.objects.filter(user_id=user.pk, active=True).values_list("id", "path"))
    out = Seat(tuple(sorted({p for _i, p in rows})), frozenset(i for i, _p in rows))
    user._mediation_seat = out
    return out


def is_mediator(user: Any) -> bool:
    return bool(seat(user).mediator_ids)


def _own_resident_id(user: Any) -> int | None:
    return get_scope(user).own_resident_id if getattr(user, "is_authenticated", False) else None


def cases_for(user: User) -> QuerySet[Case]:
    """The cases `user` sees (see the module's docstring)."""
    if not getattr(user, "is_authenticated", False):
        return Case.objects.none()
    s = seat(user)
    q = Q(reported_by_id=user.pk)
    if s.paths:
        q |= paths_q(s.paths)
    if s.mediator_ids:
        q |= Q(mediator_id__in=s.mediator_ids)
    own = _own_resident_id(user)
    if own is not None:
        q |= Q(pk__in=Case.objects.filter(parties__resident_id=own).values("pk"))
    return Case.objects.filter(q)


def handles(user: User, case: Case) -> bool:
    """Whether `user` mediates `case`: registered over its place, or its mediator."""
    s = seat(user)
    return under(s.paths, case.path) or (case.mediator_id is not None and case.mediator_id in s.mediator_ids)


def access_case(user: User, case_id: int | str) -> Case:
    """The case, if `user` sees it; the same 404 when it does not exist or is not theirs."""
    try:
        pk = int(case_id)
    except (TypeError, ValueError):
        pk = 0
    case = (
        cases_for(user).filter(pk=pk).select_related("node", "mediator", "mediator__node", "work_order").first()
        if pk > 0
        else None
    )
    if case is None:
        raise NotFound(_("No such dispute case in your area."), code="case.not_found")
    return case


def access_code(user: User, code: str) -> Case:
    case = cases_for(user).filter(code=code).first()
    if case is None:
        raise NotFound(_("No such dispute case in your area."), code="case.not_found")
    return access_case(user, case.pk)


def mediators_for(case: Case) -> QuerySet[Mediator]:
    """Who may be assigned to `case`: the active mediators registered over its place or above it."""
    return Mediator.objects.filter(active=True, path__in=path_prefixes(case.path)).select_related("node")


def manage_paths(user: Any) -> tuple[str, ...]:
    """Where `user` keeps the register of mediators (mediation.manage)."""
    return get_scope(user).cap_paths(Cap.MEDIATION_MANAGE)


def mediators_managed(user: User) -> QuerySet[Mediator]:
    """The register of mediators `user` keeps (mediation.manage over the subtree)."""
    paths = manage_paths(user)
    return Mediator.objects.filter(paths_q(paths)).select_related("node", "user") if paths else Mediator.objects.none()


def report_nodes(user: User) -> QuerySet[Node]:
    """The places `user` may report a dispute at (mediation.report, or a mediator's own places)."""
    paths = get_scope(user).cap_paths(Cap.MEDIATION_REPORT) + seat(user).paths
    return Node.objects.filter(paths_q(paths)).filter(level__gte=NodeLevel.VILLAGE) if paths else Node.objects.none()


def may_report_at(user: User, node: Node) -> bool:
    return under(get_scope(user).cap_paths(Cap.MEDIATION_REPORT) + seat(user).paths, node.path)


def watch_paths(user: Any) -> tuple[str, ...]:
    return get_scope(user).cap_paths(Cap.MEDIATION_WATCH)


def actions(user: User, case: Case) -> list[str]:
    """What `user` may do to `case` now: the buttons of its page and the `actions` of the API."""
    if not handles(user, case):
        return []
    out = [a for a in CASE.actions_from(case.state) if a not in ("agree", "break", "resume", "settle")]
    if case.state == "mediating":
        out += ["agree", "settle", "session", "extend"]
    if case.state == "referred":
        out += ["result"]
    if case.state in OPEN_STATES:
        out += ["flag"]
    if case.state == "agreed":
        out += ["follow_up", "scan"]
    return out


def open_referral(case: Case) -> Any:
    return case.referrals.filter(state="sent").first()


def due_follow_up(case: Case) -> Any:
    return case.follow_ups.filter(state__in=("planned", "due")).order_by("due_at", "id").first()


# --- how a case is shown -----------------------------------------------------------------------------------------


def party_rows(user: User, case: Case, *, reveal: bool, channel: str, path: str = "") -> list[dict[str, Any]]:
    """The parties as `user` may see them: for those who handle the case, names, and phones masked unless
    `reveal` (then whole, each read logged); for a party and for the reporter, the others' names masked and no
    phones."""
    full = handles(user, case)
    own = _own_resident_id(user)
    rows = []
    for p in case.parties.select_related("resident").all():
        mine = own is not None and p.resident_id == own
        phone = p.resident.phone if p.resident is not None and not p.phone else p.phone
        rows.append(
            {
                "id": p.pk,
                "side": p.side,
                "side_label": p.get_side_display(),
                "name": p.name if full or mine else mask_name(p.name),
                "resident_id": p.resident_id if full else None,
                "phone": (
                    whole_number(
                        user,
                        phone,
                        field="phone",
                        allowed=reveal,
                        channel=channel,
                        path=path,
                        resident=p.resident,
                        subject=_("dispute case %(code)s party") % {"code": case.code},
                    )
                    if full
                    else ""
                ),
                "you": mine,
            }
        )
    return rows


EVENT_LABELS = {
    "report": gettext_lazy("reported"),
    "spot": gettext_lazy("settled on the spot"),
    "accept": gettext_lazy("accepted for mediation"),
    "assign": gettext_lazy("handed to another mediator"),
    "decline": gettext_lazy("not accepted"),
    "session": gettext_lazy("session recorded"),
    "extend": gettext_lazy("time limit extended"),
    "agree": gettext_lazy("agreement signed"),
    "scan": gettext_lazy("signed copy uploaded"),
    "kept": gettext_lazy("follow-up: agreement kept"),
    "break": gettext_lazy("follow-up: agreement broken"),
    "settle": gettext_lazy("settled"),
    "end": gettext_lazy("mediation ended"),
    "refer": gettext_lazy("referred"),
    "resume": gettext_lazy("back from referral"),
    "flag": gettext_lazy("red flag raised"),
    "unflag": gettext_lazy("red flag lowered"),
    "warn": gettext_lazy("time limit near"),
    "overdue": gettext_lazy("past the time limit"),
    "follow_up_due": gettext_lazy("follow-up visit due"),
}


def event_rows(case: Case) -> list[dict[str, Any]]:
    """The case's history in words."""
    return [
        {
            "at": e.at,
            "label": EVENT_LABELS.get(e.action, e.action),
            "to": CASE.label(e.to_state) if e.to_state else "",
            "by": str(e.by) if e.by is not None else "",
            "note": e.note,
        }
        for e in case.events.select_related("by")
    ]


def due_date(case: Case) -> dt.date | None:
    """The last day of the time limit (the limit ends at 24:00 of it)."""
    if case.due_at is None:
        return None
    return (case.due_at.astimezone(SHANGHAI) - dt.timedelta(seconds=1)).date()


def red_flags(paths: tuple[str, ...]) -> QuerySet[Case]:
    """Open red-flag cases under `paths` (the command centre's board: counts and codes, no parties)."""
    if not paths:
        return Case.objects.none()
    return Case.objects.filter(paths_q(paths), red_flag=True, state__in=OPEN_STATES).select_related("node")
