"""Text edits that move or insert whole statements, keeping comments and indentation.

A moved statement takes its own trailing comment and the comment lines directly above
it; it is re-indented to the indentation of the statement it is placed next to.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from optimlint.diagnostics import Edit, Fix, Location

if TYPE_CHECKING:
    from optimlint.context import FileContext


def _comment_lines_above(stmt: cst.CSTNode) -> int:
    n = 0
    for line in reversed(getattr(stmt, "leading_lines", ())):
        if line.comment is None:
            break
        n += 1
    return n


def statement_rows(ctx: "FileContext", stmt: cst.CSTNode) -> tuple[int, int]:
    """First and last row of ``stmt`` with the comment lines directly above it."""
    pos = ctx.positions[stmt]
    return pos.start.line - _comment_lines_above(stmt), pos.end.line


def alone_in_block(ctx: "FileContext", stmt: cst.CSTNode) -> bool:
    parent = ctx.parents.get(stmt)
    body = getattr(parent, "body", None)
    return isinstance(parent, (cst.IndentedBlock, cst.Module)) and len(body) == 1


def block_of(ctx: "FileContext", stmt: cst.CSTNode) -> cst.CSTNode | None:
    parent = ctx.parents.get(stmt)
    return parent if isinstance(parent, (cst.IndentedBlock, cst.Module)) else None


def _text(ctx: "FileContext", stmt: cst.CSTNode, indent: str) -> str:
    first, last = statement_rows(ctx, stmt)
    own = ctx.indentation(stmt)
    out = []
    for line in ctx.source_lines[first - 1:last]:
        out.append(indent + line[len(own):] if line.startswith(own) else indent + line.lstrip())
    return ctx.newline.join(out) + ctx.newline


def movable(ctx: "FileContext", stmt: cst.CSTNode) -> bool:
    """A one-statement simple line that is not the only statement of its block."""
    return (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1
            and not alone_in_block(ctx, stmt))


def next_to(ctx: "FileContext", moved, anchor) -> bool:
    """Whether the statement of event ``moved`` can be moved next to that of event ``anchor``:
    both written where they run (not inlined from a helper), ``moved`` a movable line, and
    ``anchor`` a simple line of the same block. The guard of every "move it" fix."""
    return (moved.direct and anchor.direct and movable(ctx, moved.own_stmt)
            and isinstance(anchor.own_stmt, cst.SimpleStatementLine)
            and block_of(ctx, moved.own_stmt) is block_of(ctx, anchor.own_stmt))


def safe_move_after(ctx: "FileContext", moved, anchor, title: str) -> Fix | None:
    """A safe fix moving event ``moved``'s statement just after ``anchor``'s, when ``next_to`` allows."""
    if not next_to(ctx, moved, anchor):
        return None
    return Fix.safe(title, *move_after(ctx, moved.own_stmt, anchor.own_stmt))


def delete(ctx: "FileContext", stmt: cst.CSTNode) -> Edit:
    first, last = statement_rows(ctx, stmt)
    return Edit.deletion(Location(first, 1), Location(last + 1, 1))


def move_before(ctx: "FileContext", stmt: cst.CSTNode, target: cst.CSTNode) -> tuple[Edit, ...]:
    first, _ = statement_rows(ctx, target)
    return (delete(ctx, stmt),
            Edit.insertion(_text(ctx, stmt, ctx.indentation(target)), Location(first, 1)))


def move_all_before(ctx: "FileContext", stmts: list[cst.CSTNode], target: cst.CSTNode) -> tuple[Edit, ...]:
    """Move consecutive ``stmts`` together, in order, before ``target`` (one insertion)."""
    first, _ = statement_rows(ctx, target)
    indent = ctx.indentation(target)
    return (*(delete(ctx, s) for s in stmts),
            Edit.insertion("".join(_text(ctx, s, indent) for s in stmts), Location(first, 1)))


def move_after(ctx: "FileContext", stmt: cst.CSTNode, target: cst.CSTNode) -> tuple[Edit, ...]:
    _, last = statement_rows(ctx, target)
    return (delete(ctx, stmt),
            Edit.insertion(_text(ctx, stmt, ctx.indentation(target)), Location(last + 1, 1)))


def insert_after(ctx: "FileContext", target: cst.CSTNode, text: str) -> Edit:
    _, last = statement_rows(ctx, target)
    return Edit.insertion(ctx.indentation(target) + text + ctx.newline, Location(last + 1, 1))


def insert_before(ctx: "FileContext", target: cst.CSTNode, text: str) -> Edit:
    first, _ = statement_rows(ctx, target)
    return Edit.insertion(ctx.indentation(target) + text + ctx.newline, Location(first, 1))
