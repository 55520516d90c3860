"""What the language server computes for an open document, without LSP types: findings in
the coordinates of the text the editor shows, their fixes, "fix all", "disable for this
line", and the codes a hover can explain.

A ``.py`` document is linted as its path (``lint.lint_source``: the file's settings,
per-file-ignores, noqa). A notebook arrives as cells, each its own text document: the
cells are put together as the notebook file would hold them and go through
``notebooks.Notebook``, the notebook reader ``check`` uses, so rows map back to cells and
magics are handled alike; each finding then belongs to its cell's document.
"""

from __future__ import annotations

import json
import re

from optimlint.config import Settings
from optimlint.diagnostics import Diagnostic, Edit, Location
from optimlint.lint import lint_source
from optimlint.fixing import fix_text, line_offsets
from optimlint.noqa_edit import noqa_edit
from optimlint.stdin import excluded


class Finding:
    """One diagnostic as the editor shows it: ``uri`` is the document it is in (a notebook's
    cell), ``diagnostic`` has rows, columns and fix edits in that document's text."""

    __slots__ = ("uri", "diagnostic", "verdict")

    def __init__(self, uri: str, diagnostic: Diagnostic, verdict: str | None = None) -> None:
        self.uri = uri
        self.diagnostic = diagnostic
        self.verdict = verdict  # the runtime companion's, when a report is configured


class Cell:
    """A notebook cell as the editor holds it."""

    __slots__ = ("uri", "text", "code", "python")

    def __init__(self, uri: str, text: str, code: bool = True, python: bool = True) -> None:
        self.uri = uri
        self.text = text
        self.code = code  # False: a markdown cell
        self.python = python  # the cell's language


class Document:
    """What is linted: one text (a ``.py`` file), or a notebook's cells put together."""

    def __init__(self, path: str, uri: str, text: str | None = None, cells: list[Cell] | None = None) -> None:
        self.path = path
        self.uri = uri
        self.cells = cells
        self.notebook = None
        if cells is not None:
            from optimlint.notebooks import read_notebook

            self.notebook = read_notebook(path, json.dumps(_notebook_json(cells)).encode())
            text = self.notebook.text
        self.text = text or ""

    def findings(self, settings: Settings, parse=None) -> list[Finding]:
        """``parse``: what parses the text (``server_parse.IncrementalParser.parse``)."""
        if excluded(self.path, settings):
            return []
        diagnostics = lint_source(self.path, self.text, settings, parse=parse if self.notebook is None else None)
        if self.notebook is None:
            return [Finding(self.uri, d) for d in diagnostics]
        out = []
        for d in diagnostics:
            cell = self.notebook.cell_at(d.location.row)
            if cell is None:
                continue
            mapped = self.notebook.map_diagnostic(d)
            if mapped.fix is not None and any(self.notebook.cell_at(e.location.row) is not cell
                                              for e in d.fix.edits):
                mapped = mapped.with_fix(None)  # an edit in another cell: not offered
            out.append(Finding(self.cells[cell.position].uri, mapped))
        return out

    def fix_all(self, settings: Settings) -> dict[str, list[Edit]]:
        """``{uri: edits}`` applying every fix ``--fix`` would (unsafe ones when the config
        says ``unsafe-fixes``), as ``check --fix`` does: re-parsed, fixed point."""
        if excluded(self.path, settings):
            return {}
        outcome = fix_text(self.path, self.text, settings, settings.unsafe_fixes)
        if outcome.text == self.text:
            return {}
        if self.notebook is None:
            return {self.uri: [minimal_edit(self.text, outcome.text)]}
        changed = self.notebook.cell_sources(outcome.text)
        return {self.cells[position].uri: [minimal_edit(self.cells[position].text, source)]
                for position, source in changed.items()}


def _notebook_json(cells: list[Cell]) -> dict:
    out = []
    for cell in cells:
        entry = {"cell_type": "code" if cell.code else "markdown", "metadata": {}, "source": cell.text}
        if cell.code:
            entry.update(execution_count=None, outputs=[])
            if not cell.python:
                entry["metadata"] = {"vscode": {"languageId": "plaintext"}}
        out.append(entry)
    return {"cells": out, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def _rows(text: str) -> list[str]:
    """The rows of ``text`` with their line endings, split where Python and LibCST split."""
    offsets = line_offsets(text)
    return [text[a:b] for a, b in zip(offsets, offsets[1:])]


def minimal_edit(before: str, after: str) -> Edit:
    """One edit turning ``before`` into ``after``: the rows between their common first and
    last rows (an editor keeps the cursor and folds of the rest)."""
    old, new = _rows(before), _rows(after)
    head = 0
    while head < min(len(old), len(new)) and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < min(len(old), len(new)) - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    end_index = len(old) - tail  # rows [head, end_index) of ``before`` are replaced
    if end_index < len(old) or not old or old[-1].endswith(("\n", "\r")):
        end = Location(end_index + 1, 1)
    else:  # up to the end of a last row without a line ending
        end = Location(len(old), len(old[-1]) + 1)
    return Edit("".join(new[head:len(new) - tail]), Location(head + 1, 1), end)


def disable_edit(text: str, diagnostic: Diagnostic) -> Edit | None:
    """"Disable CODE for this line": the ``# noqa`` edit on the diagnostic's noqa row."""
    return noqa_edit(text, diagnostic.noqa_row or diagnostic.location.row, diagnostic.code)


_NOQA_CODES = re.compile(r"#\s*(?:optimlint\s*:\s*)?noqa\s*:\s*((?:[A-Za-z]+[0-9]+)(?:[\s,]+[A-Za-z]+[0-9]+)*)",
                         re.IGNORECASE)
_CODE = re.compile(r"[A-Za-z]+[0-9]+")


def code_in_noqa(line: str, column: int) -> str | None:
    """The rule code under ``column`` (0-based, in characters) of a ``# noqa: ...`` comment
    on ``line``, upper-cased; None when the column is on no such code."""
    for match in _NOQA_CODES.finditer(line):
        start = match.start(1)
        for code in _CODE.finditer(match.group(1)):
            if start + code.start() <= column <= start + code.end():
                return code.group().upper()
    return None
