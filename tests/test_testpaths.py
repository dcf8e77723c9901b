"""`make test` runs every test of every app: an app whose tests sit outside pytest's testpaths would never run
(the mediation app's 150 tests nearly did). Every directory of the project holding a test file is under one."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIP = {".venv", "var", "node_modules", ".git", "bench", "static", "templates", "locale", "docs"}


def test_every_directory_with_tests_is_in_the_run():
    paths = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["testpaths"]
    left_out = sorted(
        {
            f.relative_to(ROOT).parts[0]
            for f in ROOT.glob("*/**/test_*.py")
            if f.relative_to(ROOT).parts[0] not in SKIP and not f.relative_to(ROOT).parts[0].startswith(".")
        }
        - set(paths)
    )
    assert left_out == [], f"tests outside pyproject's testpaths, never run by make test: {left_out}"
