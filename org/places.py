"""Where an address written in words lies on the tree: "东镇东村A1湾组3号" → grid A1湾组.

Other systems (a 12345 hotline's export, an Open311 client with an address and no coordinates) say where
a problem is in words. The tree's own names are what such addresses are made of, so an address is placed
by the names of the tree it contains:

- every node whose name (two characters or more) occurs in the address is a candidate;
- the deepest candidate wins, and among equally deep ones the one with more of its ancestors named too
  ("南镇东村" picks 南镇's 东村 when both towns have one); a tie that remains is no answer — a guess
  would send the order to the wrong village;
- a grid is the answer; a village or town is the answer only through its one grid (a village of one
  grid); otherwise there is no answer and the caller asks for more (coordinates, a grid).

The names are kept in memory with the tree (core.memo "tree").
"""

from __future__ import annotations

from dataclasses import dataclass

from core.memo import memo
from org.models import Level, Node

MIN_NAME = 2


@dataclass(frozen=True)
class _Entry:
    id: int
    name: str
    path: str
    level: int
    parent_id: int | None


@dataclass(frozen=True)
class _Names:
    by_name: dict[str, tuple[_Entry, ...]]
    lengths: tuple[int, ...]  # the lengths names have: an address is cut into pieces of these lengths
    only_grid: dict[int, int]  # node id → its one grid, for nodes with exactly one grid under them


def _load() -> _Names:
    rows = [_Entry(*r) for r in Node.objects.values_list("id", "name", "path", "level", "parent_id")]
    grids_under: dict[int, list[int]] = {}
    for e in rows:
        if e.level != Level.GRID:
            continue
        for anc in e.path.strip("/").split("/")[:-1]:
            grids_under.setdefault(int(anc), []).append(e.id)
    only = {k: v[0] for k, v in grids_under.items() if len(v) == 1}
    by_name: dict[str, list[_Entry]] = {}
    for e in rows:
        name = "".join(e.name.split())
        if len(name) >= MIN_NAME:
            by_name.setdefault(name, []).append(e)
    lengths = tuple(sorted({len(n) for n in by_name}))
    return _Names({k: tuple(v) for k, v in by_name.items()}, lengths, only)


def _names() -> _Names:
    return memo("tree").get("address-places", _load)


def place_from_address(address: str, *, within: tuple[str, ...] = ()) -> Node | None:
    """The grid an address names, or None when it names none (or more than one). `within`: only nodes
    under these paths count (the caller's area)."""
    text = "".join((address or "").split())
    if len(text) < MIN_NAME:
        return None
    names = _names()
    # A dictionary look-up per piece of the address (a county has thousands of names; an import has a
    # hundred thousand addresses): every piece as long as some name, at every position.
    seen: dict[int, _Entry] = {}
    for n in names.lengths:
        for i in range(len(text) - n + 1):
            for e in names.by_name.get(text[i : i + n], ()):
                seen[e.id] = e
    found = [e for e in seen.values() if not within or any(e.path.startswith(p) for p in within)]
    if not found:
        return None
    hit = {e.id for e in found}

    def score(e: _Entry) -> tuple[int, int]:
        ancestors = [int(a) for a in e.path.strip("/").split("/")[:-1]]
        return (e.level, sum(1 for a in ancestors if a in hit))

    best = max(score(e) for e in found)
    top = [e for e in found if score(e) == best]
    if len(top) != 1:
        return None
    chosen = top[0]
    grid_id = chosen.id if chosen.level == Level.GRID else names.only_grid.get(chosen.id)
    if grid_id is None:
        return None
    return Node.objects.filter(pk=grid_id).first()
