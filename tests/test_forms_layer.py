"""No view reads a posted value by hand: every page action goes through a form (core.forms), where lengths,
NUL bytes and the messages are decided once. Constructing a form from request.POST is the one use."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def hand_reads(source: str) -> list[int]:
    """Lines that read request.POST other than by handing it whole to a call (a form, `_shown` to draw the
    page again): `.get(…)`, `.getlist(…)`, `[…]`, `in request.POST`, or keeping it in a variable."""
    bad = []
    tree = ast.parse(source)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and node.attr == "POST"):
            continue
        parent = parents.get(node)
        if isinstance(parent, ast.Call) and node in parent.args:
            continue  # Form(request.POST), _shown(request.POST)
        if isinstance(parent, ast.IfExp) and isinstance(parents.get(parent), ast.Call):
            continue  # form_class(request.POST if data is None else data)
        bad.append(node.lineno)
    return sorted(bad)


def test_no_view_reads_a_posted_value_by_hand():
    found = []
    for p in sorted(ROOT.glob("*/views.py")) + sorted(ROOT.glob("*/views/*.py")) + [ROOT / "core/pages.py"]:
        for line in hand_reads(p.read_text(encoding="utf-8")):
            found.append(f"{p.relative_to(ROOT)}:{line}")
    assert found == [], "read these through a form (core.forms):\n" + "\n".join(found)


def test_the_check_sees_a_hand_read():
    src = (
        "def v(request):\n"
        "    a = request.POST.get('x')\n"
        "    b = request.POST['y']\n"
        "    p = request.POST\n"
        "    if 'find' in request.POST:\n"
        "        pass\n"
        "    f = Form(request.POST)\n"
    )
    assert hand_reads(src) == [2, 3, 4, 5]
