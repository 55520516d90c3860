"""Lint one file's text: pre-filter, parse, run the selected checks, apply noqa."""

from __future__ import annotations

from optimlint.config import Settings
from optimlint.diagnostics import Diagnostic, Location


def syntax_error(path: str, message: str, row: int = 1, column: int = 1) -> Diagnostic:
    loc = Location(row, column)
    return Diagnostic("OPT000", "syntax-error", message, path, loc, loc)


def lint_source(path: str, source: str, settings: Settings | None = None,
                project_root: str | None = None) -> list[Diagnostic]:
    """Diagnostics for ``source`` (the text of ``path``), noqa applied, sorted."""
    from optimlint.checks.base import checks_for

    settings = settings or Settings()
    enabled = settings.enabled_codes()
    checks = checks_for(enabled)
    raw = source.encode("utf-8", "surrogatepass")
    checks = [c for c in checks if any(n in raw for n in c.needles)]
    if not checks:
        return []
    import libcst as cst

    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        return [syntax_error(path, f"SyntaxError: {exc.message}", exc.raw_line, exc.raw_column + 1)]
    from optimlint.context import FileContext
    from optimlint.suppression import filter_suppressed

    ctx = FileContext(path, source, module, settings, project_root)
    out: list[Diagnostic] = []
    for check in checks:
        out.extend(d for d in check.run(ctx) if d.code in enabled)
    out = filter_suppressed(out, source)
    out.sort(key=lambda d: d.sort_key)
    return out
