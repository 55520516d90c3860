"""``--add-noqa``: write ``# noqa: CODE`` on every line with a finding, so a big codebase can
adopt optimlint (or a new rule) at once and fix its findings later.

Each finding's noqa row gets its code through ``noqa_edit`` (merged into a noqa comment the
line has; nothing when the line is silenced already), so a second run adds nothing. OPT000
cannot be silenced, and OPT001/OPT002 are about noqa comments themselves: none of them gets
one. Files are written atomically, keeping encoding and line endings. In a notebook the
comment goes on the finding's row of its cell (a run's findings there count rows per cell;
the edit is made in the cells' joined text, which writes back only the cells it changes,
outputs and metadata untouched).
"""

from __future__ import annotations

from optimlint.fixing import apply_edits
from optimlint.noqa_edit import noqa_edit
from optimlint.sources import SourceError, read_source, write_source

_NOT_ADDED = frozenset({"OPT000", "OPT001", "OPT002"})


def add_noqa(result) -> tuple[int, list[tuple[str, str]]]:
    """``(directives added, [(path, why not)])`` for the files of a run's ``result``."""
    added = 0
    problems: list[tuple[str, str]] = []
    for f in result.files:
        wanted = [d for d in f.diagnostics if d.code not in _NOT_ADDED]
        if not wanted:
            continue
        try:
            src = read_source(f.path)
        except SourceError as exc:
            problems.append((f.path, str(exc)))
            continue
        text = src.text
        rows: set[int] = set()
        for row, d in sorted(((_text_row(src, d), d) for d in wanted), key=lambda rd: (rd[0], rd[1].code)):
            edit = noqa_edit(text, row, d.code)
            if edit is not None:
                text = apply_edits(text, [edit])
                rows.add(row)
        if text == src.text:
            continue
        try:
            write_source(src, text)
        except SourceError as exc:
            problems.append((f.path, str(exc)))
            continue
        added += len(rows)
    return added, problems


def _text_row(src, d) -> int:
    """The row of ``src.text`` that takes ``d``'s noqa: its noqa row, which in a notebook
    counts from the top of the finding's cell."""
    row = d.noqa_row or d.location.row
    notebook = getattr(src, "notebook", None)
    cell_number = (d.extra or {}).get("cell") if notebook is not None else None
    if cell_number is None:
        return row
    cell = next(c for c in notebook.cells if c.index == cell_number)
    return cell.start_row + row - 1
