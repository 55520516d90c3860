"""Reporters: one module per family of output formats (Ruff's names and shapes).

``render(result, fmt, settings, stream, ...)`` writes a whole run's report to ``stream``.
``json_report.diagnostic_to_json(d)`` is the one JSON object shape (``check
--output-format json`` and the runtime report use it).
"""

from __future__ import annotations

from optimlint.records import Record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import TextIO

    from optimlint.config import Settings
    from optimlint.results import RunResult

FORMATS = ("full", "concise", "json", "json-lines", "sarif", "github", "gitlab", "junit")


class ReportOptions(Record):
    """How a report is written (from the command line's flags). A plain class, not a
    dataclass: creating one costs ~0.5 ms at start-up."""

    _FIELDS = ("show_fixes", "statistics", "quiet", "color", "fix", "unsafe_fixes", "unsafe_files")

    def __init__(self, show_fixes: bool = False, statistics: bool = False, quiet: bool = False,
                 color: bool = False, fix: bool = False, unsafe_fixes: bool = False,
                 unsafe_files: "frozenset[str] | None" = None) -> None:
        self.show_fixes = show_fixes
        self.statistics = statistics
        self.quiet = quiet
        self.color = color
        self.fix = fix  # the run applied fixes: the summary counts them
        self.unsafe_fixes = unsafe_fixes  # unsafe fixes are allowed: count them as fixable
        # Or, when each file's config decides (no --unsafe-fixes on the command line): the
        # files whose settings allow them, as ``--fix`` applies them file by file.
        self.unsafe_files = unsafe_files

    def allows_unsafe(self, d) -> bool:
        """Whether ``--fix`` applies ``d``'s unsafe fix (its file's settings, or the flag)."""
        return self.unsafe_fixes if self.unsafe_files is None else d.filename in self.unsafe_files



def render(result: "RunResult", fmt: str, settings: "Settings | None", stream: TextIO,
           show_fixes: bool = False, statistics: bool = False, options: ReportOptions | None = None) -> None:
    options = options or ReportOptions(show_fixes=show_fixes, statistics=statistics)
    # Each format's module is imported when it is asked for (json, xml, hashlib: start-up time).
    if options.statistics:
        from optimlint.report.statistics import render_statistics

        render_statistics(result, stream, options, fmt)
        return
    if fmt in ("full", "concise"):
        from optimlint.report.text import render_text

        render_text(result, stream, options, full=fmt == "full")
    elif fmt in ("json", "json-lines"):
        from optimlint.report.json_report import render_json, render_json_lines

        (render_json if fmt == "json" else render_json_lines)(result.diagnostics, stream)
    elif fmt == "sarif":
        from optimlint.report.sarif import render_sarif

        render_sarif(result.diagnostics, stream)
    elif fmt in ("github", "gitlab"):
        from optimlint.report.ci import render_github, render_gitlab

        (render_github if fmt == "github" else render_gitlab)(result.diagnostics, stream)
    elif fmt == "junit":
        from optimlint.report.junit import render_junit

        render_junit(result.diagnostics, stream)
    else:
        raise ValueError(f"unknown output format {fmt!r}")


__all__ = ["FORMATS", "ReportOptions", "render"]
