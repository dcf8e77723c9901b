"""Every write of the 12345 exchange: hotline sources, filing a hotline's order (from a file row or a push),
file imports run by the worker or the command, and the export cursor.

A hotline order is filed by its source's account through the one intake (workorders.workorder_submit):
the same checks and idempotency as any order, the key being "<source code>:<hotline number>", so a
number filed twice — a file imported again, a push retried, fifty pushes at once — is one order. The
HotlineOrder row written with it keeps the number for the export back (办结回传).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.services import role_assign, user_create
from catalog.models import Category
from core import ratelimit
from core.clock import now
from core.errors import ApiError, NotFound, PermissionDenied, ValidationFailed
from core.signing import new_secret
from core.worker import claim_due
from integrations import hotline
from integrations.models import HotlineOrder, HotlineSource, ImportRun
from org.models import Level, Node
from org.policy import INTEGRATION_ROLE, Cap, may
from workorders.models import Channel, WorkOrder
from workorders.services import workorder_submit

ROTATION_GRACE = dt.timedelta(days=1)
LEASE = dt.timedelta(minutes=2)


def setting(name: str) -> Any:
    return settings.GONGZHI["HOTLINE"][name]


# --- sources ---------------------------------------------------------------------------------------------


def _check_manager(by: User, node: Node) -> None:
    if not may(by, Cap.INTEGRATIONS_MANAGE, node.path):
        raise PermissionDenied()


def _clean_mapping(mapping: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    if not isinstance(mapping, dict):
        raise ValidationFailed(fields={"mapping": [_("The mapping is an object of columns, categories and units.")]})
    unknown = set(mapping) - {"columns", "categories", "units"}
    if unknown:
        errors["mapping"] = [_("Unknown parts: %(names)s") % {"names": ", ".join(sorted(unknown))}]
    for part in ("columns", "categories", "units"):
        value = mapping.get(part, {})
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and 0 < len(k) <= 60 and 0 < len(v) <= 60
            for k, v in value.items()
        ):
            errors[f"mapping.{part}"] = [_("A list of names, each to a name (at most 60 characters).")]
    cols = mapping.get("columns", {})
    if isinstance(cols, dict) and set(cols) - set(hotline.FIELDS):
        errors["mapping.columns"] = [
            _("Unknown fields: %(names)s") % {"names": ", ".join(sorted(set(cols) - set(hotline.FIELDS)))}
        ]
    if errors:
        raise ValidationFailed(fields=errors)
    return {k: dict(mapping.get(k, {})) for k in ("columns", "categories", "units") if mapping.get(k)}


@transaction.atomic
def source_create(
    *,
    by: User,
    name: str,
    code: str,
    node: Node,
    mapping: dict[str, Any] | None = None,
    default_category: Category | None = None,
) -> HotlineSource:
    """A hotline system, with its own account (it files what it sends into `node`'s subtree)."""
    _check_manager(by, node)
    name, code = (name or "").strip(), (code or "").strip().lower()
    errors: dict[str, list[str]] = {}
    if not 1 <= len(name) <= 60:
        errors["name"] = [_("Please give a name of at most 60 characters.")]
    if not code or len(code) > 20 or not all(ch.isascii() and (ch.isalnum() or ch in "-_") for ch in code):
        errors["code"] = [_("Letters, digits, - and _, at most 20.")]
    elif HotlineSource.objects.filter(code=code).exists():
        errors["code"] = [_("Another source has this code.")]
    if node.level > Level.TOWN:
        errors["node"] = [_("A hotline serves a county or a town.")]
    if errors:
        raise ValidationFailed(fields=errors)
    account = user_create(username=f"hotline-{code}", password=None, display_name=name[:40])
    role_assign(user=account, role=INTEGRATION_ROLE, node=node)
    return HotlineSource.objects.create(
        name=name,
        code=code,
        node=node,
        account=account,
        mapping=_clean_mapping(mapping or {}),
        default_category=default_category,
        secret=new_secret(),
    )


@transaction.atomic
def source_update(
    *,
    source: HotlineSource,
    by: User,
    name: str,
    mapping: dict[str, Any],
    default_category: Category | None,
    is_active: bool,
) -> HotlineSource:
    _check_manager(by, source.node)
    name = (name or "").strip()
    if not 1 <= len(name) <= 60:
        raise ValidationFailed(fields={"name": [_("Please give a name of at most 60 characters.")]})
    source.name = name
    source.mapping = _clean_mapping(mapping)
    source.default_category = default_category
    source.is_active = is_active
    source.save(update_fields=["name", "mapping", "default_category", "is_active"])
    return source


@transaction.atomic
def source_rotate_secret(*, source: HotlineSource, by: User) -> HotlineSource:
    """A new push secret; the old one still works for ROTATION_GRACE, so the hotline switches without a gap."""
    _check_manager(by, source.node)
    source.previous_secret, source.secret, source.rotated_at = source.secret, new_secret(), now()
    source.save(update_fields=["previous_secret", "secret", "rotated_at"])
    return source


def push_secrets(source: HotlineSource) -> list[str]:
    keys = [source.secret]
    if source.previous_secret and source.rotated_at and now() - source.rotated_at < ROTATION_GRACE:
        keys.append(source.previous_secret)
    return keys


# --- one order -------------------------------------------------------------------------------------------


@dataclass
class Filed:
    order: WorkOrder
    created: bool


def hotline_file(*, source: HotlineSource, row: hotline.Row, via: str, looked_up: bool = False) -> Filed:
    """File one hotline order (or find the one its number already made). `looked_up`: the caller has
    just found that the number has no order yet (an import asks for a chunk's numbers at once)."""
    if not looked_up:
        link = HotlineOrder.objects.select_related("order").filter(source=source, number=row.number).first()
        if link is not None:
            return Filed(link.order, False)
    try:
        with transaction.atomic():
            result = workorder_submit(
                by=source.account,
                kind=row.kind,
                category=row.category,
                text=row.text,
                channel=Channel.HOTLINE,
                grid=row.grid,
                address=row.address,
                contact_name=row.caller,
                contact_phone=row.phone,
                idempotency_key=f"{source.code}:{row.number}",
                at=row.time,
                rate="exchange",
            )
            if not result.created:
                return Filed(result.order, False)
            order = result.order
            if row.department is not None or row.unit_node is not None:
                # The hotline has already said who handles it: the dispatcher's suggestion, one click away.
                WorkOrder.objects.filter(pk=order.pk).update(
                    suggested_department=row.department, suggested_node=row.unit_node
                )
            HotlineOrder.objects.create(
                source=source,
                number=row.number,
                order=order,
                unit_name=row.unit_name,
                deadline=row.deadline,
                via=via,
                received_at=now(),
            )
            return Filed(order, True)
    except IntegrityError:
        # The same number at the same moment from another request: its order is the one.
        link = HotlineOrder.objects.select_related("order").filter(source=source, number=row.number).first()
        if link is None:
            raise
        return Filed(link.order, False)


# --- file imports ----------------------------------------------------------------------------------------


@dataclass
class Progress:
    total: int = 0
    done: int = 0
    created: int = 0
    existing: int = 0
    refused: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def refuse(self, line: int, number: str, reason: str) -> None:
        self.refused += 1
        if len(self.errors) < setting("MAX_ERRORS"):
            self.errors.append({"line": line, "number": number, "reason": reason})


class _DryRun(Exception):
    """Raised at the end of a dry run's chunk: what it wrote is rolled back."""


def _number_of(values: dict[str, Any], cols: dict[str, str]) -> str:
    v = values.get(cols["number"], "")
    return str(v).strip()[:40]


def import_file(
    *,
    source: HotlineSource,
    path: Path | str,
    dry_run: bool = False,
    start: int = 0,
    progress: Progress | None = None,
    on_chunk: Callable[[Progress], None] | None = None,
) -> Progress:
    """Import (or, in a dry run, try) every row of a hotline file; each refused row is reported with its
    line number and reason, and the rest are filed. Rows are filed in transactions of CHUNK rows (a
    county's intake is never held up for long); after each chunk `on_chunk` is told. `start`: rows
    already done by an earlier attempt are passed over (their numbers would find their orders anyway).

    A dry run files each chunk and rolls it back: it finds exactly what a real run would refuse, and
    leaves nothing behind."""
    p = progress or Progress()
    cols = hotline.columns(source.mapping)
    lookups = hotline.Lookups.load()
    seen: dict[str, int] = {}
    chunk: list[tuple[int, dict[str, Any]]] = []
    rows = hotline.read_rows(path)
    first = True
    size = setting("CHUNK")

    def flush() -> None:
        if not chunk:
            return
        _import_chunk(source, chunk, cols, lookups, seen, p, dry_run)
        p.done += len(chunk)
        chunk.clear()
        if on_chunk is not None:
            on_chunk(p)

    for index, (line, values) in enumerate(rows):
        if first:
            first = False
            missing = hotline.missing_columns(values, source.mapping)
            if missing:
                raise hotline.RowError(_("The file has no column %(names)s.") % {"names": "、".join(missing)})
        if index < start:
            number = _number_of(values, cols)
            if number:
                seen.setdefault(number, line)
            continue
        chunk.append((line, values))
        if len(chunk) >= size:
            flush()
    flush()
    return p


def _import_chunk(
    source: HotlineSource,
    chunk: list[tuple[int, dict[str, Any]]],
    cols: dict[str, str],
    lookups: hotline.Lookups,
    seen: dict[str, int],
    p: Progress,
    dry_run: bool,
) -> None:
    numbers = [_number_of(v, cols) for _line, v in chunk]
    known = set(
        HotlineOrder.objects.filter(source=source, number__in=[n for n in numbers if n]).values_list(
            "number", flat=True
        )
    )
    try:
        with transaction.atomic(), ratelimit.suspended() if dry_run else nullcontext():
            for (line, values), number in zip(chunk, numbers, strict=True):
                if number and number in seen:
                    p.refuse(line, number, _("The same order number is on line %(line)s.") % {"line": seen[number]})
                    continue
                if number in known:
                    p.existing += 1
                    seen[number] = line
                    continue
                try:
                    row = hotline.parse(
                        values,
                        mapping=source.mapping,
                        area=source.node,
                        default_category=source.default_category,
                        lookups=lookups,
                    )
                    filed = hotline_file(source=source, row=row, via=HotlineOrder.Via.FILE, looked_up=True)
                except hotline.RowError as exc:
                    p.refuse(line, number, str(exc))
                    continue
                except ApiError as exc:
                    p.refuse(line, number, _reason(exc))
                    continue
                seen[number] = line
                if filed.created:
                    p.created += 1
                else:
                    p.existing += 1
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass


def _reason(exc: ApiError) -> str:
    if exc.fields:
        return "; ".join(" ".join(str(m) for m in msgs) for msgs in exc.fields.values())
    return str(exc.message)


@transaction.atomic
def import_queue(*, source: HotlineSource, by: User, upload: Any, dry_run: bool) -> ImportRun:
    """Keep an uploaded file for the `run_imports` worker; the page follows its progress."""
    if not may(by, Cap.INTEGRATIONS_EXCHANGE, source.node.path):
        raise NotFound(_("No such hotline source."), code="hotline.not_found")
    if not source.is_active:
        raise ValidationFailed(fields={"source": [_("This source is switched off.")]})
    limit = setting("MAX_FILE_MB") * 1024 * 1024
    if upload is None or upload.size == 0:
        raise ValidationFailed(fields={"file": [_("Please choose a file.")]})
    if upload.size > limit:
        raise ValidationFailed(
            fields={"file": [_("The file is larger than %(mb)s MB.") % {"mb": setting("MAX_FILE_MB")}]}
        )
    name = (getattr(upload, "name", "") or "file")[-200:]
    if not name.lower().endswith((".csv", ".xlsx", ".txt")):
        raise ValidationFailed(fields={"file": [_("An Excel (.xlsx) or CSV file, please.")]})
    t = now()
    run = ImportRun(
        source=source, by=by, token=secrets.token_hex(16), filename=name, dry_run=dry_run, created_at=t, next_check_at=t
    )
    run.file.save("upload", ContentFile(upload.read()), save=False)
    run.save()
    return run


def import_step() -> bool:
    """The `run_imports` worker's step: take the oldest queued (or abandoned) import and run it to its end,
    saving its progress after each chunk and renewing its lease, so a worker killed mid-file leaves it to
    the next one, which goes on from the rows already done."""
    pk = claim_due(ImportRun, LEASE)
    if pk is None:
        return False
    if pk == 0:
        return True
    run = ImportRun.objects.select_related("source__account", "source__node", "source__default_category").get(pk=pk)
    if run.state in (ImportRun.State.DONE, ImportRun.State.FAILED):
        ImportRun.objects.filter(pk=pk).update(next_check_at=None)
        return True
    run_import(run)
    return True


def run_import(run: ImportRun) -> ImportRun:
    t = now()
    path = run.file.path
    if run.state == ImportRun.State.QUEUED or not run.total:
        try:
            run.total = hotline.count_rows(path)
        except hotline.RowError as exc:
            return _fail(run, str(exc))
    ImportRun.objects.filter(pk=run.pk).update(
        state=ImportRun.State.RUNNING, started_at=run.started_at or t, total=run.total, next_check_at=t + LEASE
    )
    p = Progress(
        total=run.total,
        done=run.done,
        created=run.created,
        existing=run.existing,
        refused=run.refused,
        errors=list(run.errors),
    )

    def save(pr: Progress) -> None:
        ImportRun.objects.filter(pk=run.pk).update(
            done=pr.done,
            created=pr.created,
            existing=pr.existing,
            refused=pr.refused,
            errors=pr.errors,
            next_check_at=now() + LEASE,
        )

    try:
        import_file(source=run.source, path=path, dry_run=run.dry_run, start=run.done, progress=p, on_chunk=save)
    except hotline.RowError as exc:
        return _fail(run, str(exc))
    save(p)
    ImportRun.objects.filter(pk=run.pk).update(
        state=ImportRun.State.DONE,
        finished_at=now(),
        next_check_at=None,
        total=p.done,  # the rows there were
    )
    run.refresh_from_db()
    return run


def _fail(run: ImportRun, why: str) -> ImportRun:
    ImportRun.objects.filter(pk=run.pk).update(
        state=ImportRun.State.FAILED, failure=why[:300], finished_at=now(), next_check_at=None
    )
    run.refresh_from_db()
    return run


# --- export ----------------------------------------------------------------------------------------------


@transaction.atomic
def export_mark(*, source: HotlineSource, by: User, until: dt.datetime) -> HotlineSource:
    """Remember how far the hotline has been sent its replies: the next export starts there."""
    if not may(by, Cap.INTEGRATIONS_EXCHANGE, source.node.path):
        raise NotFound(_("No such hotline source."), code="hotline.not_found")
    HotlineSource.objects.filter(pk=source.pk).update(exported_until=until)
    source.exported_until = until
    return source
