"""Qualified names from imports, resolved by what was imported, never by spelling.

``optim.Adam``, ``torch.optim.Adam`` and ``from torch.optim import Adam as A`` all
qualify to ``torch.optim.Adam``. This is a deliberately small, fast alternative to
LibCST's QualifiedNameProvider (which costs a scope analysis of the whole file):
imports anywhere in the file (module level or inside functions, as scripts do) bind
a local name to a dotted path; a Name/Attribute chain qualifies through its root.
Relative imports keep their leading dots (``.models.Net``) for project resolution.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from optimlint.analysis import walk as _walk


# ``type(x) is`` rather than ``isinstance``: LibCST's node classes have ABCMeta as their
# metaclass, whose isinstance is several times slower, and Name and Attribute have no
# subclasses (tests/test_analysis_index.py checks it). ``dotted`` runs for most names.
_NAME = cst.Name
_ATTRIBUTE = cst.Attribute


def dotted(node: cst.BaseExpression) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else None."""
    t = type(node)
    if t is _NAME:
        return node.value  # type: ignore[attr-defined]
    parts: list[str] = []
    while t is _ATTRIBUTE:
        parts.append(node.attr.value)  # type: ignore[attr-defined]
        node = node.value  # type: ignore[attr-defined]
        t = type(node)
    if t is not _NAME:
        return None
    parts.append(node.value)  # type: ignore[attr-defined]
    return ".".join(reversed(parts))


def _module_name(node: cst.BaseExpression | None, level: int) -> str:
    base = dotted(node) if node is not None else ""
    return "." * level + (base or "")


@dataclass
class ImportTable:
    bindings: dict[str, str] = field(default_factory=dict)
    star_modules: list[str] = field(default_factory=list)

    @classmethod
    def build(cls, module: cst.Module) -> "ImportTable":
        table = cls()
        collector = _ImportCollector(table)
        if _walk.index_of(module) is not None:
            # the linted file: its index lists every import, in the order a visit meets them
            for node in _walk.nodes_of(module, _IMPORTS):
                if type(node) is cst.Import:
                    collector.visit_Import(node)
                else:
                    collector.visit_ImportFrom(node)
        else:
            _imports_under(module, collector)
        return table

    def qualify(self, node: cst.BaseExpression) -> str | None:
        name = dotted(node)
        if name is None:
            return None
        root, _, rest = name.partition(".")
        target = self.bindings.get(root)
        if target is None:
            if self.star_modules and self._package_imported(root):
                # ``import torch.nn as nn`` + ``from utils import *`` + ``torch.nn.utils...``:
                # the star import hands over the package whose submodules the file imports
                target = root
            elif len(self.star_modules) == 1:
                target = f"{self.star_modules[0]}.{root}"
            else:
                return None
        return f"{target}.{rest}" if rest else target

    def _package_imported(self, root: str) -> bool:
        prefix = root + "."
        return any(v.startswith(prefix) for v in self.bindings.values())

    def imported(self, name: str) -> bool:
        return name in self.bindings


class _ImportCollector(cst.CSTVisitor):
    def __init__(self, table: ImportTable) -> None:
        self.table = table

    def visit_Import(self, node: cst.Import) -> bool:
        for alias in node.names:
            full = dotted(alias.name)
            if full is None:
                continue
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                self.table.bindings[alias.asname.name.value] = full
            else:
                root = full.split(".")[0]
                self.table.bindings[root] = root
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        module = _module_name(node.module, len(node.relative))
        if isinstance(node.names, cst.ImportStar):
            self.table.star_modules.append(module)
            return False
        for alias in node.names:
            name = dotted(alias.name)
            if name is None:
                continue
            local = name
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                local = alias.asname.name.value
            sep = "" if module.endswith(".") else "."
            self.table.bindings[local] = f"{module}{sep}{name}" if module else name
        return False

    # Expressions never contain imports: skip them wholesale for speed.
    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> bool:
        return any(isinstance(s, (cst.Import, cst.ImportFrom)) for s in node.body)


_IMPORTS = (cst.Import, cst.ImportFrom)
# type -> whether a node of it may hold statements (a suite, a statement, a clause of one);
# an import is a statement, so no expression, decorator or parameter list holds one
_HOLDS_STATEMENTS: dict[type, bool] = {}
_STATEMENT_HOLDERS = (cst.BaseSuite, cst.BaseStatement, cst.Else, cst.ExceptHandler, cst.ExceptStarHandler,
                      cst.Finally, cst.MatchCase)


def _imports_under(node: cst.CSTNode, collector: "_ImportCollector") -> None:
    """The collector's calls of a visit of ``node`` (another project file, which no index
    holds), in the same order, stepping only through what may hold statements: a visit
    would read every expression of the file for the few imports in it."""
    for child in _walk.kept_children(node):
        t = type(child)
        if t is cst.Import:
            collector.visit_Import(child)
        elif t is cst.ImportFrom:
            collector.visit_ImportFrom(child)
        else:
            holds = _HOLDS_STATEMENTS.get(t)
            if holds is None:
                holds = _HOLDS_STATEMENTS[t] = issubclass(t, _STATEMENT_HOLDERS)
            if holds:
                _imports_under(child, collector)


def key_of(expr: cst.BaseExpression | None) -> str | None:
    """A stable spelling of a Name / Attribute chain / literal subscript: ``opts['g']``."""
    if expr is None:
        return None
    if type(expr) is _NAME:  # (most keys asked: ``dotted`` without the call)
        return expr.value  # type: ignore[attr-defined]
    d = dotted(expr)
    if d is not None:
        return d
    if isinstance(expr, cst.Subscript) and len(expr.slice) == 1:
        base = key_of(expr.value)
        el = expr.slice[0].slice
        if base and isinstance(el, cst.Index) and isinstance(el.value, (cst.SimpleString, cst.Integer)):
            return f"{base}[{el.value.value}]"
    return None
