"""Money and enums are shown one way in every template (issue 23: a template printed ¥600 for a
¥6.00 meal): an amount in fen only through `|yuan`, never arithmetic on fen in the template."""

from __future__ import annotations

import re
from pathlib import Path

import canteen
from canteen.core.templatetags.bilingual import label, yuan

ROOT = Path(canteen.__file__).parent
TEMPLATES = [p for p in ROOT.rglob("*.html") if "node_modules" not in p.parts]
# {{ something_fen ... }} and {% widthratio something_fen ... %} in Django template syntax.
FEN_VARIABLE = re.compile(r"{{\s*([^}]*?_fen\b[^}]*?)}}")
FEN_ARITHMETIC = re.compile(r"{%\s*widthratio\s+\S*_fen\b")


def test_every_amount_in_fen_is_shown_through_the_yuan_filter():
    assert len(TEMPLATES) > 50
    wrong = []
    for path in TEMPLATES:
        text = path.read_text(encoding="utf-8")
        for match in FEN_VARIABLE.finditer(text):
            if "|yuan" not in match.group(1).replace(" ", ""):
                wrong.append(f"{path.relative_to(ROOT)}: {{{{ {match.group(1).strip()} }}}}")
        wrong += [f"{path.relative_to(ROOT)}: {m.group(0)}" for m in FEN_ARITHMETIC.finditer(text)]
    assert wrong == []


def test_yuan_formats_fen_and_label_names_an_enum_value():
    assert yuan(600) == "¥6.00"
    assert yuan(-5) == "¥-0.05"
    assert label("lunch", "meals.SessionKind") == "午餐"
    assert label("unknown", "meals.SessionKind") == "unknown"
