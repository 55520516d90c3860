"""``full`` and ``concise`` text output and the summary line (Ruff's looks).

full::

    train.py:12:9: OPT102 [*] optimizer.zero_grad() runs after loss.backward() ...
       |
    10 |     loss = model(x).sum()
    11 |     loss.backward()
    12 |     opt.zero_grad()
       |     ^^^^^^^^^^^^^^^ OPT102
    13 |     opt.step()
       |
       = help: Move the clearing call before the backward

    Found 1 error. [*] 1 fixable with --fix.
"""

from __future__ import annotations

from collections import Counter

from optimlint.registry import RULES
from optimlint.report.paths import display_path, location_prefix

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import TextIO


class Style:
    """ANSI styling, or none at all (the CLI decides: TTY and no NO_COLOR)."""

    def __init__(self, color: bool) -> None:
        self.color = color

    def _wrap(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color else text

    def bold(self, t: str) -> str:
        return self._wrap("1", t)

    def code(self, t: str) -> str:
        return self._wrap("1;31", t)

    def fixable(self, t: str) -> str:
        return self._wrap("36", t)

    def gutter(self, t: str) -> str:
        return self._wrap("1;34", t)

    def caret(self, t: str) -> str:
        return self._wrap("1;31", t)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def header(d, style: Style, unsafe: bool) -> str:
    mark = f"{style.fixable('[*]')} " if d.fixable(unsafe) else ""
    return f"{style.bold(location_prefix(d))}: {style.code(d.code)} {mark}{d.message}"


def _expand(line: str) -> str:
    return line.expandtabs(4)


def _display_col(line: str, column: int) -> int:
    """Width of ``line[:column-1]`` once tabs are expanded."""
    return len(_expand(line[: max(0, column - 1)]))


def excerpt_lines(d, excerpt, style: Style) -> list[str]:
    if excerpt is None or not excerpt.lines:
        return []
    last_row = excerpt.first_row + len(excerpt.lines) - 1
    width = len(str(last_row))
    pad = " " * width
    out = [f"{pad} {style.gutter('|')}"]
    for offset, raw in enumerate(excerpt.lines):
        row = excerpt.first_row + offset
        out.append(f"{style.gutter(str(row).rjust(width) + ' |')} {_expand(raw)}".rstrip())
        if row == d.location.row:
            start = _display_col(raw, d.location.column)
            if d.end_location.row == d.location.row:
                end = _display_col(raw, d.end_location.column)
            else:
                end = len(_expand(raw.rstrip()))
            carets = "^" * max(1, end - start)
            out.append(f"{pad} {style.gutter('|')} {' ' * start}{style.caret(carets + ' ' + d.code)}")
    out.append(f"{pad} {style.gutter('|')}")
    if d.fix is not None and d.fix.message:
        out.append(f"{pad} {style.gutter('=')} help: {d.fix.message}")
    return out


def summary(result, options) -> list[str]:
    """The closing lines: ``All checks passed!`` or ``Found N errors. ...``."""
    remaining = result.diagnostics
    fixed = result.fixed
    lines = []
    if not remaining and not fixed:
        # A file that could not be checked (an internal error) is not a pass.
        errors = len(getattr(result, "internal_errors", ()))
        if errors:
            return [f"No findings, but {_plural(errors, 'file')} could not be checked (see the errors above)."]
        return ["All checks passed!"]
    fixable = sum(1 for d in remaining if d.fixable(options.allows_unsafe(d)))
    hidden = sum(1 for d in remaining if d.fix is not None and not d.fixable(options.allows_unsafe(d)))
    total = len(remaining) + len(fixed)
    if options.fix:
        head = f"Found {_plural(total, 'error')} ({len(fixed)} fixed, {len(remaining)} remaining)."
    else:
        head = f"Found {_plural(total, 'error')}."
    if fixable and hidden:
        head += f" [*] {fixable} fixable with --fix ({hidden} more with --unsafe-fixes)."
    elif fixable:
        head += f" [*] {fixable} fixable with --fix."
    elif hidden:
        head += f" No fixes available ({hidden} hidden {'fix' if hidden == 1 else 'fixes'} can be " \
                f"enabled with --unsafe-fixes)."
    lines.append(head)
    return lines


def fixes_summary(result) -> list[str]:
    """``--show-fixes`` after ``--fix``: what was fixed, per file."""
    per_file = [(f.path, Counter(d.code for d in f.fixed)) for f in result.files if f.fixed]
    if not per_file:
        return []
    total = sum(sum(c.values()) for _, c in per_file)
    out = [f"Fixed {_plural(total, 'error')}:"]
    for path, counts in per_file:
        out.append(f"- {display_path(path)}:")
        for code, n in sorted(counts.items()):
            name = RULES[code].name if code in RULES else code
            out.append(f"    {n} × {code} ({name})")
    return out


def render_text(result, stream: TextIO, options, full: bool) -> None:
    style = Style(options.color)
    excerpts = {}
    for f in result.files:
        for d, ex in zip(f.diagnostics, f.excerpts or [None] * len(f.diagnostics)):
            excerpts[id(d)] = ex
    diagnostics = sorted(result.diagnostics, key=lambda d: d.sort_key)
    for d in diagnostics:
        stream.write(header(d, style, options.allows_unsafe(d)) + "\n")
        if full:
            for line in excerpt_lines(d, excerpts.get(id(d)), style):
                stream.write(line + "\n")
            stream.write("\n")
    if options.quiet:
        return
    if options.show_fixes and options.fix:
        lines = fixes_summary(result)
        if lines:
            stream.write("\n".join(lines) + "\n\n")
    for line in summary(result, options):
        stream.write(line + "\n")
