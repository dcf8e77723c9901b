"""Chinese first: every user-facing string has a zh-Hans translation, and the committed .mo is current."""

from __future__ import annotations

import gettext
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")

needs_gettext = pytest.mark.skipif(
    not (shutil.which("xgettext") and shutil.which("msgfmt")), reason="GNU gettext (xgettext, msgfmt) is not installed"
)


def untranslated(po_text: str) -> list[str]:
    missing = []
    for entry in po_text.split("\n\n"):
        # A long msgid is wrapped: `msgid ""` then the text on the lines that follow, up to msgid_plural/msgstr.
        block = re.search(r'^msgid ((?:".*"\n?)+)', entry, re.M)
        msgid = "".join(line.strip()[1:-1] for line in block.group(1).splitlines()) if block else ""
        if not msgid:
            continue
        if "#, fuzzy" in entry or re.search(r'^msgstr(\[0\])? ""\s*\Z', entry, re.M | re.S):
            missing.append(msgid)
    return missing


@needs_gettext
def test_every_string_in_the_code_is_translated(tmp_path):
    # makemessages writes into the locale/ dir that encloses each source file, so it runs on a copy of
    # the tree: the real catalogue must never be touched by a test.
    tree = tmp_path / "tree"
    shutil.copytree(
        ROOT, tree, ignore=shutil.ignore_patterns(".venv", "var", ".git", "node_modules", "__pycache__", "*.mo")
    )
    env = {**os.environ, "GONGZHI_VAR_DIR": str(tmp_path / "var")}
    env.pop("GONGZHI_LOCALE_DIR", None)
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "zh_Hans", "-v0", "--no-obsolete",
         "--ignore=bench", "--ignore=demo/*", "--ignore=*/management/*", "--ignore=*/tests/*"],
        cwd=tree, env=env, check=True,
    )  # fmt: skip
    fresh = (tree / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po").read_text()
    assert untranslated(fresh) == [], "run `make messages` and translate these in locale/zh_Hans"


@needs_gettext
def test_compiled_catalogue_matches_the_po(tmp_path):
    out = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "--check", "-o", str(out), str(PO)], check=True)
    with out.open("rb") as fresh, MO.open("rb") as committed:
        assert gettext.GNUTranslations(fresh)._catalog == gettext.GNUTranslations(committed)._catalog, (
            "run `make messages` to recompile locale/zh_Hans/LC_MESSAGES/django.mo"
        )


def test_po_has_no_empty_translations():
    assert untranslated(PO.read_text()) == []
