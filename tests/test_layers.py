"""Imports point down the layers, never up: a lower app never reaches into a higher one.

    core ← org, accounts ← catalog, notify, triage ← workorders, sos, points, volunteers, partylink, notices,
    deliberation, mediation
    ← dashboards, integrations ← api, demo

Each app's non-test, non-migration source is parsed with `ast` (Django is not imported), and every import
statement is read wherever it stands — at the top, inside a function, under `if TYPE_CHECKING:` — as are
`import_module("…")` / `import_string("…")` calls with a literal name. An import between two apps of the
same layer is allowed only where it is listed in ALLOWED; an upward import fails unless listed in
KNOWN_UPWARD, which only shrinks. The project package `gongzhi` (settings, urls, asgi) may import anything;
`bench/` and `tests/` sit outside and no app may import them.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

LAYERS: dict[str, int] = {
    "core": 0,
    "org": 1,
    "accounts": 1,
    "catalog": 2,
    "notify": 2,
    "triage": 2,
    "workorders": 3,
    "sos": 3,
    "points": 3,
    "volunteers": 3,
    "partylink": 3,
    "notices": 3,
    "deliberation": 3,
    "mediation": 3,
    "dashboards": 4,
    "integrations": 4,
    "privacy": 4,
    "api": 5,
    "demo": 5,
}
PROJECT = "gongzhi"  # settings, urls, asgi: wires the apps together, may import any of them
OUTSIDE = {"bench", "tests"}  # benchmarks and cross-cutting tests: may import apps, never imported by one

# Same-layer edges that exist today, (importer, imported), each with its reason. A new one fails.
ALLOWED: dict[tuple[str, str], str] = {
    ("org", "accounts"): "org.access decides who sees what from the user's role assignments (and ready() watches them)",
    ("accounts", "org"): "a role assignment is scoped to a node or a department of the county's tree",
    ("sos", "workorders"): "a one-key call that needs more than a visit becomes a work order (call_to_workorder)",
    (
        "partylink",
        "workorders",
    ): "a need found in a household becomes a work order (need_relay); its photo is checked like an order's",
    (
        "deliberation",
        "workorders",
    ): "photos of proposals, meetings and progress are checked and re-encoded like an order's (workorders.photos)",
    (
        "mediation",
        "workorders",
    ): "a work order that is a dispute becomes a case (order_to_case); agreement photos are checked like an order's",
    ("volunteers", "points"): "a rated participation files a points claim; who manages a shop also manages volunteers",
}

# Upward imports in domain code that exist today: (file, imported module). To be removed; a new one fails.
KNOWN_UPWARD: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Import:
    file: str  # relative to the project root, with forward slashes
    line: int
    module: str  # absolute dotted name of what is imported

    @property
    def app(self) -> str:
        return self.module.split(".")[0]


def _module_name(rel: str) -> str:
    parts = rel.removesuffix(".py").split("/")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(rel: str, node: ast.ImportFrom) -> str:
    """The absolute module a `from … import` names, relative levels resolved against the file's package."""
    if node.level == 0:
        return node.module or ""
    package = _module_name(rel).split(".")
    if not rel.endswith("__init__.py"):
        package = package[:-1]  # a plain module's package is its parent
    base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
    return ".".join([*base, node.module] if node.module else base)


_DYNAMIC = {"import_module", "import_string", "__import__"}


def imports_in(rel: str, source: str) -> Iterator[Import]:
    """Every import in a module's source, at any depth (module, class, function, conditional), by line."""
    for node in sorted(
        (n for n in ast.walk(ast.parse(source, filename=rel)) if isinstance(n, ast.Import | ast.ImportFrom | ast.Call)),
        key=lambda n: (n.lineno, n.col_offset),
    ):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(rel, node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(rel, node)
            yield Import(rel, node.lineno, base)
            if node.level and not node.module:  # `from . import services`: each name is a module or not
                for alias in node.names:
                    yield Import(rel, node.lineno, f"{base}.{alias.name}")
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            arg = node.args[0]
            if name in _DYNAMIC and isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                yield Import(rel, node.lineno, arg.value)


def _is_test_or_migration(rel: str) -> bool:
    parts = rel.split("/")
    name = parts[-1]
    return (
        "tests" in parts[:-1]
        or "migrations" in parts[:-1]
        or name.startswith("test_")
        or name in {"conftest.py", "test.py", "tests.py"}
    )


def source_files(root: Path = ROOT) -> Iterator[str]:
    for app in [*LAYERS, PROJECT]:
        for path in sorted((root / app).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            if not _is_test_or_migration(rel):
                yield rel


def violations(
    found: Iterable[Import],
    allowed: Iterable[tuple[str, str]] = (),
    known_upward: Iterable[tuple[str, str]] = (),
) -> list[str]:
    """What breaks the layering, as 'file:line: importer (layer n) imports module (layer m)'."""
    allowed, known_upward = set(allowed), set(known_upward)
    bad = []
    for imp in found:
        importer = imp.file.split("/")[0]
        if importer == PROJECT or imp.app == importer:
            continue
        if imp.app in OUTSIDE or imp.app == PROJECT:
            bad.append(f"{imp.file}:{imp.line}: {importer} imports {imp.module}, which no app may import")
            continue
        if imp.app not in LAYERS:
            continue  # the standard library or a third-party package
        mine, theirs = LAYERS[importer], LAYERS[imp.app]
        if theirs > mine and (imp.file, imp.module) not in known_upward:
            bad.append(
                f"{imp.file}:{imp.line}: {importer} (layer {mine}) imports {imp.module} (layer {theirs}), upward"
            )
        elif theirs == mine and (importer, imp.app) not in allowed:
            bad.append(
                f"{imp.file}:{imp.line}: {importer} imports {imp.module}, both layer {mine}: a new same-layer edge"
            )
    return bad


def project_imports() -> list[Import]:
    return [imp for rel in source_files() for imp in imports_in(rel, (ROOT / rel).read_text(encoding="utf-8"))]


def test_imports_point_down():
    bad = violations(project_imports(), ALLOWED, KNOWN_UPWARD)
    assert not bad, "imports that break the layers (see tests/test_layers.py):\n" + "\n".join(bad)


def test_the_exceptions_are_still_needed():
    """An ALLOWED edge or a KNOWN_UPWARD import that is gone comes off its list, so it cannot come back."""
    found = project_imports()
    edges = {(imp.file.split("/")[0], imp.app) for imp in found}
    upward = {(imp.file, imp.module) for imp in found}
    assert [edge for edge in ALLOWED if edge not in edges] == []
    assert [entry for entry in KNOWN_UPWARD if entry not in upward] == []


def test_every_app_has_a_layer():
    apps = {p.parent.name for p in ROOT.glob("*/apps.py")}
    assert apps == set(LAYERS), "give a new app its layer in tests/test_layers.py"


def test_the_checker_sees_an_upward_import():
    """A fake low module importing upward, in every form the checker reads, is reported each time."""
    source = (
        "from __future__ import annotations\n"
        "from typing import TYPE_CHECKING\n"
        "import workorders.services\n"  # 3: module level
        "from org.models import Node\n"  # core → org: upward too
        "from django.db import models\n"  # third party: ignored
        "from . import clock\n"  # same app: ignored
        "if TYPE_CHECKING:\n"
        "    from dashboards.models import Tally\n"  # 8: type-only imports count
        "def f():\n"
        "    from demo.county import generate\n"  # 10: function level
        "    from importlib import import_module\n"
        "    return import_module('sos.services')\n"  # 12: by name
        "class C:\n"
        "    from tests.e2e import conftest\n"  # 14: tests are outside
    )
    bad = violations(imports_in("core/fake.py", source))
    assert [b.split(":")[1] for b in bad] == ["3", "4", "8", "10", "12", "14"], bad
    assert all(b.startswith("core/fake.py:") for b in bad)
    assert "core (layer 0) imports workorders.services (layer 3), upward" in bad[0]
    # Listed, the same import passes; a same-layer edge fails until it is allowed.
    upward = list(imports_in("core/fake.py", "import workorders.services\n"))
    assert violations(upward, known_upward=[("core/fake.py", "workorders.services")]) == []
    same = list(imports_in("sos/fake.py", "from points.services import award\n"))
    assert len(violations(same)) == 1
    assert violations(same, allowed=[("sos", "points")]) == []
    # Relative imports resolve against the file's package; the project package may import anything.
    assert [i.module for i in imports_in("org/sub/x.py", "from ..models import Node\nfrom .. import access\n")] == [
        "org.models",
        "org",
        "org.access",
    ]
    assert violations(imports_in("gongzhi/urls.py", "import demo.county\nimport api.api\n")) == []
    # And the walk over the real tree reads the files it should: the demo command's function-level import.
    assert any(
        i.file == "demo/management/commands/seed_demo.py" and i.module == "dashboards.rollups"
        for i in project_imports()
    )
