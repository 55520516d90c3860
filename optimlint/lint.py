"""Linting one text: pre-filter, parse, checks, selection, noqa; the findings sorted.

``lint_source`` is pure (text in, diagnostics out): the engine calls it per file, the fixer
after every fix it tries, the runtime join for the files that ran.
"""

from __future__ import annotations

from optimlint.config import Settings
from optimlint.diagnostics import Diagnostic
from optimlint.parsing import NOT_ASKED, cpython_verdict, libcst_may_go_first, parse_text, syntax_error
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
    # One parse by CPython for a file no rule can fire on: OPT000 is never deselected, so it
    # is still checked for syntax errors (confirmed by LibCST, which also knows syntax newer
    # than the running Python). A file the checks read is parsed by LibCST, which has the
    # last word: CPython goes first only where LibCST might not survive the text (nesting
    # that crashes its native parser), to cut a big file into pieces (its ``ast``), or for
    # the language server (``parse``), whose incremental parser keeps the last tree that
    # parsed only if it is never handed a text CPython refuses.
    if checks and parse is None and not _big(source) and libcst_may_go_first(source):
        verdict = NOT_ASKED
    else:
        verdict = cpython_verdict(path, source)
        if isinstance(verdict, Diagnostic):
            return [verdict]
    if not checks:
        if verdict is not None:
            module_or_error = parse_text(path, source, verdict)
            if isinstance(module_or_error, list):
                return module_or_error
        return _noqa_only(path, source, enabled)
    from optimlint.suppression import filter_suppressed

    out = None
    if parse is None and verdict is None:
        from optimlint.pieces import plan  # a big file: cut into independent pieces

        pieces = plan(source)
        if pieces is not None:
            out = _lint_pieces(path, source, pieces, checks, settings, project_root, enabled, factories)
    if out is None:
        # A text CPython rejects is parsed here, where the error is reported, not twice.
        module_or_error = (parse(source) if parse is not None and verdict is None else None) \
            or parse_text(path, source, verdict)
        if isinstance(module_or_error, list):
            return module_or_error
        out = _run_checks(path, source, module_or_error, checks, settings, project_root, enabled)
        if isinstance(out, Diagnostic):
            return [out]
        out = [d for found in out for d in found]
    if "noqa" in source.lower() and not enabled.isdisjoint(("OPT001", "OPT002")):
        from optimlint.noqa_warnings import noqa_diagnostics

        out = out + noqa_diagnostics(path, source, out, enabled)
    out = filter_suppressed(out, source)
    out.sort(key=lambda d: d.sort_key)
    return out


def _big(source: str) -> bool:
    """Long enough to be cut into pieces (``optimlint.pieces``), which CPython's verdict decides."""
    from optimlint.pieces import min_lines

    return source.count("\n") + 1 >= min_lines()


def _run_checks(path: str, source: str, module, checks, settings: Settings, project_root: str | None,
                enabled: set[str], preset: dict | None = None, parsed: str | None = None, rows=None):
    """Each check's diagnostics on ``module`` (the tree of ``source``, or of ``parsed``: a
    piece of it), one list per check; an OPT000 diagnostic when the tree is too deep to
    analyse. ``preset``: analyses already known (a piece's whole-file facts), by their
    ``FileContext.cached`` key."""
    # Start-up time: a file no check can fire on never gets here, and this imports LibCST.
    from optimlint.analysis.modules import forget_module_lookups
    from optimlint.context import FileContext

    forget_module_lookups()  # a lint starts: the project's files as they are now

    def run_checks() -> list[list[Diagnostic]]:
        ctx = FileContext(path, source, module, settings, project_root or settings.root, parsed, rows)
        if preset:
            ctx._cache.update(preset)
        try:
            return [[d for d in check.run(ctx) if d.code in enabled] for check in checks]
        finally:
            ctx.release()

    try:
        return run_checks()
    except RecursionError:
        # Valid code can be deeper than Python's default limit allows the tree walks to go
        # (a 1,000-term string concatenation): retry on a thread with a big stack.
        try:
            return _with_deep_stack(run_checks)
        except RecursionError:
            return syntax_error(path, "the file is nested too deeply to be analysed")


def _lint_pieces(path: str, source: str, pieces, checks, settings: Settings, project_root: str | None,
                 enabled: set[str], factories) -> list[Diagnostic] | None:
    """The checks' diagnostics over the pieces of a big file (``optimlint.pieces.Plan``),
    each parsed, linted and dropped in turn; None when a piece does not parse or is too deep
    (the file is then linted whole, as before). A piece whose text holds none of a check's
    needles is not given to that check, nor parsed when no check is left. Header statements
    are in every piece: a diagnostic found in several pieces is kept once."""
    preset = _whole_file_facts(path, pieces, settings, project_root)
    if preset is None:
        return None
    per_check: list[list[Diagnostic]] = [[] for _ in checks]
    from optimlint import gc_policy
    from optimlint.pieces import Rows

    seen: dict[tuple[int, str], int] = {}  # how many times each piece found one, at most
    for text, segments in pieces.texts:
        raw = text.encode("utf-8", "surrogatepass")
        hits: dict[bytes, bool] = {}
        here = [k for k, c in enumerate(checks) if is_candidate(raw, c.needles, c.requires, factories, hits)]
        if not here:
            continue
        module = parse_text(path, text, None)
        if isinstance(module, list):
            return None
        memos = _memos()
        before = [set(memo) for memo in memos]
        found = _run_checks(path, source, module, [checks[k] for k in here], settings, project_root, enabled,
                            preset, text, Rows(segments))
        for memo, keys in zip(memos, before):  # what they hold of this piece's tree goes with it
            for key in [k for k in memo if k not in keys]:
                del memo[key]
        del module
        gc_policy.piece_done()
        if isinstance(found, Diagnostic):
            return None
        for k, diagnostics in zip(here, found):
            counts: dict[str, int] = {}
            for d in diagnostics:
                key = repr(d)
                counts[key] = counts.get(key, 0) + 1
                if counts[key] > seen.get((k, key), 0):  # not already found in an earlier piece
                    seen[(k, key)] = counts[key]
                    per_check[k].append(d)
    return [d for found in per_check for d in found]


def _memos() -> list[dict]:
    """The analyses' process-wide memos that keep nodes of the trees they were asked about
    (class analyses, function summaries, positions of statements): entries a piece adds
    are dropped after it, or they would keep every piece's tree alive to the end. Only a
    memo is lost: a later piece that needs one computes it again."""
    from optimlint.analysis import callers, modules, positions, summaries

    return [summaries._SUMMARIES, summaries._HOLDERS, modules._CLASSES, callers._POSITIONS,
            positions._STATEMENTS, positions._PAIRED]


def _whole_file_facts(path: str, pieces, settings: Settings, project_root: str | None) -> dict | None:
    """What every piece's analyses must read of the whole file, by ``FileContext.cached``
    key (see ``optimlint.pieces``): the import table and the argparse parser's facts. None
    when the parser's statements do not parse alone."""
    from optimlint.analysis.argparse_defaults import argparse_options, argparse_zero_defaults
    from optimlint.analysis.modules import forget_module_lookups
    from optimlint.analysis.names import ImportTable
    from optimlint.context import FileContext

    forget_module_lookups()

    bindings, stars = pieces.imports
    facts: dict = {"imports": ImportTable(dict(bindings), list(stars)),
                   "argparse.zero_defaults": {}, "argparse.options": {}}
    if pieces.argparse_text is not None:
        module = parse_text(path, pieces.argparse_text, None)
        if isinstance(module, list):
            return None
        ctx = FileContext(path, pieces.argparse_text, module, settings, project_root or settings.root)
        # (argparse_defaults reads only the tree: its own text is fine here)
        zero = argparse_zero_defaults(ctx)
        facts["argparse.zero_defaults"] = {k: v for k, v in zero.items() if k not in pieces.attribute_stores}
        facts["argparse.options"] = argparse_options(ctx)
    return facts


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

