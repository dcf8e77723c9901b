"""The demo's appeal texts: every leaf of the default catalogue has its own, varied ones, and every dispatch rule
points at a category and a department the demo county has."""

from __future__ import annotations

import random

from catalog.defaults import TREE
from demo.appeals import CROSS_TALK, LEAF_TEXTS, appeal_text
from demo.names import COUNTY_DEPARTMENTS
from demo.workorders import RULES, TEXTS


def codes(nodes: list) -> list[str]:
    return [c for code, _name, _tc, *rest in nodes for c in [code, *codes(rest[0] if rest else [])]]


LEAVES = [leaf[0] for _c, _n, _t, children in TREE for _c2, _n2, _t2, leaves in children for leaf in leaves]


def test_every_leaf_has_at_least_four_core_sentences():
    assert set(LEAF_TEXTS) == set(LEAVES)
    for code in LEAVES:
        cores = LEAF_TEXTS[code]
        assert len(cores) >= 4 and len(set(cores)) == len(cores), code
        assert all(len(text) >= 4 for text in cores), code
    assert set(TEXTS) == set(LEAVES)  # what seed_orders plays


def test_cross_talk_is_filed_under_leaves():
    assert len(CROSS_TALK) >= 8
    assert all(code in LEAF_TEXTS for code, _text in CROSS_TALK)


def test_appeal_text_is_deterministic_and_varied():
    first = [appeal_text("010101", random.Random(7), place="张家畈村") for _ in range(3)]
    assert len(set(first)) == 1
    rng = random.Random(11)
    for code in ("010101", "060403", "990102", "150202"):
        draws = [appeal_text(code, rng, place=rng.choice(["", "王家湾"])) for _ in range(100)]
        assert len(set(draws)) >= 50, code
    assert any("王家湾" in d for d in draws)


def test_every_leaf_composes():
    rng = random.Random(3)
    for code in LEAVES:
        text = appeal_text(code, rng, place="三组")
        assert text.endswith(("。", "！", "？")) and "{" not in text, (code, text)


def test_rules_point_at_categories_and_departments_that_exist():
    all_codes = set(codes(TREE))
    for code, ending in RULES:
        assert code in all_codes, code
        assert any(d.endswith(ending) for d in COUNTY_DEPARTMENTS), ending
    assert len({code for code, _ in RULES}) == len(RULES)  # one rule per category
