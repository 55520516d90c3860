"""Linting one text: pre-filter, parse, checks, selection, noqa; the findings sorted.

``lint_source`` is pure (text in, diagnostics out): the engine calls it per file, the fixer
after every fix it tries, the runtime join for the files that ran.
"""

from __future__ import annotations

from optimlint.config import Settings
from optimlint.diagnostics import Diagnostic
from optimlint.parsing import cpython_verdict, parse_text, syntax_error
from optimlint.prefilter import factory_needles, is_candidate, may_fire


def lint_source(path: str, source: str, settings: Settings | None = None,
                project_root: str | None = None, parse=None) -> list[Diagnostic]:
    """Diagnostics for ``source`` (the text of ``path``): selection, per-file ignores and
    noqa applied, sorted.

    ``parse(source)``: the LibCST module of ``source`` or None, in place of parsing
    it here (the language server re-parses only what an edit changed); on None, or a syntax
    error, the text is parsed here as usual."""
    settings = settings or Settings()
    enabled = settings.enabled_codes() - settings.ignored_for(path)
    raw = source.encode("utf-8", "surrogatepass")
    # The pre-filter runs before the checks (and LibCST) are imported: see optimlint.prefilter.
    factories = factory_needles(settings)
    hits: dict[bytes, bool] = {}  # each needle looked for once, by both filters
    checks = []
    if may_fire(raw, enabled, factories, hits):
        from optimlint.checks.base import checks_for  # LibCST: only for a candidate (start-up time)

        checks = [c for c in checks_for(enabled) if is_candidate(raw, c.needles, c.requires, factories, hits)]
    # One parse by CPython, for every file: OPT000 is never deselected, so a file no rule
    # can fire on is still checked for syntax errors (confirmed by LibCST, which also knows
    # syntax newer than the running Python); and nesting that would crash LibCST's native
    # parser is refused before it gets there.
    verdict = cpython_verdict(path, source)
    if isinstance(verdict, Diagnostic):
        return [verdict]
    if not checks:
        if verdict is not None:
            module_or_error = parse_text(path, source, verdict)
            if isinstance(module_or_error, list):
                return module_or_error
        return _noqa_only(path, source, enabled)
    # A text CPython rejects is parsed here, where the error is reported, not twice.
    module_or_error = (parse(source) if parse is not None and verdict is None else None) \
        or parse_text(path, source, verdict)
    if isinstance(module_or_error, list):
        return module_or_error
    module = module_or_error
    # Start-up time: a file no check can fire on never gets here, and these import LibCST
    # (the context) and tokenize (the noqa reader).
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
    if "noqa" in source.lower() and not enabled.isdisjoint(("OPT001", "OPT002")):
        from optimlint.noqa_warnings import noqa_diagnostics

        out = out + noqa_diagnostics(path, source, out, enabled)
    out = filter_suppressed(out, source)
    out.sort(key=lambda d: d.sort_key)
    return out


def _noqa_only(path: str, source: str, enabled: set[str]) -> list:
    """A parsed file no check can fire on: only its noqa comments can be findings (OPT002
    for each code they name)."""
    if "noqa" not in source.lower() or enabled.isdisjoint(("OPT001", "OPT002")):
        return []
    from optimlint.noqa_warnings import noqa_diagnostics
    from optimlint.suppression import filter_suppressed

    out = filter_suppressed(noqa_diagnostics(path, source, [], enabled), source)
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

