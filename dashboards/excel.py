"""The dashboards' tables, on the page and in Excel alike.

A table is a list of columns (a translated label and a kind) and rows of raw values. The page shows each
value through `text()`; the workbook stores the number and gives its cell a format that shows the same
text: a rate as a percentage with one decimal (rounded half up, in both places, so that 81.25% is 81.3%
on the page and in Excel), a score with two decimals, a change with its sign. The headers are the same
translated labels as the page's.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, overload
from urllib.parse import quote

from django.http import HttpResponse
from django.utils.translation import gettext_lazy as _

from dashboards.indicators import BY_KEY

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NONE = "—"
THOUSANDTH = Decimal("0.001")
HUNDREDTH = Decimal("0.01")


@dataclass(frozen=True)
class Column:
    key: str
    label: Any
    kind: str = "int"  # text · int · rate (0..1) · hours · score · signed (a change) · listed (red/black)

    @property
    def numeric(self) -> bool:
        return self.kind != "text" and self.kind != "listed"


@dataclass
class Table:
    columns: Sequence[Column]
    rows: list[list[Any]] = field(default_factory=list)
    links: list[str] = field(default_factory=list)  # one URL (or "") a row, for its first cell on the page
    keys: list[Any] = field(default_factory=list)  # what each row is about (a unit's id), for the page

    def add(self, values: list[Any], link: str = "", key: Any = None) -> None:
        self.rows.append(values)
        self.links.append(link)
        self.keys.append(key)

    def shown(self) -> list[dict[str, Any]]:
        """The rows as the page shows them: each cell's text and whether it is a number."""
        return [
            {
                "link": link,
                "key": key,
                "values": dict(zip((c.key for c in self.columns), row, strict=True)),
                "text": {c.key: text(v, c.kind) for c, v in zip(self.columns, row, strict=True)},
                "cells": [
                    {
                        "key": c.key,
                        "text": text(v, c.kind),
                        "num": c.numeric,
                        "label": c.label,
                        "kind": c.kind,
                        "raw": v,
                    }
                    for c, v in zip(self.columns, row, strict=True)
                ],
            }
            for row, link, key in zip(self.rows, self.links, self.keys, strict=True)
        ]


# --- one value, as text and as a cell ---------------------------------------------------------------


@overload
def rate(x: None) -> None: ...
@overload
def rate(x: float | Decimal) -> Decimal: ...
def rate(x: float | Decimal | None) -> Decimal | None:
    """A rate rounded to a thousandth (one decimal of a percentage), half up."""
    if x is None:
        return None
    return Decimal(repr(float(x))).quantize(THOUSANDTH, rounding=ROUND_HALF_UP)


def listed_text(value: str) -> str:
    return {"red": str(_("Top list")), "black": str(_("Bottom list"))}.get(value or "", "")


def text(value: Any, kind: str) -> str:
    if kind == "listed":
        return listed_text(value)
    if value is None:
        return NONE
    if kind == "rate":
        r = rate(value)
        return f"{r * 100:.1f}%"
    if kind == "hours":
        return f"{Decimal(repr(float(value))).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}"
    if kind == "score":
        return f"{Decimal(value).quantize(HUNDREDTH, rounding=ROUND_HALF_UP)}"
    if kind == "signed":
        return f"{Decimal(value).quantize(HUNDREDTH, rounding=ROUND_HALF_UP):+}"
    return str(value)


FORMATS = {"rate": "0.0%", "hours": "0.0", "score": "0.00", "signed": "+0.00;-0.00;0.00", "int": "0"}


def _cell(value: Any, kind: str) -> Any:
    if kind == "listed":
        return listed_text(value)
    if value is None:
        return NONE
    if kind == "rate":
        return float(rate(value))
    if kind == "hours":
        return float(Decimal(repr(float(value))).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))
    if kind in ("score", "signed"):
        return float(Decimal(value).quantize(HUNDREDTH, rounding=ROUND_HALF_UP))
    return value


# --- the workbook ---------------------------------------------------------------------------------------


def workbook(
    sheets: Iterable[tuple[str, str, Table]], notes: Sequence[tuple[str, str]] = ()
) -> bytes:  # fmt: skip
    """An .xlsx of one sheet a table: (sheet name, heading line, table); notes (label, text) on a last
    sheet, e.g. the indicators' definitions."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.worksheets[0])  # the sheet a new workbook comes with
    bold = Font(bold=True)
    head_fill = PatternFill("solid", fgColor="F2F2F2")
    for name, heading, table in sheets:
        ws = wb.create_sheet(_sheet_name(name))
        ws.append([heading])
        ws["A1"].font = Font(bold=True, size=13)
        ws.append([str(c.label) for c in table.columns])
        for cell in ws[2]:
            cell.font = bold
            cell.fill = head_fill
            cell.alignment = Alignment(wrap_text=True, vertical="center")
        for row in table.rows:
            ws.append([_cell(v, c.kind) for c, v in zip(table.columns, row, strict=True)])
        for i, c in enumerate(table.columns, 1):
            letter = get_column_letter(i)
            ws.column_dimensions[letter].width = 24 if c.kind == "text" else 12
            fmt = FORMATS.get(c.kind)
            if fmt:
                for (cell,) in ws.iter_rows(min_row=3, min_col=i, max_col=i):
                    if not isinstance(cell.value, str):
                        cell.number_format = fmt
                    cell.alignment = Alignment(horizontal="right")
        ws.freeze_panes = "B3"
    if notes:
        ws = wb.create_sheet(_sheet_name(str(_("Definitions"))))
        for label, note in notes:
            ws.append([label, note])
            ws.cell(ws.max_row, 1).font = bold
            ws.cell(ws.max_row, 2).alignment = Alignment(wrap_text=True, vertical="top")
        ws.column_dimensions["A"].width = 18
        ws.column_dimensions["B"].width = 90
    for ws in wb.worksheets:  # a name such as "=HYPERLINK(…)" stays text, never a formula
        for cells in ws.iter_rows():
            for cell in cells:
                if isinstance(cell.value, str) and cell.value.startswith("="):
                    cell.data_type = "s"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _sheet_name(name: str) -> str:
    for ch in "[]:*?/\\":
        name = name.replace(ch, " ")
    return name[:31] or "Sheet"


def definitions(keys: Iterable[str]) -> list[tuple[str, str]]:
    return [(str(BY_KEY[k].label), str(BY_KEY[k].definition)) for k in keys]


def attachment(content: bytes, filename: str, ascii_name: str) -> HttpResponse:
    """The workbook as a download: the Chinese name for browsers that read RFC 5987 (all current ones),
    a plain one for the rest."""
    response = HttpResponse(content, content_type=XLSX)
    safe = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_.") else "-" for ch in ascii_name)
    response["Content-Disposition"] = f"attachment; filename=\"{safe}\"; filename*=UTF-8''{quote(filename)}"
    response["Cache-Control"] = "private, no-store"
    return response


def stamp(d: dt.date) -> str:
    return f"{d:%Y%m%d}"
