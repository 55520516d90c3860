"""What a run is asked to do and what it gives back: plain picklable records.

``RunOptions`` goes into ``engine.run``; a ``FileResult`` comes back per file (from this
process, a worker process or the cache) and a ``RunResult`` holds them all. The engine,
the cache, the worker pool and the reporters all speak these, and import nothing but them.
"""

from __future__ import annotations

from optimlint.records import Record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from optimlint.config import Settings
    from optimlint.diagnostics import Diagnostic


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
