"""Which steps of a file can complete a loop whose optimizer a function's parameter holds.

``def training_loop(n_epochs, optimizer, ...)`` clears ``optimizer`` and runs a backward on
every pass of its loop: the object is whatever each caller hands it. A step written in
another function of the file is of that object only when it runs in a caller of
``training_loop``, after a call, before the caller rebinds the name it handed
(``optimizer = optim.Adam(...)`` in the next notebook cell is another optimizer). A step of
another function's own parameter (``training_loop_l2reg(n_epochs, optimizer, ...)``), or one
that runs before every call (a demonstration cell above the definition), never steps it.
Several definitions of one function (a notebook's cells), or callers the file does not show
all of (the function handed around, a method called on another object), leave every step
of the file a maybe.

Usage::

    param = handed_parameter(model, it.func, name)      # "optimizer", or None
    if param is not None and not may_complete(model, it.func, param, scope_func, ev):
        ...                                             # ev steps another object
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from optimlint.analysis import walk as _walk
from optimlint.analysis.assignments import stores
from optimlint.analysis.call_args import argument_for
from optimlint.analysis.names import key_of

if TYPE_CHECKING:
    from optimlint.analysis.iteration import Event, TrainingModel


def handed_parameter(model: "TrainingModel", func: cst.CSTNode | None, name: str | None) -> str | None:
    """``name`` (as the function spells what a loop clears) when it is a parameter of ``func``
    the function never rebinds; else None."""
    if not isinstance(func, cst.FunctionDef) or not name or "." in name or "[" in name:
        return None
    if name not in model.bindings.params_of.get(func, {}) or stores(func, name, nested_functions=False):
        return None
    return name


def may_complete(model: "TrainingModel", func: cst.FunctionDef, param: str, scope: cst.CSTNode | None,
                 ev: "Event") -> bool:
    """Step ``ev`` (an event of ``scope``'s events) may step the object ``func``'s parameter
    ``param`` holds after a backward of ``func``'s loop."""
    if scope is func or _nested_in(model, scope, func):
        return True
    sites = _all_sites(model, func)
    if sites is None:
        return True
    direct = [(call, skip) for call, caller, skip in sites if caller is scope]
    if not direct:
        # a caller of a caller (``main`` -> ``fit`` -> ``train_epoch``): not followed, a maybe
        return scope in _transitive_callers(model, func)
    ctx = model.ctx
    for call, skip in direct:
        arg = argument_for(call, func, skip, param)
        passed = key_of(arg) if arg is not None else None
        if passed is None or ev.stmt not in ctx.positions or call not in ctx.positions:
            return True
        start, end = ctx.positions[ev.stmt].start, ctx.positions[call].end
        if _fixed_other_arm(ctx, call, ev.stmt):
            continue  # (the other arm of an ``if`` every pass takes the same way)
        if (start.line, start.column) < (end.line, end.column):
            if _in_a_loop_of(ctx, call, ev):
                return True  # written before the call, run again after it by a loop around both
            continue
        if ev.target_key is not None and ev.target_key != passed:
            return True  # another spelling: what the bindings say about it stands
        # a rebinding of the handed name between the call and the step: another object
        if not any(_between(ctx, s.node, end, start)
                   for s in stores(scope or ctx.module, passed, nested_functions=False)):
            return True
    return False


def _nested_in(model: "TrainingModel", scope, func) -> bool:
    cur = model.parent_func.get(scope) if scope is not None else None
    while cur is not None:
        if cur is func:
            return True
        cur = model.parent_func.get(cur)
    return False


def _all_sites(model: "TrainingModel", func: cst.FunctionDef) -> list | None:
    """Every call of ``func`` in the file, or None when the file may not show them all."""
    b = model.bindings
    if func in b.referenced or model.parent_func.get(func) is not None:
        return None
    name = func.name.value
    klass = b.class_of.get(func)
    if klass is None:
        defs = [s for s in model.ctx.module.body if isinstance(s, cst.FunctionDef) and s.name.value == name]
        if func not in defs:
            return None
        if len(defs) > 1:
            return _cell_sites(model, defs, func)
    else:
        # ``trainer.train_epoch(opt)`` on an object: callers the call-site table does not hold
        for call in _walk.nodes_of(model.ctx.module, cst.Call):
            f = call.func
            if isinstance(f, cst.Attribute) and f.attr.value == name and key_of(f.value) != "self":
                return None
    return b.call_sites.get(func, [])


def _cell_sites(model: "TrainingModel", defs: list, func: cst.FunctionDef) -> list | None:
    """A function defined again and again (a notebook's cells, each with its own version of
    ``training_loop``): the calls written at module level after this definition and before
    the next one reach it. A call inside a function (run whenever it is called) could reach
    any of them: None."""
    ctx = model.ctx
    sites = model.bindings.call_sites.get(defs[-1], [])
    if any(caller is not None for _call, caller, _skip in sites):
        return None
    i = next(i for i, d in enumerate(defs) if d is func)
    lo = ctx.positions[func].end
    hi = ctx.positions[defs[i + 1]].start if i + 1 < len(defs) else None
    out = []
    for call, caller, skip in sites:
        at = ctx.positions[call].start
        if (at.line, at.column) > (lo.line, lo.column) and (hi is None or (at.line, at.column) < (hi.line, hi.column)):
            out.append((call, caller, skip))
    return out


def _transitive_callers(model: "TrainingModel", func: cst.FunctionDef) -> set:
    out: set = set()
    todo = [func]
    while todo:
        cur = todo.pop()
        for _call, caller, _skip in model.bindings.call_sites.get(cur, []):
            if caller is not None and caller not in out and caller is not func:
                out.add(caller)
                todo.append(caller)
    return out


def _in_a_loop_of(ctx, call: cst.Call, ev: "Event") -> bool:
    at = ctx.positions[call].start
    for loop in ev.loops:
        if loop in ctx.positions:
            rng = ctx.positions[loop]
            if (rng.start.line, rng.start.column) <= (at.line, at.column) <= (rng.end.line, rng.end.column):
                return True
    return False


def _fixed_other_arm(ctx, call: cst.Call, stmt: cst.CSTNode) -> bool:
    """``call`` and ``stmt`` sit in the two arms of one ``if`` whose test reads nothing the
    loops around it assign (``if args.moco: train_moco(...) else: train_ins(...)``): every
    pass takes the same arm, so neither ever runs after the other."""
    parents = ctx.parents

    def chain(node):
        out = []
        while node is not None:
            out.append(node)
            node = parents.get(node)
        return out

    theirs = chain(stmt)
    seen = {id(n): i for i, n in enumerate(theirs)}
    mine = chain(call)
    for i, node in enumerate(mine):
        if not isinstance(node, cst.If) or id(node) not in seen or i == 0:
            continue
        a, b = mine[i - 1], theirs[seen[id(node)] - 1]
        if {a is node.body, b is node.body} != {True, False} or node.test is a or node.test is b:
            return False
        loops = [n for n in mine[i:] if isinstance(n, (cst.For, cst.While))]
        names = {n.value for n in _walk.nodes_of(node.test, cst.Name)}
        return bool(names) and not any(stores(loop, name, nested_functions=False)
                                       for loop in loops for name in names)
    return False


def _between(ctx, node: cst.CSTNode, after, before) -> bool:
    if node not in ctx.positions:
        return False
    at = ctx.positions[node].start
    return (after.line, after.column) <= (at.line, at.column) < (before.line, before.column)
