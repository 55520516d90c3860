"""What a scope assigns to one name or attribute key (``opt``, ``self.model``)."""

from __future__ import annotations

import libcst as cst

from optimlint.analysis import walk as _walk
from optimlint.analysis.names import key_of


# Calls that hand their arguments back wrapped, in order: ``model, opt = accelerator.prepare(model, opt)``.
_HANDS_BACK = frozenset({"prepare", "setup", "initialize"})


def values_assigned(scope: cst.CSTNode, key: str, *, nested_functions: bool = True,
                    through_wrappers: bool = False) -> list[cst.BaseExpression | None]:
    """Every value assigned to ``key`` in ``scope``; None for an assignment whose value cannot
    be paired with the target (tuple unpacking, ``+=``, a ``for`` or ``with ... as`` target).

    With ``nested_functions=False`` the bodies of functions nested in ``scope`` are skipped
    (their assignments bind other variables), unless ``scope`` is a class, whose methods all
    assign its ``self.x`` attributes. With ``through_wrappers=True`` a tuple target that gets
    ``key`` back from ``accelerator.prepare(..., key, ...)`` / ``amp.initialize`` / ``fabric.setup``
    at the same position is no new value.
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
                    if not (through_wrappers and _handed_back(t.target, node.value, key)):
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


def _handed_back(target: cst.Tuple | cst.List, value: cst.BaseExpression, key: str) -> bool:
    if not (isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute)
            and value.func.attr.value in _HANDS_BACK):
        return False
    names = [key_of(e.value) for e in target.elements]
    args = [key_of(a.value) if a.keyword is None and not a.star else None for a in value.args]
    return names.index(key) < len(args) and args[names.index(key)] == key
