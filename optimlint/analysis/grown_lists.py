"""What a list built empty and grown in place holds: ``groups = []`` then
``groups.append(group)`` / ``groups.extend([...])`` / ``groups += [...]``, and a group dict
whose ``"params"`` is set by subscript (``group = {**defaults}; group["params"] = [...]``).

Optimizers are often built from such lists (the parameter groups of transformers-style
trainers, assembled in a loop); the modules the parameters come from tell which clearing
clears that optimizer. Every element is returned, or None when the list is bound or changed
in a way that cannot be read (a parameter, a ``for`` target, ``insert``, an item stored by
index, a non-list value), so a caller never takes part of a list for all of it.
"""

from __future__ import annotations

import libcst as cst

from optimlint.analysis import walk as _walk
from optimlint.analysis.assignments import stores

_GROWS = frozenset({"append", "extend"})
# calls on the list that neither add nor change what it holds
_READS = frozenset({"copy", "count", "index"})


def _calls_on(scope: cst.CSTNode, name: str) -> tuple[list[tuple[cst.Call, cst.BaseExpression | None]], bool]:
    """The calls ``name.<method>(...)`` in ``scope`` (nested functions left out), each with its
    one argument read through the loop that binds it (``for n, p in net.named_parameters():
    params.append(p)`` appends a parameter of ``net``: the loop's iterable stands for it), and
    whether ``name`` is stored into by index (``groups[0] = ...``)."""
    calls: list[tuple[cst.Call, cst.BaseExpression | None]] = []
    indexed = False
    loops: list[cst.For] = []

    class V(cst.CSTVisitor):
        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return node is scope

        def visit_Lambda(self, node: cst.Lambda) -> bool:
            return False

        def visit_For(self, node: cst.For) -> None:
            loops.append(node)

        def leave_For(self, original_node: cst.For) -> None:
            loops.pop()

        def visit_Call(self, node: cst.Call) -> None:
            f = node.func
            if isinstance(f, cst.Attribute) and isinstance(f.value, cst.Name) and f.value.value == name:
                value = node.args[0].value if len(node.args) == 1 else None
                if isinstance(value, cst.Name):
                    value = _iterated_parameter(loops, value.value) or value
                calls.append((node, value))

        def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
            nonlocal indexed
            t = node.target
            if isinstance(t, cst.Subscript) and isinstance(t.value, cst.Name) and t.value.value == name:
                indexed = True

    _walk.visit(scope, V())
    return calls, indexed


def _iterated_parameter(loops: list[cst.For], name: str) -> cst.Call | None:
    """The ``X.parameters()`` / ``X.named_parameters()`` call of the innermost loop whose target
    binds ``name`` as the parameter (``for p in X.parameters()``, ``for n, p in
    X.named_parameters()``)."""
    for loop in reversed(loops):
        t, it = loop.target, loop.iter
        if isinstance(t, cst.Name) and t.value == name:
            want = "parameters"
        elif isinstance(t, cst.Tuple) and len(t.elements) == 2 and isinstance(t.elements[1].value, cst.Name) \
                and t.elements[1].value.value == name:
            want = "named_parameters"
        elif any(n.value == name for n in _walk.nodes_of(t, cst.Name)):
            return None  # bound some other way (``for i, (n, p) in ...``)
        else:
            continue
        if isinstance(it, cst.Call) and isinstance(it.func, cst.Attribute) and it.func.attr.value == want \
                and not it.args:
            return it
        return None
    return None


def grown_elements(scope: cst.CSTNode, name: str) -> list[cst.BaseExpression] | None:
    """Every element list ``name`` holds in ``scope``: the elements of the list literals it is
    assigned, each value it is ``append``-ed, each ``extend``-ed or ``+=``-ed iterable (as an
    expression: a list literal of groups, a comprehension). None unless ``name`` is only
    assigned list literals and only grown by those calls."""
    found: list[cst.BaseExpression] = []
    binds = stores(scope, name, nested_functions=False)
    if not binds:
        return None
    for s in binds:
        if s.kind == "+=" and isinstance(s.node, cst.AugAssign) and isinstance(s.node.operator, cst.AddAssign):
            found.append(s.node.value)
            continue
        if s.kind not in ("=", ":") or not isinstance(s.value, cst.List):
            return None
        for el in s.value.elements:
            found.append(el.value)  # (a ``*starred`` iterable: its elements, read the same way)
    calls, indexed = _calls_on(scope, name)
    if indexed:
        return None
    grown = False
    for call, value in calls:
        method = call.func.attr.value  # type: ignore[attr-defined]
        if method in _READS:
            continue
        if method not in _GROWS or value is None or call.args[0].keyword is not None or call.args[0].star:
            return None
        found.append(value)
        grown = True
    return found if grown else None


def subscript_params(scope: cst.CSTNode, name: str) -> list[cst.BaseExpression] | None:
    """The values ``name["params"] = ...`` stores in ``scope`` (a group dict whose parameters
    are set after it is built); None when there is none or one cannot be read."""
    values: list[cst.BaseExpression] = []
    for key in (f'{name}["params"]', f"{name}['params']"):
        for s in stores(scope, key, nested_functions=False):
            if s.kind not in ("=", ":") or s.value is None:
                return None
            values.append(s.value)
    return values or None


def dict_value(scope: cst.CSTNode, name: str) -> cst.Dict | None:
    """The one dict literal ``name`` is assigned in ``scope`` (``{**group}``), never changed by
    a method call (``update``, ``setdefault``, ``pop``)."""
    binds = stores(scope, name, nested_functions=False)
    if len(binds) != 1 or binds[0].kind != "=" or not isinstance(binds[0].value, cst.Dict):
        return None
    calls, _ = _calls_on(scope, name)  # (keys stored by subscript: ``subscript_params``)
    if any(c.func.attr.value not in ("get", "keys", "items", "values")  # type: ignore[attr-defined]
                            for c, _ in calls):
        return None
    return binds[0].value
