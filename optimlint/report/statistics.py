"""``--statistics``: one row per code, most frequent first, as text or JSON (Ruff's shapes)."""

from __future__ import annotations

from collections import Counter

from optimlint.registry import RULES
from optimlint.report.text import summary

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import TextIO

def rows(result, options) -> list[dict]:
    """``{code, name, count, fixable, fixable_count}`` per code, by count then code;
    ``fixable``: every finding of the code has a fix ``--fix`` applies (unsafe ones where the
    file's settings or the command line allow them)."""
    counts = Counter(d.code for d in result.diagnostics)
    fixable = Counter(d.code for d in result.diagnostics if d.fixable(options.allows_unsafe(d)))
    out = []
    for code, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        out.append({"code": code, "name": RULES[code].name if code in RULES else code, "count": count,
                    "fixable": fixable[code] == count, "fixable_count": fixable[code]})
    return out


def render_statistics(result, stream: TextIO, options, fmt: str = "full") -> None:
    table = rows(result, options)
    if fmt == "json":
        if table:  # Ruff prints nothing when there is nothing to count
            import json

            stream.write(json.dumps(table, indent=2, ensure_ascii=False) + "\n")
        return
    if not table:
        if not options.quiet:
            stream.write("All checks passed!\n")
        return
    # ``count<TAB>CODE<TAB>[*] name``: [*] every finding fixable, [-] some, [ ] none.
    any_fixable = any(row["fixable_count"] for row in table)
    count_width = max(len(str(row["count"])) for row in table)
    code_width = max(len(row["code"]) for row in table)
    for row in table:
        mark = ""
        if any_fixable:
            mark = "[*] " if row["fixable"] else "[-] " if row["fixable_count"] else "[ ] "
        stream.write(f"{str(row['count']).rjust(count_width)}\t{row['code'].ljust(code_width)}\t{mark}{row['name']}\n")
    if not options.quiet:
        for line in summary(result, options):
            stream.write(line + "\n")
