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


def retyped(text: str):
    """Edits a user makes one after another: a digit of a module-level assignment between two
    functions retyped (the benchmark's edit), a line added inside a function, a statement
    removed, a comment line added before a function."""
    lines = text.splitlines(keepends=True)
    at = min((i for i, line in enumerate(lines) if line.startswith("def ")), key=lambda i: abs(i - len(lines) // 2))
    lines.insert(at, "tuning = 1\n")
    yield "".join(lines)
    for digit in "2121":
        lines[at] = f"tuning = {digit}\n"
        yield "".join(lines)
    inside = next(i for i in range(at + 1, len(lines)) if lines[i].startswith("    ") and lines[i].strip())
    indent = lines[inside][:len(lines[inside]) - len(lines[inside].lstrip())]
    lines.insert(inside, indent + "step = 0\n")
    yield "".join(lines)
    del lines[at]
    yield "".join(lines)
    lines.insert(at, "# tuning removed\n")
    yield "".join(lines)


@pytest.mark.parametrize("fixture", ["train_loop.py", "keras_port.py", "param_groups.py"])
def test_findings_after_a_sequence_of_edits_match_a_lint_from_scratch(fixture):
    """Statement offsets are kept per module-level statement across lints (only the
    statements an edit re-parsed are paired with CPython's tree again): every finding, its
    range, message and fix, is what a lint from scratch of the same text reports."""
    text = (FIXTURES / fixture).read_text()
    settings = Settings()
    parser = IncrementalParser()
    assert lint_source("train.py", text, settings, parse=parser.parse) == lint_source("train.py", text, settings)
    for step, edited in enumerate(retyped(text)):
        again = lint_source("train.py", edited, settings, parse=parser.parse)
        assert again and again == lint_source("train.py", edited, settings), step
    assert parser.partial >= 5


def test_statements_no_tree_holds_are_forgotten():
    """The positions kept per statement object are dropped once no tree holds the statement
    (each edit replaces a statement: a server editing one line would otherwise keep every
    version of it), and findings after the sweep are still a lint from scratch's."""
    import gc

    from optimlint.analysis import positions

    text = (FIXTURES / "train_loop.py").read_text()
    settings = Settings()
    parser = IncrementalParser()
    lines = text.splitlines(keepends=True)
    at = min((i for i, line in enumerate(lines) if line.startswith("def ")), key=lambda i: abs(i - len(lines) // 2))
    lines.insert(at, "tuning = 1\n")
    sizes = []
    for step in range(60):
        lines[at] = f"tuning = {step}\n"
        edited = "".join(lines)
        found = lint_source("train.py", edited, settings, parse=parser.parse)
        if step % 20 == 19:
            gc.collect()
            positions.forget_dead()
            assert found == lint_source("train.py", edited, settings), step
            gc.collect()
            positions.forget_dead()
            sizes.append(len(positions._PAIRED) + len(positions._STATEMENTS))
    assert sizes[-1] <= sizes[0]  # 40 more edits, no more entries
    live = {id(s) for s in parser.module.body}
    assert any(id(entry[0]) in live for entry in positions._PAIRED.values())  # the live ones stay
