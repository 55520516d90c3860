"""Everything a check needs about one file, computed at most once and only on demand.

Checks receive a FileContext. It owns the parsed module, the (lazily built) LibCST
metadata, the import table for qualified names, and helpers that turn nodes into
Diagnostics and Edits. Shared analyses (symbols, the training-iteration model) are
memoised here via ``ctx.cached(key, factory)`` so several checks read one model.
"""

from __future__ import annotations

from typing import Any, Callable, TYPE_CHECKING

import libcst as cst

from optimlint.diagnostics import Diagnostic, Edit, Fix, Location
from optimlint.registry import RULES

if TYPE_CHECKING:
    from optimlint.config import Settings


class FileContext:
    def __init__(self, path: str, source: str, module: cst.Module, settings: "Settings | None" = None,
                 project_root: str | None = None, parsed: str | None = None, rows=None) -> None:
        """``parsed``: the text ``module`` was parsed from, when it is not ``source`` (a piece
        of a big file, ``optimlint.pieces``), and ``rows`` its rows -> the file's: positions
        are found in the piece and given in the file's rows, and what checks read of the
        text is the whole file's."""
        self.path = path
        self.source = source
        self._parsed = source if parsed is None else parsed
        self.rows = rows
        self.module = module
        self.settings = settings
        self.project_root = project_root
        self._cache: dict[Any, Any] = {}
        self._qualified: dict[int, tuple[cst.CSTNode, str | None]] = {}
        # Tree walks over this module go through one index of it, built on first use
        # (see analysis/walk.py); the handle lives as long as this context.
        from optimlint.analysis import walk

        self._tracked = walk.track(module)

    def release(self) -> None:
        """Drop the tree and everything built on it: the analyses refer back to this context
        (cycles), so without this the whole tree waits for the cyclic collector."""
        self._cache.clear()
        self._qualified.clear()
        self._tracked.release()
        self.module = None

    # -- memoised analyses -------------------------------------------------
    def cached(self, key: Any, factory: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = factory()
        return self._cache[key]

    @property
    def positions(self):
        """``positions[node] -> CodeRange``: LibCST's ``PositionProvider`` ranges, from one
        cheaper code generation (analysis/positions.py; LibCST's provider if that fails)."""
        try:
            return self._cache["positions"]
        except KeyError:
            from optimlint.analysis.positions import GuardedPositions

            found = GuardedPositions(self.module, self._parsed, self.parents.get)
            if self.rows is not None:
                from optimlint.pieces import RowsMoved

                found = RowsMoved(found, self.rows)
            self._cache["positions"] = found
            return found

    def encloses(self, root: cst.CSTNode, node: cst.CSTNode) -> bool:
        """``node`` is ``root`` or lies inside it (walks the parent map: no positions needed)."""
        parents = self.parents
        cur = node
        while cur is not None:
            if cur is root:
                return True
            cur = parents.get(cur)
        return False

    @property
    def parents(self):
        # ``{child: parent}`` read from the tree's walk index: ParentNodeProvider's mapping
        # at a fraction of its cost (LibCST's visit rebuilds every node).
        try:
            return self._cache["parents"]
        except KeyError:
            from optimlint.analysis.walk import ParentMap, parent_map

            index = self._tracked.index()
            found = self._cache["parents"] = ParentMap(index) if index is not None else parent_map(self.module)
            return found

    @property
    def imports(self):
        try:
            return self._cache["imports"]  # asked thousands of times per file: no import here
        except KeyError:
            from optimlint.analysis.names import ImportTable

            found = self._cache["imports"] = ImportTable.build(self.module)
            return found

    def qualify(self, node: cst.BaseExpression) -> str | None:
        """The dotted qualified name of a Name/Attribute expression, or None.

        Memoised per node (the training model asks several times for each call of the file,
        once more for each helper that inlines it); the node is kept with its answer, so its
        ``id`` cannot be reused for another node while the context lives."""
        memo = self._qualified
        found = memo.get(id(node))
        if found is not None and found[0] is node:
            return found[1]
        qualified = self.imports.qualify(node)
        memo[id(node)] = (node, qualified)
        return qualified

    # -- source text -------------------------------------------------------
    def code(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node)

    def start(self, node: cst.CSTNode) -> Location:
        pos = self.positions[node].start
        return Location(pos.line, pos.column + 1)

    def end(self, node: cst.CSTNode) -> Location:
        pos = self.positions[node].end
        return Location(pos.line, pos.column + 1)

    def line_start(self, node: cst.CSTNode) -> Location:
        """Column 1 of the first line of ``node``: where a statement insertion goes."""
        return Location(self.positions[node].start.line, 1)

    def indentation(self, node: cst.CSTNode) -> str:
        """The leading whitespace of the line on which ``node`` starts."""
        line = self.source_lines[self.positions[node].start.line - 1]
        return line[: len(line) - len(line.lstrip(" \t"))]

    @property
    def source_lines(self) -> list[str]:
        return self.cached("source_lines", lambda: self.source.splitlines())

    @property
    def newline(self) -> str:
        return self.module.default_newline

    # -- building results --------------------------------------------------
    def diagnostic(self, code: str, node: cst.CSTNode, message: str, fix: Fix | None = None) -> Diagnostic:
        return Diagnostic(
            code=code,
            name=RULES[code].name,
            message=message,
            filename=self.path,
            location=self.start(node),
            end_location=self.end(node),
            fix=fix,
        )

    def replace(self, node: cst.CSTNode, content: str) -> Edit:
        return Edit(content, self.start(node), self.end(node))

    def insert_before_statement(self, stmt: cst.CSTNode, text: str) -> Edit:
        """Insert ``text`` as a line of its own before the statement ``stmt`` (same indent)."""
        return Edit.insertion(self.indentation(stmt) + text + self.newline, self.line_start(stmt))

    def delete_statement(self, stmt: cst.CSTNode) -> Edit:
        """Delete the whole lines that ``stmt`` occupies (a simple statement line)."""
        pos = self.positions[stmt]
        return Edit.deletion(Location(pos.start.line, 1), Location(pos.end.line + 1, 1))
