"""One file, start to end: read, lint, fix or diff, map notebook rows, cut excerpts.

``lint_file`` takes and returns plain picklable data (a path, Settings, RunOptions, a
``FileResult``) so that it runs the same in this process, in a worker process
(``optimlint.parallel``) or not at all (a cached result, ``optimlint.cache``).
"""

from __future__ import annotations

import os

from optimlint import fixing, sources
from optimlint.config import Settings
from optimlint.diagnostics import Diagnostic
from optimlint.lint import lint_source
from optimlint.parsing import syntax_error
from optimlint.report.paths import display_path
from optimlint.results import Excerpt, FileResult, RunOptions


def _excerpt(lines: list[str], d: Diagnostic, original_row: int) -> Excerpt:
    """Up to two lines of context around the diagnostic, numbered as the user sees rows."""
    shift = original_row - d.location.row  # notebooks: file row -> cell row
    span_end = original_row + max(0, d.end_location.row - d.location.row)
    if shift:
        first, last = original_row, min(span_end, original_row)  # a cell: no neighbours
    else:
        first, last = max(1, original_row - 2), min(len(lines), span_end + 2)
    return Excerpt(first - shift, [lines[i - 1] for i in range(first, last + 1) if 0 < i <= len(lines)])


def _map_notebook(src, diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    notebook = getattr(src, "notebook", None)
    mapper = getattr(notebook, "map_diagnostic", None)
    if mapper is None:
        return diagnostics
    return [mapper(d) for d in diagnostics]


def lint_file(path: str, settings: Settings, options: RunOptions, read=None, write=None) -> FileResult:
    """Read, lint and (when asked) fix one file. Never raises: problems are in the result.

    ``read(path) -> SourceFile`` and ``write(src, fixed_text)`` replace reading and writing
    the file (standard input linted as ``path``, its fixed text sent to standard output)."""
    result = FileResult(path)
    read, write = read or sources.read_source, write or sources.write_source
    try:
        try:
            src = read(path)
        except sources.SourceError as exc:
            result.diagnostics = [syntax_error(path, str(exc), exc.row, exc.column)]
            result.excerpts = [None]
            return result
        text = src.text
        diagnostics = lint_source(path, text, settings)
        unsafe = options.allow_unsafe(settings)
        if (options.fix or options.diff) and any(d.fixable(unsafe) for d in diagnostics):
            outcome = fixing.fix_text(path, text, settings, unsafe)
            if outcome.text != text:
                if options.diff:
                    notebook = getattr(src, "notebook", None)
                    result.diff = (notebook.diff(outcome.text) if notebook is not None
                                   else unified_diff(path, text, outcome.text))
                else:
                    try:
                        write(src, outcome.text)
                    except (OSError, sources.SourceError) as exc:
                        result.error = f"cannot write the fixed file: {getattr(exc, 'strerror', None) or exc}"
                        return result
                    text = outcome.text
            result.fixed = _map_notebook(src, list(outcome.fixed))
            result.dropped = [(m, reason) for m, (_, reason) in
                              zip(_map_notebook(src, [d for d, _ in outcome.dropped]), outcome.dropped)]
            diagnostics = list(outcome.remaining) if not options.diff else diagnostics
            if getattr(src, "notebook", None) is not None and text != src.text:
                src.notebook = src.notebook.after(text)  # locate what remains in the fixed cells
                if src.notebook.text != text:  # a kept magic / IPython's dedent moved rows
                    text = src.notebook.text
                    diagnostics = lint_source(path, text, settings)
        if not diagnostics:
            return result
        mapped = _map_notebook(src, diagnostics)
        if options.excerpts:
            lines = text.splitlines()
            notebook = getattr(src, "notebook", None)
            result.excerpts = [
                _excerpt(notebook.cell_rows(m.extra["cell"]), m, m.location.row)  # the cell as written
                if notebook is not None and "cell" in m.extra else _excerpt(lines, m, d.location.row)
                for d, m in zip(diagnostics, mapped)]
        else:
            result.excerpts = [None] * len(mapped)
        result.diagnostics = mapped
    except Exception as exc:  # a bug in optimlint: reported, never a traceback
        if os.environ.get("OPTIMLINT_DEBUG") == "1":
            raise
        result.error = (f"internal error: {type(exc).__name__}: {exc} "
                        f"(set OPTIMLINT_DEBUG=1 for a traceback; please report it)")
        result.diagnostics, result.excerpts = [], []
    return result


def unified_diff(path: str, before: str, after: str) -> str:
    import difflib  # only when a diff is asked for (start-up time)

    path = display_path(path)
    return "".join(difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True),
        fromfile=path, tofile=path))
