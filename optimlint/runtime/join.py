"""Join static findings with what a watched run observed (torch-free).

Matching rule: a static finding is ``confirmed`` when an observation with the same code
happened in the same file inside the finding's *span*: the top-level statement of the
innermost function (or module) that contains the finding -- for a training loop, the whole
outermost loop; for an optimizer construction, that statement. It is ``not-observed`` when
an event of a kind the rule's runtime check watches (``RuleInfo.observes``: a step for
OPT103, a scheduler step for OPT201, ...) ran inside the span but the mistake did not show,
and ``not-reached`` otherwise. A rule with no runtime check is ``not-observed`` when any
watched event ran in its span (its code ran; nothing could confirm it). An observation also
confirms a finding when one of its ``related`` locations (the optimizer's construction, ...)
lies in the span, or, left over, when it is the only finding of its code in that file whose
check ran (one entry per mistake, even when the locations differ). Observations that confirm
no static finding are reported on their own (``runtime`` = ``confirmed``,
``extra["runtime_only"]``). A confirmed entry carries what was seen (``extra["seen"]``), its
tests and ranks.
"""

from __future__ import annotations

import ast
import os
import re

from optimlint.diagnostics import Diagnostic, Location
from optimlint.registry import RULES

CONFIRMED = "confirmed"
NOT_OBSERVED = "not-observed"
NOT_REACHED = "not-reached"


def _key(path: str | None) -> str | None:
    return os.path.realpath(path) if path else None


def _read_text(path: str) -> str | None:
    """The text of a linted file (undecodable bytes replaced), or None when it cannot be read."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return None


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
    statuses: list[tuple[Diagnostic, str, list]] = []
    for d in static:
        key = _key(d.filename)
        spans = spans_cache.get(key)
        if spans is None:
            text = texts.get(d.filename)
            if text is None:
                text = _read_text(d.filename) or ""
            spans = spans_cache[key] = _Spans(text)
        start, end = spans.span(d.location.row)
        matched = [o for o in obs_by_file.get(key, ()) if o.code == d.code and start <= o.row <= end]
        if not matched:
            # the same mistake known at another of its locations (the optimizer's construction)
            matched = [o for o in observations if o.code == d.code and id(o) not in used
                       and any(_key(f) == key and start <= r <= end for f, r in o.related)]
        used.update(id(o) for o in matched)
        status = CONFIRMED if matched else (NOT_OBSERVED if _ran(d.code, rows_by_file.get(key, ()), start, end)
                                            else NOT_REACHED)
        statuses.append((d, status, matched))
    # One entry per mistake: an observation left over whose code a static finding of the same
    # file carries (preferably one where that finding's own check ran) is that finding seen
    # elsewhere in the file (OPT104 seen at the backward, reported at the unused optimizer's
    # construction); several candidates: the one whose message names what the run's does.
    for obs in observations:
        if id(obs) in used or obs.filename is None:
            continue
        key = _key(obs.filename)
        candidates = [i for i, (d, status, _) in enumerate(statuses)
                      if status == NOT_OBSERVED and d.code == obs.code and _key(d.filename) == key]
        if not candidates:
            # a framework made the call (Lightning steps the scheduler its config declares):
            # the declaration never "ran" an event of the rule's kind itself
            candidates = [i for i, (d, status, _) in enumerate(statuses)
                          if status == NOT_REACHED and d.code == obs.code and _key(d.filename) == key]
        if len(candidates) > 1:
            named = [i for i in candidates if _names_overlap(statuses[i][0].message, obs.message)]
            candidates = named if len(named) == 1 else []
        if len(candidates) == 1:
            d, _, matched = statuses[candidates[0]]
            statuses[candidates[0]] = (d, CONFIRMED, matched + [obs])
            used.add(id(obs))
    out: list[Diagnostic] = []
    for d, status, matched in statuses:
        extra = dict(d.extra or {})
        if matched:
            _tag(extra, matched)
        out.append(_replace(d, status, extra))
    for obs in observations:
        if id(obs) in used:
            continue
        if _suppressed(obs, texts, spans_cache, settings):
            continue
        info = RULES.get(obs.code)
        loc = Location(max(obs.row, 1), max(obs.column, 1))
        extra = {"runtime_only": True}
        _tag(extra, [obs])
        extra.pop("seen", None)
        out.append(Diagnostic(obs.code, info.name if info else "", obs.message, obs.filename or "<unknown>",
                              loc, loc, None, None, CONFIRMED, extra))
    return out


_BACKTICKED = re.compile(r"`([^`]+)`")


def _names_overlap(static_message: str, runtime_message: str) -> bool:
    """Whether the two messages name a common variable, key or module (in backticks)."""
    return bool(set(_BACKTICKED.findall(static_message)) & set(_BACKTICKED.findall(runtime_message)))


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
        text = _read_text(obs.filename)
        if text is None:
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


def _tag(extra: dict, matched: list) -> None:
    """What the run saw, on the entry: ranks, tests, how often, and the observation itself."""
    ranks = sorted({r for o in matched for r in (o.ranks or ([o.rank] if o.rank is not None else []))})
    tests = list(dict.fromkeys(t for o in matched for t in (o.nodeids or ([o.nodeid] if o.nodeid else []))))
    count = sum(o.count for o in matched)
    if len(ranks) == 1:
        extra["rank"] = ranks[0]
    elif ranks:
        extra["ranks"] = ranks
    if len(tests) == 1:
        extra["test"] = tests[0]
    elif tests:
        extra["tests"] = tests
    if count > 1:
        extra["count"] = count
    extra["seen"] = matched[0].message


def _replace(d: Diagnostic, status: str, extra) -> Diagnostic:
    return d.replace(runtime=status, extra=dict(extra or {}))
