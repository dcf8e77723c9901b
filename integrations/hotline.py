"""Reading a 12345 hotline system's orders: its files (Excel or CSV, in its own column layout) and its
pushed JSON, into one shape (`Row`) that integrations.services files as a work order.

A source's mapping names the column that holds each of FIELDS (`{"columns": {"number": "工单编号", …}}`);
what it leaves out falls back to DEFAULT_COLUMNS, the headers hotline exports commonly use. A hotline's
categories and handling units are its own words: the mapping may translate them (`"categories":
{"路灯不亮": "010101"}`, `"units": {"住建局": "D02"}`), and otherwise they are matched by name against the
catalogue and the county's departments and nodes.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from catalog.models import UNCLASSIFIED, Category
from core.clock import aware
from core.memo import memo
from org.models import Department, Node
from org.places import place_from_address
from workorders.models import TEXT_MAX, Kind

# field → (label, required)
FIELDS: dict[str, tuple[Any, bool]] = {
    "number": (gettext_lazy("hotline order number"), True),
    "time": (gettext_lazy("time received"), False),
    "caller": (gettext_lazy("caller"), False),
    "phone": (gettext_lazy("caller's phone"), False),
    "address": (gettext_lazy("address"), True),
    "content": (gettext_lazy("content"), True),
    "category": (gettext_lazy("category"), False),
    "kind": (gettext_lazy("type"), False),
    "unit": (gettext_lazy("handling unit"), False),
    "deadline": (gettext_lazy("deadline"), False),
}
DEFAULT_COLUMNS = {
    "number": "工单编号",
    "time": "受理时间",
    "caller": "来电人",
    "phone": "来电号码",
    "address": "事发地址",
    "content": "诉求内容",
    "category": "诉求分类",
    "kind": "诉求类型",
    "unit": "承办单位",
    "deadline": "办理时限",
}
# What hotlines call the types of appeal.
KINDS = {
    "咨询": Kind.CONSULT,
    "求助": Kind.HELP,
    "投诉": Kind.COMPLAINT,
    "举报": Kind.REPORT,
    "反映": Kind.REPORT,
    "建议": Kind.SUGGESTION,
    **{k.value: k.value for k in Kind if k != Kind.SERVICE},
}
NUMBER = re.compile(r"^[0-9A-Za-z_.:\-/]{1,40}$")
PHONE = re.compile(r"^\+?[0-9][0-9 \-()]{2,19}$")
MAX_TEXT = TEXT_MAX


class RowError(Exception):
    """Why one row is refused (said to the dispatcher with its line number)."""


@dataclass
class Row:
    number: str
    text: str
    category: Category
    kind: str
    grid: Node
    address: str
    caller: str = ""
    phone: str = ""
    time: dt.datetime | None = None
    deadline: dt.datetime | None = None
    unit_name: str = ""
    department: Department | None = None
    unit_node: Node | None = None


def columns(mapping: dict[str, Any]) -> dict[str, str]:
    given = mapping.get("columns") or {}
    return {f: str(given.get(f) or DEFAULT_COLUMNS[f]) for f in FIELDS}


# --- reading files ---------------------------------------------------------------------------------------


def _decode(raw: bytes) -> str:
    # Excel saves CSV as GB18030 (GBK) on a Chinese Windows; hotline systems mostly as UTF-8, with a BOM.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise RowError(_("The file is neither UTF-8 nor GB18030 text."))


def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))  # an order number Excel stored as a number
    return v if isinstance(v, dt.datetime | dt.date) else str(v).strip()


def read_rows(path: Path | str, name: str = "") -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number as the dispatcher sees it in the file, {header: value}) for each data row. Raises
    RowError when the file is none of Excel (.xlsx) or CSV."""
    path = Path(path)
    with path.open("rb") as fh:
        head = fh.read(4)
    if head.startswith(b"PK"):
        yield from _xlsx_rows(path)
    else:
        yield from _csv_rows(path)


def _xlsx_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    from openpyxl import load_workbook  # only imports that read Excel pay for it

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises a zoo of types for a damaged file
        raise RowError(_("The Excel file cannot be read: %(error)s") % {"error": str(exc)[:200]}) from exc
    try:
        ws = wb.worksheets[0]
        rows = ws.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            return
        names = [str(h).strip() if h is not None else "" for h in header]
        for n, values in enumerate(rows, start=2):
            if values is None or all(v in (None, "") for v in values):
                continue
            yield n, {names[i]: _cell(v) for i, v in enumerate(values) if i < len(names) and names[i]}
    finally:
        wb.close()


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    text = _decode(path.read_bytes())
    if "\x00" in text:
        raise RowError(_("The file contains NUL characters: it is not a CSV file."))
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        return
    names = [h.strip() for h in header]
    for values in reader:
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        yield line, {names[i]: v.strip() for i, v in enumerate(values) if i < len(names) and names[i]}


def count_rows(path: Path | str) -> int:
    """Data rows in a file, for the progress bar (Excel's dimension when it has one)."""
    path = Path(path)
    with path.open("rb") as fh:
        head = fh.read(4)
    if head.startswith(b"PK"):
        from openpyxl import load_workbook

        try:
            wb = load_workbook(path, read_only=True, data_only=True)
            rows = wb.worksheets[0].max_row  # the sheet's recorded dimension: nothing is read for it
            wb.close()
        except Exception:  # damaged: read_rows says why
            rows = None
        return max(0, rows - 1) if rows else sum(1 for _row in _xlsx_rows(path))
    text = _decode(path.read_bytes())
    return max(0, sum(1 for _r in csv.reader(io.StringIO(text, newline=""))) - 1)


def missing_columns(header_row: dict[str, Any], mapping: dict[str, Any]) -> list[str]:
    cols = columns(mapping)
    return [cols[f] for f, (_label, required) in FIELDS.items() if required and cols[f] not in header_row]


# --- one row ---------------------------------------------------------------------------------------------


def _text(values: dict[str, Any], col: str, limit: int, label: Any) -> str:
    v = values.get(col, "")
    v = v if isinstance(v, str) else str(v)
    if "\x00" in v:
        raise RowError(_("%(field)s contains a NUL character.") % {"field": label})
    v = v.strip()
    if len(v) > limit:
        raise RowError(_("%(field)s is longer than %(n)s characters.") % {"field": label, "n": limit})
    return v


def parse_time(value: Any, label: Any) -> dt.datetime | None:
    """A cell or a pushed value as a time: Excel's own datetime or date, or ISO 8601 text ("2026/11/17 09:30"
    too); without a zone, Asia/Shanghai wall-clock time (core.clock.aware)."""
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return aware(value)
    if isinstance(value, dt.date):
        return aware(dt.datetime.combine(value, dt.time.min))
    try:
        return aware(dt.datetime.fromisoformat(str(value).strip().replace("/", "-")))
    except ValueError:
        raise RowError(
            _("%(field)s is not a date and time: %(value)s") % {"field": label, "value": str(value)[:40]}
        ) from None


@dataclass(frozen=True)
class Lookups:
    """The catalogue's and the county's names, read once per import."""

    categories: dict[str, Category]  # by code and by name (leaf names win)
    departments: dict[str, Department]  # by code and by name
    nodes: dict[str, Node]  # by code and by name (unique names only)

    @classmethod
    def load(cls) -> Lookups:
        """Kept in memory with the catalogue and the tree (core.memo): every pushed order asks them."""
        return cls(
            memo("catalog").get("hotline-categories", _categories),
            memo("tree").get("hotline-departments", _departments),
            memo("tree").get("hotline-nodes", _nodes),
        )


def _categories() -> dict[str, Category]:
    cats: dict[str, Category] = {}
    for c in Category.objects.filter(is_active=True).order_by("level"):
        cats[c.name] = c  # deeper levels come later and win
        cats[c.code] = c
    return cats


def _departments() -> dict[str, Department]:
    depts: dict[str, Department] = {}
    for d in Department.objects.all():
        depts[d.name] = d
        depts[d.code] = d
    return depts


def _nodes() -> dict[str, Node]:
    nodes: dict[str, Node] = {}
    all_nodes = list(Node.objects.all())
    names: dict[str, int] = {}
    for n in all_nodes:
        names[n.name] = names.get(n.name, 0) + 1
    for n in all_nodes:
        nodes[n.code] = n
        if names[n.name] == 1:
            nodes.setdefault(n.name, n)  # a name two nodes share names neither
    return nodes


def parse(
    values: dict[str, Any],
    *,
    mapping: dict[str, Any],
    area: Node,
    default_category: Category | None,
    lookups: Lookups,
) -> Row:
    """One row of a file, or one pushed order (the same fields by their own names), as a Row; RowError
    says why it cannot be filed."""
    cols = columns(mapping)
    label = {f: FIELDS[f][0] for f in FIELDS}
    number = _text(values, cols["number"], 40, label["number"])
    if not number:
        raise RowError(_("The hotline order number is missing."))
    if not NUMBER.match(number):
        raise RowError(_("The hotline order number may hold only letters, digits and _ . : - /."))
    text = _text(values, cols["content"], MAX_TEXT, label["content"])
    if len(text) < 2:
        raise RowError(_("The content is missing."))
    address = _text(values, cols["address"], 200, label["address"])
    if not address:
        raise RowError(_("The address is missing."))
    grid = place_from_address(address, within=(area.path,))
    if grid is None:
        raise RowError(
            _("The address names no grid of %(area)s (or more than one): %(address)s")
            % {"area": area.name, "address": address[:60]}
        )
    category_name = _text(values, cols["category"], 60, label["category"])
    category = None
    if category_name:
        code = (mapping.get("categories") or {}).get(category_name)
        category = lookups.categories.get(code or category_name)
    category = category or default_category
    if category is None and not category_name:
        category = lookups.categories.get(UNCLASSIFIED)  # free text: 待分类, for the text model and the dispatcher
    if category is None:
        raise RowError(_("Unknown category: %(name)s") % {"name": category_name or "—"})
    kind_name = _text(values, cols["kind"], 20, label["kind"])
    kind = KINDS.get(kind_name, Kind.REPORT) if kind_name else Kind.REPORT
    if kind_name and kind_name not in KINDS:
        raise RowError(_("Unknown type of appeal: %(name)s") % {"name": kind_name})
    phone = _text(values, cols["phone"], 20, label["phone"])
    if phone and not PHONE.match(phone):
        raise RowError(_("The caller's phone is not a phone number: %(value)s") % {"value": phone})
    row = Row(
        number=number,
        text=text,
        category=category,
        kind=kind,
        grid=grid,
        address=address,
        caller=_text(values, cols["caller"], 40, label["caller"]),
        phone=re.sub(r"[\s\-()]", "", phone),
        time=parse_time(values.get(cols["time"]), label["time"]),
        deadline=parse_time(values.get(cols["deadline"]), label["deadline"]),
    )
    unit = _text(values, cols["unit"], 60, label["unit"])
    if unit:
        row.unit_name = unit
        code = (mapping.get("units") or {}).get(unit) or unit
        row.department = lookups.departments.get(code)
        if row.department is None:
            row.unit_node = lookups.nodes.get(code)
            if row.unit_node is None:
                raise RowError(_("Unknown handling unit: %(name)s") % {"name": unit})
    return row
