"""Whether a call's constant arguments rule out every use of one of the callee's parameters.

One epoch helper often serves training and evaluation, and its evaluation calls hand it
stand-ins for the objects only training uses::

    def run_epoch(loader, model, optimizer, scheduler, mode="train"):
        for batch in loader:
            ...
            if mode == "train":
                loss.backward()
                optimizer.step()
                scheduler.step()

    run_epoch(train_loader, model, optimizer, lr_scheduler, mode="train")
    run_epoch(valid_loader, model, DummyOptimizer(), DummyScheduler(), mode="eval")

Under the second call no statement that reads ``scheduler`` runs (``mode == "train"`` is
false there), so what it hands for ``scheduler`` says nothing about what the helper steps:
``bindings`` lets the other calls decide the parameter's object. ``phase_args.decide`` reads
the tests; a parameter the helper rebinds is no constant, and a call through ``*args`` or
``**kwargs`` rules nothing out.
"""

from __future__ import annotations

import libcst as cst

from optimlint.analysis import phase_args
from optimlint.analysis.assignments import stores
from optimlint.analysis.call_args import argument_for, named_params
from optimlint.analysis.walk import nodes_of


def calls_reaching(callee: cst.FunctionDef, name: str, calls: list) -> list:
    """The call sites ``(call, caller, skip)`` of ``callee`` under which some use of its
    parameter ``name`` may run."""
    return [c for c in calls if not unused_under(callee, name, c[0], c[2])]


def unused_under(callee: cst.FunctionDef, name: str, call: cst.Call, skip: int) -> bool:
    """Under ``call`` (``skip``: leading parameters not passed, 1 for a bound ``self``), no
    statement of ``callee`` that reads parameter ``name`` can run: each sits in an ``if`` arm
    the call's constant arguments rule out."""
    if any(a.star for a in call.args):
        return False
    consts = _constants(callee, call, skip)
    if not consts:
        return False
    return not _may_use(_block(callee), name, consts)


def _constants(callee: cst.FunctionDef, call: cst.Call, skip: int) -> dict[str, str]:
    out: dict[str, str] = {}
    for param in named_params(callee):
        p = param.name.value
        passed = argument_for(call, callee, skip, p)
        c = phase_args.constant(passed if passed is not None else param.default)
        if c is not None and not stores(callee, p, nested_functions=False):
            out[p] = c
    return out


def _mentions(node: cst.CSTNode | None, name: str) -> bool:
    return node is not None and any(n.value == name for n in nodes_of(node, cst.Name))


def _block(node) -> list:
    body = node.body
    return list(body.body) if isinstance(body, cst.IndentedBlock) else [body]


def _may_use(stmts: list, name: str, consts: dict[str, str]) -> bool:
    """Some statement of ``stmts`` that reads ``name`` may run under ``consts``."""
    for stmt in stmts:
        if isinstance(stmt, cst.If):
            if _mentions(stmt.test, name):
                return True
            verdict = phase_args.decide(stmt.test, consts)
            if verdict is not False and _may_use(_block(stmt), name, consts):
                return True
            other = stmt.orelse
            if other is not None and verdict is not True and \
                    _may_use(_block(other) if isinstance(other, cst.Else) else [other], name, consts):
                return True
        elif isinstance(stmt, (cst.For, cst.While)):
            head = (stmt.target, stmt.iter) if isinstance(stmt, cst.For) else (stmt.test,)
            if any(_mentions(h, name) for h in head) or _may_use(_block(stmt), name, consts) or \
                    stmt.orelse is not None and _may_use(_block(stmt.orelse), name, consts):
                return True
        elif isinstance(stmt, cst.With):
            if any(_mentions(item, name) for item in stmt.items) or _may_use(_block(stmt), name, consts):
                return True
        elif isinstance(stmt, (cst.Try, cst.TryStar)):
            parts = [_block(stmt), *(_block(h) for h in stmt.handlers if not _mentions(h.type, name)),
                     *([_block(stmt.orelse)] if stmt.orelse is not None else []),
                     *([_block(stmt.finalbody)] if stmt.finalbody is not None else [])]
            if any(_mentions(h.type, name) for h in stmt.handlers) or any(_may_use(p, name, consts) for p in parts):
                return True
        elif _mentions(stmt, name):  # a simple line, a nested def or class, a match: as written
            return True
    return False
