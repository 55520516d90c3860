"""Statement-level edits of a LibCST module, addressed by the nodes of the parsed original.

An operator describes its mutation as removals, moves, insertions and node replacements on
the *original* tree (blocks and statements found by `training_sites`); `Edit.apply` performs
them in one transformer pass. A block left empty gets a `pass`, so every mutant parses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import libcst as cst

from training_sites import Level


@dataclass
class Edit:
    removed: set[tuple[int, int]] = field(default_factory=set)  # (id(owner), index)
    before: dict[tuple[int, int], list[cst.CSTNode]] = field(default_factory=dict)
    after: dict[tuple[int, int], list[cst.CSTNode]] = field(default_factory=dict)
    first: dict[int, list[cst.CSTNode]] = field(default_factory=dict)  # id(owner) -> new head
    replaced: dict[int, Callable[[cst.CSTNode], cst.CSTNode]] = field(default_factory=dict)

    def remove(self, level: Level) -> "Edit":
        self.removed.add((id(level.owner), level.index))
        return self

    def insert_before(self, level: Level, stmt: cst.CSTNode) -> "Edit":
        self.before.setdefault((id(level.owner), level.index), []).append(stmt)
        return self

    def insert_after(self, level: Level, stmt: cst.CSTNode) -> "Edit":
        self.after.setdefault((id(level.owner), level.index), []).append(stmt)
        return self

    def insert_first(self, owner: cst.CSTNode, stmt: cst.CSTNode) -> "Edit":
        self.first.setdefault(id(owner), []).append(stmt)
        return self

    def move_before(self, moved: Level, anchor: Level) -> "Edit":
        return self.remove(moved).insert_before(anchor, moved.stmt)

    def move_after(self, moved: Level, anchor: Level) -> "Edit":
        return self.remove(moved).insert_after(anchor, moved.stmt)

    def replace(self, node: cst.CSTNode, make: Callable[[cst.CSTNode], cst.CSTNode]) -> "Edit":
        self.replaced[id(node)] = make
        return self

    def apply(self, module: cst.Module) -> str:
        return module.visit(_Apply(self)).code


class _Apply(cst.CSTTransformer):
    def __init__(self, edit: Edit):
        self.edit = edit

    def on_leave(self, original, updated):
        updated = super().on_leave(original, updated)
        make = self.edit.replaced.get(id(original))
        if make is not None and not isinstance(updated, cst.RemovalSentinel):
            updated = make(updated)
        if isinstance(original, (cst.IndentedBlock, cst.Module, cst.SimpleStatementSuite)):
            updated = self._rebuild(original, updated)
        return updated

    def _rebuild(self, original, updated):
        edit, key = self.edit, id(original)
        touched = key in edit.first or any(k[0] == key for k in (*edit.removed, *edit.before, *edit.after))
        if not touched:
            return updated
        body: list = list(edit.first.get(key, []))
        for index, stmt in enumerate(updated.body):
            body.extend(edit.before.get((key, index), []))
            if (key, index) not in edit.removed:
                body.append(stmt)
            body.extend(edit.after.get((key, index), []))
        if not body:
            body = [cst.Pass()] if isinstance(original, cst.SimpleStatementSuite) else [cst.SimpleStatementLine([cst.Pass()])]
        return updated.with_changes(body=body)


def statement_of(level: Level, call: cst.Call) -> tuple[str, cst.CSTNode | None]:
    """How the call's statement can be removed: ('line', None) when the line is only this
    call; ('small', expr) when it is one of several `;`-separated statements; ('', None)
    when the call is part of a larger expression."""
    stmt = level.stmt
    if isinstance(stmt, cst.Expr):  # a small statement of a one-line suite
        return ("line", None) if stmt.value is call else ("", None)
    if isinstance(stmt, cst.SimpleStatementLine):
        for small in stmt.body:
            if isinstance(small, cst.Expr) and small.value is call:
                return ("line", None) if len(stmt.body) == 1 else ("small", small)
    return "", None


def remove_call_statement(edit: Edit, level: Level, call: cst.Call) -> bool:
    how, small = statement_of(level, call)
    if how == "line":
        edit.remove(level)
        return True
    if how == "small":
        edit.replace(level.stmt, lambda line, s=small: line.with_changes(
            body=[b for b in line.body if not b.deep_equals(s)] or [cst.Pass()]))
        return True
    return False
