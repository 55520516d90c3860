"""Orchestration: discover files, lint each one (a pure, picklable step), collect.

``lint_source`` lints one text. ``lint_file`` does everything for one path (read, lint,
fix or diff, notebook mapping) and returns a ``FileResult``; its inputs and output are
plain picklable data so it can run in worker processes and be cached. ``run`` is
discover -> ``lint_file`` per file -> collect into a ``RunResult``.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from typing import Callable

from optimlint.config import Settings
from optimlint.diagnostics import Applicability, Diagnostic, Location


def syntax_error(path: str, message: str, row: int = 1, column: int = 1) -> Diagnostic:
    loc = Location(max(row, 1), max(column, 1))
    return Diagnostic("OPT000", "syntax-error", message, path, loc, loc)


def lint_source(path: str, source: str, settings: Settings | None = None,
                project_root: str | None = None) -> list[Diagnostic]:
    """Diagnostics for ``source`` (the text of ``path``): selection, per-file ignores and
    noqa applied, sorted."""
    from optimlint.checks.base import checks_for

    settings = settings or Settings()
    enabled = settings.enabled_codes() - settings.ignored_for(path)
    checks = checks_for(enabled)
    raw = source.encode("utf-8", "surrogatepass")
    checks = [c for c in checks if any(n in raw for n in c.needles)]
    if not checks:
        # No selected rule can fire: skip LibCST, but OPT000 is never deselected, so a
        # cheap parse by CPython looks for syntax errors (confirmed by LibCST, which also
        # knows syntax newer than the running Python).
        if _cpython_parses(source):
            return []
        module_or_error = _parse(path, source)
        return module_or_error if isinstance(module_or_error, list) else []
    module_or_error = _parse(path, source)
    if isinstance(module_or_error, list):
        return module_or_error
    module = module_or_error
    from optimlint.context import FileContext
    from optimlint.suppression import filter_suppressed

    ctx = FileContext(path, source, module, settings, project_root or settings.root)
    out: list[Diagnostic] = []
    for check in checks:
        out.extend(d for d in check.run(ctx) if d.code in enabled)
    out = filter_suppressed(out, source)
    out.sort(key=lambda d: d.sort_key)
    return out


def _cpython_parses(source: str) -> bool:
    import ast

    try:
        ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def _parse(path: str, source: str):
    """The LibCST module, or ``[OPT000 diagnostic]`` when the text does not parse."""
    import libcst as cst

    try:
        return cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        located = _cpython_syntax_error(source)
        if located is not None:  # CPython's message and position are the precise ones
            message, row, column = located
            return [syntax_error(path, f"SyntaxError: {message}", row, column)]
        message = exc.message.removeprefix("parser error: ")
        return [syntax_error(path, f"SyntaxError: {message}", exc.raw_line, exc.raw_column + 1)]
    except RecursionError:
        return [syntax_error(path, "SyntaxError: the file is nested too deeply to be parsed")]


def _cpython_syntax_error(source: str) -> tuple[str, int, int] | None:
    import ast

    try:
        ast.parse(source)
    except SyntaxError as exc:
        if exc.lineno:
            return exc.msg, exc.lineno, exc.offset or 1
    except (ValueError, RecursionError, MemoryError):
        pass
    return None


# --------------------------------------------------------------------------- results
@dataclass
class RunOptions:
    fix: bool = False
    unsafe_fixes: bool | None = None  # None: the config's ``unsafe-fixes``
    diff: bool = False
    jobs: int | None = None  # None: serial for now (parallel.py will pick a default)
    cache: bool = True
    force_exclude: bool = False
    # Keep source excerpts for the ``full`` output.
    excerpts: bool = True

    def allow_unsafe(self, settings: Settings) -> bool:
        return settings.unsafe_fixes if self.unsafe_fixes is None else self.unsafe_fixes


@dataclass
class Excerpt:
    """Source lines to show under a diagnostic: ``lines`` start at display row ``first_row``."""

    first_row: int
    lines: list[str]


@dataclass
class FileResult:
    path: str
    diagnostics: list[Diagnostic] = field(default_factory=list)  # remaining after fixes
    fixed: list[Diagnostic] = field(default_factory=list)
    dropped: list[tuple[Diagnostic, str]] = field(default_factory=list)
    diff: str | None = None
    skipped: bool = False  # nothing selected could fire: no parse
    error: str | None = None  # an internal error or a failed write: the CLI exits 2
    excerpts: list[Excerpt | None] = field(default_factory=list)  # aligned with diagnostics


@dataclass
class RunResult:
    files: list[FileResult] = field(default_factory=list)
    errors: list[Diagnostic] = field(default_factory=list)  # discovery problems

    @property
    def diagnostics(self) -> list[Diagnostic]:
        out = list(self.errors)
        for f in self.files:
            out.extend(f.diagnostics)
        return out

    @property
    def fixed(self) -> list[Diagnostic]:
        return [d for f in self.files for d in f.fixed]

    @property
    def internal_errors(self) -> list[tuple[str, str]]:
        return [(f.path, f.error) for f in self.files if f.error]


# --------------------------------------------------------------------------- one file
def _fixable(d: Diagnostic, unsafe: bool) -> bool:
    return d.fix is not None and (unsafe or d.fix.applicability == Applicability.SAFE)


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


def lint_file(path: str, settings: Settings, options: RunOptions) -> FileResult:
    """Read, lint and (when asked) fix one file. Never raises: problems are in the result."""
    from optimlint import sources

    result = FileResult(path)
    try:
        try:
            src = sources.read_source(path)
        except sources.SourceError as exc:
            result.diagnostics = [syntax_error(path, str(exc))]
            result.excerpts = [None]
            return result
        text = src.text
        diagnostics = lint_source(path, text, settings)
        unsafe = options.allow_unsafe(settings)
        if (options.fix or options.diff) and any(_fixable(d, unsafe) for d in diagnostics):
            from optimlint import fixing

            outcome = fixing.fix_text(path, text, settings, unsafe)
            if outcome.text != text:
                if options.diff:
                    result.diff = unified_diff(path, text, outcome.text)
                else:
                    try:
                        sources.write_source(src, outcome.text)
                    except (OSError, sources.SourceError) as exc:
                        result.error = f"cannot write the fixed file: {getattr(exc, 'strerror', None) or exc}"
                        return result
                    text = outcome.text
            result.fixed = _map_notebook(src, list(outcome.fixed))
            result.dropped = [(m, reason) for m, (_, reason) in
                              zip(_map_notebook(src, [d for d, _ in outcome.dropped]), outcome.dropped)]
            diagnostics = list(outcome.remaining) if not options.diff else diagnostics
        if not diagnostics:
            return result
        mapped = _map_notebook(src, diagnostics)
        if options.excerpts:
            lines = text.splitlines()
            result.excerpts = [_excerpt(lines, m, d.location.row) for d, m in zip(diagnostics, mapped)]
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
    from optimlint.report.paths import display_path

    path = display_path(path)
    return "".join(difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True),
        fromfile=path, tofile=path))


# --------------------------------------------------------------------------- many files
def run(paths, settings: Settings, options: RunOptions | None = None,
        progress: Callable[[int, int], None] | None = None) -> RunResult:
    """Discover the files under ``paths`` and lint each; ``progress(done, total)`` per file."""
    from optimlint.discovery import discover

    options = options or RunOptions()
    files, problems = discover(paths, settings, options.force_exclude)
    result = RunResult()
    for problem in problems:
        result.errors.append(syntax_error(problem.path, problem.message))
    result.files = _lint_all(files, settings, options, progress)
    return result


def _lint_all(files: list[str], settings: Settings, options: RunOptions,
              progress: Callable[[int, int], None] | None) -> list[FileResult]:
    """Lint ``files`` in order. Serial here; ``optimlint.parallel`` / ``cache`` plug in here."""
    out = []
    total = len(files)
    for i, path in enumerate(files, 1):
        out.append(lint_file(path, settings, options))
        if progress is not None:
            progress(i, total)
    return out
