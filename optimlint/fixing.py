"""Applying fixes: text edits, then re-parse and re-lint until nothing fixable is left.

Fixes are applied one at a time. After each, the text is linted again (which parses it):
a fix whose result does not parse, or that leaves its own finding in place, is undone and
reported as dropped. Diagnostics whose fixes carry the same edits (OPT301 reports ``beta_1``
and ``beta_2`` with one shared ``betas=`` rewrite) are fixed together. Running the fixer on
its own output changes nothing: it stops at a fixed point.
"""

from __future__ import annotations

import re
from collections import Counter

from optimlint.diagnostics import Diagnostic, Location
from optimlint.lint import lint_source
from optimlint.records import Record

# LibCST and CPython both end a line at \r\n, \r or \n.
_LINE_END = re.compile(r"\r\n|\r|\n")
# A bound on fixes per file, so a pair of rules that undo each other cannot loop forever.
MAX_FIXES_PER_FILE = 200


class FixOutcome(Record):
    """The fixed text, the findings fixed, those remaining, and the fixes refused (why)."""

    _FIELDS = ("text", "fixed", "remaining", "dropped")

    def __init__(self, text: str, fixed: list[Diagnostic] | None = None,
                 remaining: list[Diagnostic] | None = None,
                 dropped: list[tuple[Diagnostic, str]] | None = None) -> None:
        self.text = text
        self.fixed = [] if fixed is None else fixed
        self.remaining = [] if remaining is None else remaining
        self.dropped = [] if dropped is None else dropped


def line_offsets(text: str) -> list[int]:
    """Character offset of the start of each row (index 0 is row 1), plus one past the end."""
    offsets = [0]
    offsets.extend(m.end() for m in _LINE_END.finditer(text))
    if offsets[-1] != len(text):
        offsets.append(len(text))
    return offsets


def _offset(offsets: list[int], text_len: int, loc: Location) -> int:
    if loc.row - 1 >= len(offsets):
        return text_len
    return min(offsets[loc.row - 1] + loc.column - 1, text_len)


def apply_edits(text: str, edits) -> str:
    """``text`` with ``edits`` applied; edits must not overlap (insertions at one point keep
    their order)."""
    offsets = line_offsets(text)
    spans = []
    for order, edit in enumerate(edits):
        start = _offset(offsets, len(text), edit.location)
        end = _offset(offsets, len(text), edit.end_location)
        spans.append((start, end, order, edit.content))
    spans.sort(key=lambda s: (s[0], s[1], s[2]))
    for (s1, e1, *_), (s2, e2, *_) in zip(spans, spans[1:]):
        if s2 < e1:
            raise ValueError("overlapping edits")
    out, cursor = [], 0
    for start, end, _, content in spans:
        out.append(text[cursor:start])
        out.append(content)
        cursor = max(cursor, end)
    out.append(text[cursor:])
    return "".join(out)


def _identity(d: Diagnostic) -> tuple:
    """What names a fix across re-lints (its location moves as other fixes land)."""
    edits = tuple(e.content for e in d.fix.edits) if d.fix else ()
    return (d.code, d.message, edits)


def _finding(d: Diagnostic) -> tuple[str, str]:
    return (d.code, d.message)


def fix_text(path: str, text: str, settings, unsafe: bool) -> FixOutcome:
    diagnostics = lint_source(path, text, settings)
    outcome = FixOutcome(text)
    refused: set[tuple] = set()
    for _ in range(MAX_FIXES_PER_FILE):
        candidates = [d for d in diagnostics if d.fixable(unsafe) and _identity(d) not in refused]
        if not candidates:
            break
        chosen = candidates[0]
        reason = None
        try:
            new_text = apply_edits(outcome.text, chosen.fix.edits)
        except ValueError:
            new_text, reason = None, "its edits overlap"
        if new_text is not None:
            after = lint_source(path, new_text, settings)
            if any(d.code == "OPT000" for d in after):
                reason = "the fixed file would not parse"
            elif new_text == outcome.text or not _removed(chosen, diagnostics, after):
                reason = "the fix leaves its own finding in place"
        if reason is not None:
            refused.add(_identity(chosen))
            outcome.dropped.append((chosen, reason))
            continue
        shared = [d for d in diagnostics if d.fix is not None and d.fix.edits == chosen.fix.edits]
        outcome.fixed.extend(shared or [chosen])
        outcome.text, diagnostics = new_text, after
    # A fix that was tried and refused is not offered again ("[*]") on what remains.
    outcome.remaining = [d.with_fix(None) if d.fix is not None and _identity(d) in refused else d
                         for d in diagnostics]
    return outcome


def _removed(chosen: Diagnostic, before: list[Diagnostic], after: list[Diagnostic]) -> bool:
    """Whether the finding ``chosen`` reports is gone (fewer findings with its code and message)."""
    key = _finding(chosen)
    return Counter(map(_finding, after))[key] < Counter(map(_finding, before))[key]

