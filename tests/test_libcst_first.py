"""Which texts LibCST parses before CPython has looked at them (``parsing.libcst_may_go_first``):
a file the checks read is parsed once, by LibCST, unless its shape could crash or stall
LibCST's native parser; CPython's parser then goes first, as for every other file."""

from __future__ import annotations

import symtable

import pytest

from conftest import OPT102_LOOP as TRAIN
from optimlint.lint import lint_source
from optimlint.parsing import libcst_may_go_first


def test_training_code_goes_to_libcst_first():
    assert libcst_may_go_first(TRAIN)
    assert libcst_may_go_first("model = nn.Sequential(\n    nn.Linear(10, 2),\n    nn.ReLU(),\n)\n")
    assert libcst_may_go_first("")


@pytest.mark.parametrize("text", [
    "x = " + "(" * 101 + "1" + ")" * 101 + "\n",  # brackets nested past 100
    "x = [" + "(1, 2), " * 101 + "]\n",  # over 100 brackets opened on one row
    "x = " + "-" * 2001 + "1\n",  # a row over 2,000 characters
    "x = (\n" + "    1 +\n" * 500 + "    1)\n",  # a bracketed stretch over 3,000 characters
    "x = 1 + \\\n" * 400 + "1\n",  # a backslash-continued stretch over 3,000 characters
    "x = 1 + \\\r\n" * 400 + "1\r\n",  # the same with Windows line endings
    "".join(" " * i + "if x:\n" for i in range(100)) + " " * 100 + "pass\n",  # 100 indentation levels
    "print(')')\nx = (1\n",  # a bracket closed before it opens (a string's), one left open
    "x = (1\n",  # a bracket never closed
])
def test_shapes_that_go_to_cpython_first(text):
    assert not libcst_may_go_first(text)


def test_a_training_file_that_parses_is_not_parsed_by_cpython(monkeypatch):
    def refuse(*args):
        raise AssertionError("CPython's parser was asked")

    monkeypatch.setattr(symtable, "symtable", refuse)
    found = lint_source("train.py", TRAIN)
    assert [(d.code, d.location.row) for d in found] == [("OPT102", 11)]


def test_cpython_is_asked_once_libcst_refuses(monkeypatch):
    asked = []
    real = symtable.symtable
    monkeypatch.setattr(symtable, "symtable", lambda *a: asked.append(a[1]) or real(*a))
    found = lint_source("train.py", TRAIN + "def report(:\n    pass\n")
    assert asked == ["train.py"]
    assert [(d.code, d.location.row, d.location.column, d.message) for d in found] == [
        ("OPT000", 13, 12, "SyntaxError: invalid syntax")]


def test_the_language_servers_parser_is_never_handed_a_text_cpython_refuses():
    # (its incremental parser forgets its last tree on a text that does not parse: the
    # next edit would then be parsed in full)
    handed = []
    found = lint_source("train.py", TRAIN + "def report(:\n    pass\n", parse=lambda text: handed.append(text))
    assert handed == []
    assert [d.code for d in found] == ["OPT000"]
    lint_source("train.py", TRAIN, parse=lambda text: handed.append(text))
    assert handed == [TRAIN]
