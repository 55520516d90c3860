"""What a scope assigns to one name or attribute key (``opt``, ``self.model``)."""

from __future__ import annotations

import libcst as cst

from optimlint.analysis import walk as _walk
from optimlint.analysis.bindings import key_of


def values_assigned(scope: cst.CSTNode, key: str, *,
                    nested_functions: bool = True) -> list[cst.BaseExpression | None]:
    """Every value assigned to ``key`` in ``scope``; None for an assignment whose value cannot
    be paired with the target (tuple unpacking, ``+=``, a ``for`` or ``with ... as`` target).

    With ``nested_functions=False`` the bodies of functions nested in ``scope`` are skipped
    (their assignments bind other variables), unless ``scope`` is a class, whose methods all
    assign its ``self.x`` attributes.
    """
    out: list[cst.BaseExpression | None] = []
    enter_all = nested_functions or isinstance(scope, cst.ClassDef)

    class V(cst.CSTVisitor):
        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return enter_all or node is scope

        def visit_Assign(self, node: cst.Assign) -> None:
            for t in node.targets:
                if key_of(t.target) == key:
                    out.append(node.value)
                elif isinstance(t.target, (cst.Tuple, cst.List)) and any(
                        key_of(e.value) == key for e in t.target.elements):
                    out.append(None)

        def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
            if node.value is not None and key_of(node.target) == key:
                out.append(node.value)

        def visit_AugAssign(self, node: cst.AugAssign) -> None:
            if key_of(node.target) == key:
                out.append(None)

        def visit_For(self, node: cst.For) -> None:
            if key_of(node.target) == key:
                out.append(None)

        def visit_WithItem(self, node: cst.WithItem) -> None:
            if node.asname is not None and key_of(node.asname.name) == key:
                out.append(None)

    _walk.visit(scope, V())
    return out
