"""Suppression comments, read from real comments (``tokenize``), never from strings.

- ``# noqa`` on the reported line (``noqa_row``) silences every finding there;
  ``# noqa: OPT101, OPT102`` only those codes. A ``# noqa:`` followed by no valid
  code is ignored (as Ruff does), not taken as a blanket noqa.
- ``# optimlint: noqa`` as a comment on its own line silences the whole file;
  ``# optimlint: noqa: OPT301`` only those codes in the file.
- ``per-file-ignores`` (config) is applied by the engine, not here.
OPT000 is never suppressed.
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass, field

from optimlint.diagnostics import Diagnostic

_CODE = r"[A-Za-z]+[0-9]+"
_CODES = rf"{_CODE}(?:\s*,\s*{_CODE}|\s+{_CODE})*"
_LINE_NOQA = re.compile(rf"#\s*noqa(?P<sep>\s*:\s*(?P<codes>{_CODES})?)?", re.IGNORECASE)
_FILE_NOQA = re.compile(rf"^#\s*optimlint\s*:\s*noqa(?P<sep>\s*:\s*(?P<codes>{_CODES})?)?\s*$", re.IGNORECASE)

ALL = None  # a directive without codes: everything


@dataclass
class Directives:
    """The suppression comments of one file."""

    lines: dict[int, set[str] | None] = field(default_factory=dict)  # row -> codes (None: all)
    file_all: bool = False
    file_codes: set[str] = field(default_factory=set)

    def suppresses(self, d: Diagnostic) -> bool:
        if d.code == "OPT000":
            return False
        if d.code in ("OPT001", "OPT002"):  # about a noqa comment: only naming the code silences them
            row = d.noqa_row or d.location.row
            return d.code in self.file_codes or d.code in (self.lines.get(row) or ())
        if self.file_all or d.code in self.file_codes:
            return True
        row = d.noqa_row or d.location.row
        if row in self.lines:
            codes = self.lines[row]
            return codes is None or d.code in codes
        return False


def _codes(text: str | None) -> set[str]:
    return {c.upper() for c in re.split(r"[\s,]+", text.strip()) if c} if text else set()


def _comments(source: str):
    """(row, comment text, alone on its line) for each comment of ``source``."""
    try:
        tokens = tokenize.generate_tokens(io.StringIO(source).readline)
        last_row_with_code = 0
        for tok in tokens:
            if tok.type == tokenize.COMMENT:
                yield tok.start[0], tok.string, last_row_with_code != tok.start[0]
            elif tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                                  tokenize.ENCODING, tokenize.ENDMARKER):
                last_row_with_code = tok.end[0]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        # The tokenizer of this Python may reject syntax LibCST accepts: fall back to lines
        # whose first non-blank character starts a comment (never inside a string there).
        for row, line in enumerate(source.splitlines(), 1):
            stripped = line.lstrip()
            if stripped.startswith("#"):
                yield row, stripped, True


def parse_directives(source: str) -> Directives:
    directives = Directives()
    lowered = source.lower()
    if "noqa" not in lowered:
        return directives
    for row, comment, alone in _comments(source):
        if "noqa" not in comment.lower():
            continue
        if alone:
            m = _FILE_NOQA.match(comment.strip())
            if m:
                if m.group("sep") is None:
                    directives.file_all = True
                elif m.group("codes"):
                    directives.file_codes |= _codes(m.group("codes"))
                continue
        m = _LINE_NOQA.search(comment)
        if not m:
            continue
        if m.group("sep") is None:
            directives.lines[row] = ALL
        elif m.group("codes"):
            existing = directives.lines.get(row, set())
            if existing is not None:
                directives.lines[row] = existing | _codes(m.group("codes"))
        # A `noqa` comment with a colon but no valid code: ignored.
    return directives


def filter_suppressed(diagnostics: list[Diagnostic], source: str) -> list[Diagnostic]:
    """The diagnostics that no suppression comment in ``source`` silences."""
    if not diagnostics or "noqa" not in source.lower():
        return diagnostics
    directives = parse_directives(source)
    return [d for d in diagnostics if not directives.suppresses(d)]
