"""Orchestration: discover files, lint each one (a pure, picklable step), collect.

``lint_source`` lints one text. ``lint_file`` does everything for one path (read, lint,
fix or diff, notebook mapping) and returns a ``FileResult``; its inputs and output are
plain picklable data so it can run in worker processes and be cached. ``run`` is
discover -> ``lint_file`` per file -> collect into a ``RunResult``.
"""

from __future__ import annotations

import os

from optimlint.config import Settings
from optimlint.diagnostics import Diagnostic, Location
from optimlint.prefilter import checks_fingerprint, factory_needles, is_candidate, may_fire
from optimlint.records import Record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import Callable


def syntax_error(path: str, message: str, row: int = 1, column: int = 1) -> Diagnostic:
    loc = Location(max(row, 1), max(column, 1))
    return Diagnostic("OPT000", "syntax-error", message, path, loc, loc)


def lint_source(path: str, source: str, settings: Settings | None = None,
                project_root: str | None = None, parse=None) -> list[Diagnostic]:
    """Diagnostics for ``source`` (the text of ``path``): selection, per-file ignores and
    noqa applied, sorted.

    ``parse(source)``: the LibCST module of ``source`` or None, in place of parsing it
    here (the language server re-parses only what an edit changed); on None, or a syntax
    error, the text is parsed here as usual."""
    settings = settings or Settings()
    enabled = settings.enabled_codes() - settings.ignored_for(path)
    raw = source.encode("utf-8", "surrogatepass")
    # The pre-filter runs before the checks (and LibCST) are imported: see optimlint.prefilter.
    factories = factory_needles(settings)
    hits: dict[bytes, bool] = {}  # each needle looked for once, by both filters
    checks = checks_for(enabled) if may_fire(raw, enabled, factories, hits) else []
    checks = [c for c in checks if is_candidate(raw, c.needles, c.requires, factories, hits)]
    # One parse by CPython, for every file: OPT000 is never deselected, so a file no rule
    # can fire on is still checked for syntax errors (confirmed by LibCST, which also knows
    # syntax newer than the running Python); and nesting that would crash LibCST's native
    # parser is refused before it gets there.
    verdict = cpython_verdict(path, source)
    if isinstance(verdict, Diagnostic):
        return [verdict]
    if not checks:
        if verdict is None:
            return []
        module_or_error = _parse(path, source, verdict)
        return module_or_error if isinstance(module_or_error, list) else []
    # A text CPython rejects is parsed here, where the error is reported, not twice.
    module_or_error = (parse(source) if parse is not None and verdict is None else None) \
        or _parse(path, source, verdict)
    if isinstance(module_or_error, list):
        return module_or_error
    module = module_or_error
    from optimlint.context import FileContext
    from optimlint.suppression import filter_suppressed

    def run_checks() -> list[Diagnostic]:
        ctx = FileContext(path, source, module, settings, project_root or settings.root)
        return [d for check in checks for d in check.run(ctx) if d.code in enabled]

    try:
        out = run_checks()
    except RecursionError:
        # Valid code can be deeper than Python's default limit allows the tree walks to go
        # (a 1,000-term string concatenation): retry on a thread with a big stack.
        try:
            out = _with_deep_stack(run_checks)
        except RecursionError:
            return [syntax_error(path, "the file is nested too deeply to be analysed")]
    out = filter_suppressed(out, source)
    out.sort(key=lambda d: d.sort_key)
    return out


def _with_deep_stack(fn):
    """``fn()`` on a thread with a 512 MiB stack and a high recursion limit."""
    import sys
    import threading

    outcome: dict = {}

    def target() -> None:
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(limit, 100_000))
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # re-raised on the calling thread
            outcome["error"] = exc
        finally:
            sys.setrecursionlimit(limit)

    size = threading.stack_size()
    threading.stack_size(512 * 1024 * 1024)
    try:
        worker = threading.Thread(target=target, name="optimlint-deep")
        worker.start()
        worker.join()
    finally:
        threading.stack_size(size)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def checks_for(enabled):
    from optimlint.checks.base import checks_for as _checks_for

    return _checks_for(enabled)


def cpython_verdict(path: str, source: str):
    """What CPython's parser says of ``source``: None when it parses; an OPT000 diagnostic
    for nesting too deep to hand to LibCST (whose native parser overflows the C stack, a
    segmentation fault that would end the run, on a few thousand brackets: CPython refuses
    more than 200); else the syntax error as ``(message, row, column)``, or False when
    CPython could not say where (a NUL byte in a notebook cell)."""
    # symtable parses like ast.parse (same errors, positions and limits) without building
    # Python AST objects: 1.75x faster, and its import costs 1 ms where ast's costs 5-14 ms.
    # It also refuses what only CPython's compiler would (``nonlocal`` at module level, a
    # duplicate argument): LibCST, which accepts those, has the last word on them.
    import symtable
    import warnings

    try:
        with warnings.catch_warnings():  # invalid escapes and the like: not our business
            warnings.simplefilter("ignore")
            symtable.symtable(source, path, "exec")
    except SyntaxError as exc:
        if exc.msg == "too many nested parentheses":
            return syntax_error(path, f"SyntaxError: {exc.msg}", exc.lineno or 1, exc.offset or 1)
        return (exc.msg, exc.lineno, exc.offset or 1) if exc.lineno else False
    except (RecursionError, MemoryError) as exc:
        what = "recursion limit" if isinstance(exc, RecursionError) else "memory"
        return syntax_error(path, "SyntaxError: the file is nested too deeply to be parsed "
                                  f"(CPython's parser ran out of {what})")
    except ValueError:
        return False
    return None


def _parse(path: str, source: str, verdict):
    """The LibCST module, or ``[OPT000 diagnostic]`` when the text does not parse.

    ``verdict``: ``cpython_verdict``'s for the same text (None, a location or False)."""
    import libcst as cst

    try:
        return cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        if verdict is None:
            # Valid Python that LibCST's grammar lacks (`(name): int`): not a syntax error;
            # the file cannot be analysed, so it has no findings.
            return []
        if verdict:  # CPython's message and position are the precise ones
            message, row, column = verdict
            return [syntax_error(path, f"SyntaxError: {message}", row, column)]
        message = exc.message.removeprefix("parser error: ")
        return [syntax_error(path, f"SyntaxError: {message}", exc.raw_line, exc.raw_column + 1)]
    except RecursionError:
        return [syntax_error(path, "SyntaxError: the file is nested too deeply to be parsed")]


# --------------------------------------------------------------------------- results
class RunOptions(Record):
    _FIELDS = ("fix", "unsafe_fixes", "diff", "jobs", "cache", "force_exclude", "excerpts")

    def __init__(self, fix: bool = False, unsafe_fixes: bool | None = None, diff: bool = False,
                 jobs: int | None = None, cache: bool = True, force_exclude: bool = False,
                 excerpts: bool = True) -> None:
        self.fix = fix
        self.unsafe_fixes = unsafe_fixes  # None: the config's ``unsafe-fixes``
        self.diff = diff
        self.jobs = jobs  # None: the number of CPUs (optimlint.parallel.default_jobs)
        self.cache = cache
        self.force_exclude = force_exclude
        self.excerpts = excerpts  # keep source excerpts for the ``full`` output

    def allow_unsafe(self, settings: Settings) -> bool:
        return settings.unsafe_fixes if self.unsafe_fixes is None else self.unsafe_fixes


class Excerpt(Record):
    """Source lines to show under a diagnostic: ``lines`` start at display row ``first_row``."""

    _FIELDS = ("first_row", "lines")

    def __init__(self, first_row: int, lines: list[str]) -> None:
        self.first_row = first_row
        self.lines = lines


class FileResult(Record):
    _FIELDS = ("path", "diagnostics", "fixed", "dropped", "diff", "skipped", "error", "excerpts")

    def __init__(self, path: str, diagnostics: list[Diagnostic] | None = None,
                 fixed: list[Diagnostic] | None = None, dropped: list[tuple[Diagnostic, str]] | None = None,
                 diff: str | None = None, skipped: bool = False, error: str | None = None,
                 excerpts: list[Excerpt | None] | None = None) -> None:
        self.path = path
        self.diagnostics = [] if diagnostics is None else diagnostics  # remaining after fixes
        self.fixed = [] if fixed is None else fixed
        self.dropped = [] if dropped is None else dropped
        self.diff = diff
        self.skipped = skipped  # nothing selected could fire: no parse
        self.error = error  # an internal error or a failed write: the CLI exits 2
        self.excerpts = [] if excerpts is None else excerpts  # aligned with diagnostics


class RunResult(Record):
    _FIELDS = ("files", "errors")

    def __init__(self, files: list[FileResult] | None = None, errors: list[Diagnostic] | None = None) -> None:
        self.files = [] if files is None else files
        self.errors = [] if errors is None else errors  # discovery problems

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
    from optimlint import sources

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
            from optimlint import fixing

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
    import difflib

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
    """Lint ``files``; results in input order.

    Cached results are taken first (``--no-cache``, ``--fix`` and ``--diff`` skip the
    cache); the rest are linted serially in-process or, when there is enough work and
    ``jobs > 1``, by ``optimlint.parallel``'s process pool.
    """
    # Run the cyclic garbage collector less often while linting (forked workers inherit
    # it): CPython's parser and LibCST allocate millions of objects per file that reference
    # counting alone frees, and at the default threshold (a collection every 700
    # allocations) the collector spent 15-20% of the parse time finding nothing.
    import gc

    before = gc.get_threshold()
    gc.set_threshold(max(before[0], 50_000), *before[1:])
    try:
        return _lint_files(files, settings, options, progress)
    finally:
        gc.set_threshold(*before)


def _lint_files(files: list[str], settings: Settings, options: RunOptions,
                progress: Callable[[int, int], None] | None) -> list[FileResult]:
    from optimlint import parallel

    total = len(files)
    out: list[FileResult | None] = [None] * total
    count = 0
    use_cache = options.cache and not (options.fix or options.diff)
    cache = None
    if use_cache and files:
        from optimlint.cache import Cache

        cache = Cache(settings.root or os.getcwd(), settings.fingerprint() + checks_fingerprint())
    jobs = options.jobs or parallel.default_jobs()
    enabled = settings.enabled_codes()
    factories = factory_needles(settings)
    want_bytes = cache is not None or (jobs > 1 and total >= parallel.MIN_FILES)

    todo: list[int] = []
    digests: dict[int, str] = {}
    weights: list[int] = []
    candidate_bytes = total_bytes = 0

    def finish(i: int, result: FileResult, deps=frozenset(), cached: bool = False) -> None:
        nonlocal count
        out[i] = result
        if cache is not None and i in digests and not cached:
            cache.put(files[i], digests[i], result, deps)
        count += 1
        if progress is not None:
            progress(count, total)

    small: list[bytes | None] | None = [] if want_bytes else None  # the bytes of ``todo``
    for i, path in enumerate(files):
        raw = _read_bytes(path) if want_bytes else None
        if raw is not None and cache is not None:
            from optimlint.cache import content_hash

            digests[i] = content_hash(raw)
            hit = cache.get(path, digests[i], options.excerpts)
            if hit is not None:
                finish(i, hit, cached=True)
                continue
        todo.append(i)
        size = len(raw) if raw is not None else 0
        total_bytes += size
        weights.append(size)
        if small is not None:  # kept while the tree is small enough to need the scan below
            small.append(raw)
            if total_bytes >= parallel.MIN_TOTAL_BYTES:
                small = None

    warm = True
    if small is not None and jobs > 1 and len(todo) >= parallel.MIN_FILES:
        # Whether a pool pays depends on how much LibCST will parse, and a candidate weighs
        # ~20x as much (LibCST and the analysis against CPython's parse). Over a big tree the
        # pool is decided already, and this scan would be serial work before it starts
        # (0.5 s on the transformers wheel): the biggest files go first, by size alone.
        for k, raw in enumerate(small):
            if raw is not None and may_fire(raw, enabled, factories):
                candidate_bytes += len(raw)
                weights[k] *= 20
        warm = candidate_bytes > 0
    if parallel.worth_a_pool(jobs, len(todo), candidate_bytes, total_bytes):
        parallel.lint_in_pool([files[i] for i in todo], weights, settings, options, jobs,
                              lambda k, result, deps: finish(todo[k], result, deps), warm=warm)
    else:
        for i in todo:
            finish(i, *parallel.lint_one(files[i], settings, options))
    return out  # type: ignore[return-value]


def _read_bytes(path: str) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError:
        return None
