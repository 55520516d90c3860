"""OPT001 (invalid-noqa) and OPT002 (unused-noqa): the noqa comments that do not do what
they say, as Ruff's RUF100 reports them.

- OPT001: a ``# noqa:`` (or ``# optimlint: noqa:``) naming an ``OPT`` code that does not
  exist (``OPT999``), a rule's name instead of its code (``keras-style-argument``: the fix
  writes ``OPT301``), or no code at all (``# noqa: fine here``) on a line with a finding, or
  in a ``# optimlint: noqa:``: each silences nothing.
- OPT002: an ``OPT`` code in a noqa comment whose rule is enabled for the file but found
  nothing on that line (in the file, for ``# optimlint: noqa: CODE``), or whose rule is not
  enabled for the file (not selected, ignored, per-file-ignored, in preview), or that the
  comment names twice: as RUF100 says ``(unused: ...; non-enabled: ...; duplicated: ...)``,
  since in this run none of them silences anything. The safe fix removes those codes, or the
  whole comment when nothing else is left in it.

Codes of other tools (``# noqa: E501``), bare ``# noqa`` comments and a list with no code on
a line with no finding (``# noqa: ignore flake8``, 44 such lines in one held-out repository)
are left alone: the same comment often serves flake8 or Ruff, which report them themselves. OPT000 can never be
silenced, so naming it is unused too. Both warnings are silenced only by naming their code
(``# noqa: OPT002``, ``# optimlint: noqa: OPT002``) or by the config, never by the bare
comment they are about.
"""

from __future__ import annotations

import re

from optimlint.diagnostics import Diagnostic, Edit, Fix, Location
from optimlint.registry import NAMES, RULES
from optimlint.suppression import _comments

NOQA_CODES = frozenset({"OPT001", "OPT002"})

_DIRECTIVE = re.compile(r"#\s*(?P<file>optimlint\s*:\s*)?noqa\s*:\s*(?P<rest>.*)$", re.IGNORECASE)
_WORD = re.compile(r"[^\s,]+")
_IS_CODE = re.compile(r"[A-Za-z]+[0-9]+$")
# ``_DIRECTIVE`` up to its list, for the scan of the raw text in ``_may_report``.
_DIRECTIVE_HEAD = re.compile(r"#\s*(?:optimlint\s*:\s*)?noqa\s*:\s*", re.IGNORECASE)


class _Item:
    """One word of a directive's list: its text, its columns in the line (0-based, end
    exclusive), and what it is: ``code``, ``name`` (a rule's name) or ``unknown`` (an
    ``OPT`` code that does not exist)."""

    __slots__ = ("text", "start", "end", "kind")

    def __init__(self, text: str, start: int, end: int, kind: str) -> None:
        self.text, self.start, self.end, self.kind = text, start, end, kind


def _items(line: str, rest_start: int) -> list[_Item]:
    """The codes (and rule names) listed from ``rest_start`` on, up to the first other word."""
    out = []
    for m in _WORD.finditer(line, rest_start):
        word = m.group().rstrip("#")
        if not word:
            break
        upper = word.upper()
        if _IS_CODE.match(word):
            kind = "code" if not upper.startswith("OPT") or upper in RULES else "unknown"
        elif word.lower() in NAMES:
            kind = "name"
        else:
            break
        out.append(_Item(word, m.start(), m.start() + len(word), kind))
    return out


def noqa_diagnostics(path: str, source: str, found: list[Diagnostic], enabled: set[str]) -> list[Diagnostic]:
    """OPT001/OPT002 for ``source``, given ``found`` (the findings before suppression) and
    the codes ``enabled`` for the file."""
    want_invalid, want_unused = "OPT001" in enabled, "OPT002" in enabled
    if not (want_invalid or want_unused) or "noqa" not in source.lower() or not _may_report(source):
        return []
    lines = source.splitlines(keepends=True)
    by_row: dict[int, set[str]] = {}
    for d in found:
        by_row.setdefault(d.noqa_row or d.location.row, set()).add(d.code)
    in_file = {d.code for d in found}
    out: list[Diagnostic] = []
    for row, comment, alone in _comments(source):
        m = _DIRECTIVE.search(comment)
        if m is None or row > len(lines):
            continue
        line = lines[row - 1].rstrip("\r\n")
        col = line.rfind(comment)
        if col < 0:
            continue
        file_level = m.group("file") is not None
        if file_level and not (alone and comment.strip() == line.strip()):
            continue  # ``# optimlint: noqa`` counts only on its own line
        start, end = col + m.start(), col + len(comment.rstrip())
        items = _items(line, col + m.start("rest"))
        label = "`optimlint: noqa`" if file_level else "`noqa`"
        if not items:
            # A plain noqa directive listing words, not codes, is another tool's business (Ruff warns
            # about it itself) unless it sits on a line we report: then it fails to silence that.
            if want_invalid and (file_level or row in by_row):
                out.append(_diagnostic("OPT001", f"Invalid {label} directive: expected a comma-separated list of "
                                       f"rule codes after `noqa:` (e.g. `# noqa: OPT101`); it silences nothing",
                                       path, row, start, end))
            continue
        if want_invalid:
            for item in items:
                if item.kind == "unknown":
                    out.append(_diagnostic("OPT001", f"Invalid {label} directive: `{item.text}` is not a rule code "
                                           f"(run `optimlint rules` for the list)", path, row, start, end))
                elif item.kind == "name":
                    code = NAMES[item.text.lower()]
                    fix = Fix.safe(f"Write `{code}`", Edit(code, Location(row, item.start + 1),
                                                           Location(row, item.end + 1)))
                    out.append(_diagnostic("OPT001", f"Invalid {label} directive: `{item.text}` is a rule's name; "
                                           f"write its code `{code}`", path, row, start, end, fix))
        if not want_unused:
            continue
        seen = in_file if file_level else by_row.get(row, set())
        codes = [i for i in items if i.kind == "code" and i.text.upper().startswith("OPT")]
        duplicated = [i for n, i in enumerate(codes) if i.text.upper() in {c.text.upper() for c in codes[:n]}]
        ours = [i for i in codes if i.text.upper() not in NOQA_CODES and i.text.upper() not in seen
                and i not in duplicated]
        unused = [i for i in ours if i.text.upper() in enabled or i.text.upper() == "OPT000"]
        disabled = [i for i in ours if i not in unused]
        if ours or duplicated:
            # RUF100's words, in its order
            why = "; ".join(f"{kind}: " + ", ".join(f"`{i.text.upper()}`" for i in group)
                            for kind, group in (("unused", unused), ("non-enabled", disabled),
                                                ("duplicated", duplicated)) if group)
            fix = _removal(lines, row, start, end, items, ours + duplicated, file_level)
            out.append(_diagnostic("OPT002", f"Unused {label} directive ({why})", path, row, start, end, fix))
    return out


def _may_report(source: str) -> bool:
    """Could any comment of ``source`` give OPT001 or OPT002? Only a directive whose list is
    empty or holds something other than another tool's codes can (``# noqa: F401, E501`` never
    does). Read off the raw lines, every ``#`` that starts a directive (a comment's or a
    string's: a superset of the comments), without tokenizing the file: most library files
    that say ``noqa`` say it only for flake8 or Ruff, and tokenizing them cost more than
    linting them."""
    for line in source.splitlines():
        if "#" not in line:
            continue
        for m in _DIRECTIVE_HEAD.finditer(line):
            items = _items(line, m.end())
            if not items or any(i.kind != "code" or i.text.upper().startswith("OPT") for i in items):
                return True
    return False


def _removal(lines, row, start, end, items, unused, file_level) -> Fix:
    """Remove the unused codes; the whole comment (the whole line, for a file directive
    alone on its line) when no code is left."""
    line = lines[row - 1].rstrip("\r\n")
    if len(unused) == len(items):
        if file_level:
            return Fix.safe("Remove the unused directive", Edit.deletion(Location(row, 1), Location(row + 1, 1))
                            if row < len(lines) else Edit.deletion(Location(row, 1), Location(row, len(line) + 1)))
        # the comment (or its noqa part, after a "# type: ignore" comment) and the blanks before it
        cut = len(line[:start].rstrip())
        return Fix.safe("Remove the unused `noqa` directive", Edit.deletion(Location(row, cut + 1),
                                                                               Location(row, end + 1)))
    kept = [i.text for i in items if i not in unused]
    first, last = items[0], items[-1]
    return Fix.safe(f"Remove the unused code{'s' if len(unused) > 1 else ''}",
                    Edit(", ".join(kept), Location(row, first.start + 1), Location(row, last.end + 1)))


def _diagnostic(code: str, message: str, path: str, row: int, start: int, end: int, fix: Fix | None = None):
    return Diagnostic(code, RULES[code].name, message, path, Location(row, start + 1), Location(row, end + 1), fix)
