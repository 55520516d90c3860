"""Join static findings with what a watched run observed (torch-free).

Matching rule: a static finding is ``confirmed`` when an observation with the same code
happened in the same file inside the finding's *span*: the top-level statement of the
innermost function (or module) that contains the finding -- for a training loop, the whole
outermost loop; for an optimizer construction, that statement. It is ``not-observed`` when
an event of a kind the rule's runtime check watches (``RuleInfo.observes``: a step for
OPT103, a scheduler step for OPT201, ...) ran inside the span but the mistake did not show,
and ``not-reached`` otherwise. A rule with no runtime check is ``not-observed`` when any
watched event ran in its span (its code ran; nothing could confirm it). Observations that
confirm no static finding are reported on their own (``runtime`` = ``confirmed``,
``extra["runtime_only"]``).
"""

from __future__ import annotations

import ast
import os

from optimlint.diagnostics import Diagnostic, Location
from optimlint.registry import RULES

CONFIRMED = "confirmed"
NOT_OBSERVED = "not-observed"
NOT_REACHED = "not-reached"


def _key(path: str | None) -> str | None:
    return os.path.realpath(path) if path else None


class _Spans:
    """Top-level statement spans per function/module body, from the file's text."""

    def __init__(self, text: str):
        self.bodies: list[tuple[int, int, list[tuple[int, int]]]] = []
        self.statements: list[tuple[int, int]] = []
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            self.bodies = []
            return
        self._add(tree, 1, len(text.splitlines()) + 1)
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self._add(node, node.lineno, node.end_lineno or node.lineno)
            if isinstance(node, ast.stmt):
                self.statements.append((node.lineno, node.end_lineno or node.lineno))

    def statement(self, row: int) -> tuple[int, int]:
        """The innermost statement containing ``row`` (a multi-line call's rows)."""
        best = (row, row)
        size = None
        for s, e in self.statements:
            if s <= row <= e and (size is None or e - s < size):
                best, size = (s, e), e - s
        return best

    def _add(self, node, start, end):
        stmts = [(s.lineno if not getattr(s, "decorator_list", None) else min(d.lineno for d in s.decorator_list),
                  s.end_lineno or s.lineno) for s in node.body]
        self.bodies.append((start, end, stmts))

    def span(self, row: int) -> tuple[int, int]:
        best = None
        for start, end, stmts in self.bodies:
            if start <= row <= end and (best is None or end - start < best[1] - best[0]):
                best = (start, end, stmts)
        if best is None:
            return row, row
        for s, e in best[2]:
            if s <= row <= e:
                return s, e
        return row, row


def join(static: list[Diagnostic], observations, sites: dict | None = None,
         texts: dict[str, str] | None = None, settings=None) -> list[Diagnostic]:
    """Static findings with ``runtime`` set, then runtime-only findings.

    ``observations``: ``Observation`` objects; ``sites``: ``{(filename, row): kinds}`` of
    watched events; ``texts``: file text per path (read from disk when missing);
    ``settings``: when given, runtime-only findings obey its selection and per-file ignores.
    Runtime-only findings also obey ``# noqa`` comments on any line of their statement.
    """
    sites = sites or {}
    texts = dict(texts or {})
    rows_by_file: dict[str, list[tuple[int, set]]] = {}
    for (filename, row), kinds in sites.items():
        rows_by_file.setdefault(_key(filename), []).append((row, kinds))
    obs_by_file: dict[str, list] = {}
    for obs in observations:
        obs_by_file.setdefault(_key(obs.filename), []).append(obs)
    spans_cache: dict[str, _Spans] = {}
    used: set[int] = set()
    out: list[Diagnostic] = []
    for d in static:
        key = _key(d.filename)
        spans = spans_cache.get(key)
        if spans is None:
            text = texts.get(d.filename)
            if text is None:
                try:
                    with open(d.filename, encoding="utf-8", errors="replace") as fh:
                        text = fh.read()
                except OSError:
                    text = ""
            spans = spans_cache[key] = _Spans(text)
        start, end = spans.span(d.location.row)
        matched = [o for o in obs_by_file.get(key, ()) if o.code == d.code and start <= o.row <= end]
        if matched:
            status = CONFIRMED
            used.update(id(o) for o in matched)
            extra = dict(d.extra or {})
            _tag(extra, matched[0])
            d = _replace(d, status, extra)
        elif _ran(d.code, rows_by_file.get(key, ()), start, end):
            d = _replace(d, NOT_OBSERVED, d.extra)
        else:
            d = _replace(d, NOT_REACHED, d.extra)
        out.append(d)
    for obs in observations:
        if id(obs) in used:
            continue
        if _suppressed(obs, texts, spans_cache, settings):
            continue
        info = RULES.get(obs.code)
        loc = Location(max(obs.row, 1), max(obs.column, 1))
        extra = {"runtime_only": True}
        _tag(extra, obs)
        out.append(Diagnostic(obs.code, info.name if info else "", obs.message, obs.filename or "<unknown>",
                              loc, loc, None, None, CONFIRMED, extra))
    return out


def _ran(code: str, rows, start: int, end: int) -> bool:
    """Whether the rule's own event kinds (any kind, for a rule with none) ran in the span."""
    info = RULES.get(code)
    wanted = set(info.observes) if info is not None else set()
    for row, kinds in rows:
        if start <= row <= end and (not wanted or not wanted.isdisjoint(kinds)):
            return True
    return False


def _suppressed(obs, texts, spans_cache, settings) -> bool:
    """A runtime-only finding silenced by config or by a noqa comment on its statement."""
    if not obs.filename:
        return False
    if settings is not None:
        try:
            if obs.code not in settings.enabled_codes() - settings.ignored_for(obs.filename):
                return True
        except Exception:  # pragma: no cover - a broken config must not hide the report
            pass
    text = texts.get(obs.filename)
    if text is None:
        try:
            with open(obs.filename, encoding="utf-8", errors="replace") as fh:
                text = fh.read()
        except OSError:
            return False
        texts[obs.filename] = text
    if "noqa" not in text.lower():
        return False
    from optimlint.suppression import parse_directives

    key = _key(obs.filename)
    spans = spans_cache.get(key)
    if spans is None:
        spans = spans_cache[key] = _Spans(text)
    directives = parse_directives(text)
    start, end = spans.statement(obs.row)
    loc = Location(max(obs.row, 1), 1)
    probe = Diagnostic(obs.code, "", "", obs.filename, loc, loc)
    for row in range(start, end + 1):
        probe.noqa_row = row
        if directives.suppresses(probe):
            return True
    return False


def _tag(extra: dict, obs) -> None:
    if obs.rank is not None:
        extra["rank"] = obs.rank
    if obs.nodeid:
        extra["test"] = obs.nodeid
    if obs.count > 1:
        extra["count"] = obs.count


def _replace(d: Diagnostic, status: str, extra) -> Diagnostic:
    return d.replace(runtime=status, extra=dict(extra or {}))
