"""Writing ``# noqa: CODE`` onto a line: what the editor's "disable OPTnnn for this line"
action inserts (and what ``--add-noqa`` needs).

An existing ``# noqa: A, B`` on the line gets the code appended to its list; a ``# noqa:``
without a valid code gets the code; a line without one gets ``  # noqa: CODE`` at its end
(after any other comment, where ``suppression`` still reads it). A bare ``# noqa`` already
silences everything, so it needs nothing. The edit is checked by reading the suppression
comments of the edited text back: a row that cannot carry a comment (inside a multi-line
string) gets no edit.
"""

from __future__ import annotations

from optimlint.diagnostics import Edit, Location
from optimlint.fixing import apply_edits, line_offsets
from optimlint.suppression import _LINE_NOQA, _comments, parse_directives


def noqa_edit(source: str, row: int, code: str) -> Edit | None:
    """The edit that makes ``# noqa`` on ``row`` (1-based) of ``source`` silence ``code``;
    None when the line already does, or cannot carry the comment."""
    offsets = line_offsets(source)
    if not 0 < row < len(offsets):  # offsets: the start of each row, then the end
        return None
    directives = parse_directives(source)
    if row in directives.lines and (directives.lines[row] is None or code in directives.lines[row]):
        return None
    edit = _merge(source, offsets, row, code) or _append(source, offsets, row, code)
    after = parse_directives(apply_edits(source, [edit]))
    codes = after.lines.get(row, set())
    return edit if codes is None or code in codes else None


def _merge(source: str, offsets: list[int], row: int, code: str) -> Edit | None:
    """``code`` added to the ``# noqa`` comment already on ``row``, if there is one."""
    for comment_row, comment, _ in _comments(source):
        if comment_row != row:
            continue
        match = _LINE_NOQA.search(comment)
        if match is None:
            return None
        start = source[offsets[row - 1]:offsets[row]].rfind(comment)  # the comment runs to the end of the line
        if match.group("codes"):
            at = Location(row, start + match.end("codes") + 1)
            return Edit.insertion(f", {code}", at)
        # A `noqa` comment with a colon but no valid code after it: give it one (before any words that follow)
        after = comment[match.end():match.end() + 1]
        return Edit(f"# noqa: {code}{' ' if after and not after.isspace() else ''}",
                    Location(row, start + match.start() + 1), Location(row, start + match.end() + 1))
    return None


def _append(source: str, offsets: list[int], row: int, code: str) -> Edit:
    content = source[offsets[row - 1]:offsets[row]].rstrip("\r\n")
    stripped = content.rstrip()
    return Edit(f"  # noqa: {code}", Location(row, len(stripped) + 1), Location(row, len(content) + 1))
