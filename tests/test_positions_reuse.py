"""Positions of statements kept from an earlier lint (the language server's incremental parse
reuses unchanged statement objects, and ``analysis.positions`` reuses their generated
ranges, shifted to where the statement now starts): every diagnostic's range after an edit
must be exactly what a lint from scratch reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from optimlint.config import Settings
from optimlint.lint import lint_source
from optimlint.server_parse import IncrementalParser

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def ranges(diagnostics) -> list[tuple]:
    return [(d.code, d.location.row, d.location.column, d.end_location.row, d.end_location.column)
            for d in diagnostics]


def edits(text: str):
    lines = text.splitlines(keepends=True)
    middle = len(lines) // 2
    yield "insert two lines at the top", "import os\nimport sys\n" + text
    yield "delete the first line", "".join(lines[1:])
    yield "insert a line in the middle", "".join(lines[:middle] + ["print('checkpoint')\n"] + lines[middle:])
    yield "insert a line and indent nothing else", "".join(lines[:middle] + ["\n", "\n"] + lines[middle:])


@pytest.mark.parametrize("fixture", ["train_loop.py", "keras_port.py", "param_groups.py"])
def test_ranges_after_edits_match_a_lint_from_scratch(fixture):
    text = (FIXTURES / fixture).read_text()
    settings = Settings()
    parser = IncrementalParser()
    first = lint_source("train.py", text, settings, parse=parser.parse)
    assert ranges(first) == ranges(lint_source("train.py", text, settings))
    assert first, "the fixture has findings to place"
    for what, edited in edits(text):
        again = lint_source("train.py", edited, settings, parse=parser.parse)
        assert ranges(again) == ranges(lint_source("train.py", edited, settings)), what
