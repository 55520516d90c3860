"""Flags that switch a statement off for a whole training loop.

An agent's action selection often reads ``if self.is_test: self.net.eval()``: the training
method sets ``self.is_test = False`` before its loop and only the separate test method sets it
true. The statement under the flag then never runs while the loop trains, though a reading of
the loop alone sees it inside. ``switched_off`` tells such a statement from one under a flag
the loop (or anything it calls) may turn on.
"""

from __future__ import annotations

import libcst as cst

from optimlint.analysis import walk as _walk
from optimlint.analysis.assignments import stores
from optimlint.analysis.bindings import key_of


def switched_off(ctx, it, ev) -> bool:
    """``ev`` runs only under ``if FLAG:`` (a name or ``self.x``) that the loop's own function
    sets to a false constant before the loop, and that nothing the loop runs sets otherwise:
    no assignment in the loop, nor in a function of the file the loop calls (by name,
    transitively)."""
    for br in it.conditions(ev):
        if br.arm != "body" or not isinstance(br.node, cst.If):
            continue
        flag = key_of(br.node.test)
        if flag is None or not _cleared_before(ctx, it, flag):
            continue
        if not _maybe_set_by(ctx, it, flag):
            return True
    return False


def _falsy(value: cst.BaseExpression | None) -> bool:
    if isinstance(value, cst.Name):
        return value.value in ("False", "None")
    return isinstance(value, cst.Integer) and value.value == "0"


def _cleared_before(ctx, it, flag: str) -> bool:
    scope = ctx.module if it.func is None else it.func
    loop_row = ctx.start(it.node).row
    return any(st.kind == "=" and _falsy(st.value) and ctx.start(st.node).row < loop_row
               for st in stores(scope, flag, nested_functions=False))


def _maybe_set_by(ctx, it, flag: str) -> bool:
    setters = [st for st in stores(ctx.module, flag) if not (st.kind == "=" and _falsy(st.value))]
    if not setters:
        return False
    start, end = ctx.start(it.node).row, ctx.end(it.node).row
    reached = _reached_functions(ctx, it.node)
    for st in setters:
        row = ctx.start(st.node).row
        if start <= row <= end:
            return True
        func = _enclosing_function(ctx, st.node)
        if func is None or func.name.value in reached:
            return True
    return False


def _enclosing_function(ctx, node: cst.CSTNode) -> cst.FunctionDef | None:
    cur = ctx.parents.get(node)
    while cur is not None and not isinstance(cur, cst.FunctionDef):
        cur = ctx.parents.get(cur)
    return cur


def _called_names(node: cst.CSTNode) -> set[str]:
    names: set[str] = set()

    class V(cst.CSTVisitor):
        def visit_Call(self, call: cst.Call) -> None:
            f = call.func
            if isinstance(f, cst.Name):
                names.add(f.value)
            elif isinstance(f, cst.Attribute):
                names.add(f.attr.value)

    _walk.visit(node, V())
    return names


def _reached_functions(ctx, loop: cst.CSTNode) -> set[str]:
    """Names of the file's functions the loop may call, followed by name through their bodies."""
    defs: dict[str, list[cst.FunctionDef]] = {}

    class D(cst.CSTVisitor):
        def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
            defs.setdefault(node.name.value, []).append(node)

    _walk.visit(ctx.module, D())
    reached: set[str] = set()
    todo = list(_called_names(loop))
    while todo:
        name = todo.pop()
        if name in reached or name not in defs:
            continue
        reached.add(name)
        for d in defs[name]:
            todo.extend(_called_names(d.body))
    return reached
