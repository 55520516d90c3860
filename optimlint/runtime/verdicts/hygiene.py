"""OPT601 (a running total that carries every iteration's graph) and OPT603 (training through
modules left in eval mode)."""

from __future__ import annotations

import ast
import linecache

import torch


def at_step(mon, opt, orec, loc) -> None:
    """OPT603: every parameter of ``opt`` that this step's backward reached sits in a module
    left in eval mode by an ``.eval()`` the run saw (a frozen BatchNorm inside a training
    model is not: the rest of the model trains)."""
    evals = mon.eval_modules
    live = {}
    for key, (ref, where) in list(evals.items()):
        module = ref()
        if module is None or module.training:
            del evals[key]
        else:
            live[key] = (module, where)
    if not live:
        return
    in_eval: dict[int, tuple] = {}
    for module, where in live.values():
        for sub in module.modules():
            if not sub.training:
                for p in sub._parameters.values():
                    if p is not None:
                        in_eval[id(p)] = where
    touched = mon.gradients.touched(opt)
    if touched and all(id(p) in in_eval for p in touched):
        where = in_eval[id(touched[0])] or loc
        mon.once(orec, "OPT603", f"step {orec.steps + 1} of `{orec.label}` trained on a backward through modules "
                 "left in eval mode (`.eval()` here, no `.train()` since): restore `model.train()` before training",
                 where, related=(loc,) if loc else ())


# ---------------------------------------------------------------------------- OPT601
_MAX_WALK = 20000


def _accumulated_names(code) -> dict[str, int]:
    """Names a function (or module) body accumulates into (``total += x``, ``total = total + x``),
    with the line of the first such statement: read from the source, once per code object."""
    cached = _ACC_CACHE.get(code)
    if cached is not None:
        return cached
    out: dict[str, int] = {}
    try:
        lines = linecache.getlines(code.co_filename)
        tree = ast.parse("".join(lines)) if lines else None
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        tree = None
    if tree is not None:
        body = tree
        if code.co_name != "<module>":
            for node in ast.walk(tree):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == code.co_name \
                        and min([d.lineno for d in node.decorator_list] + [node.lineno]) == code.co_firstlineno:
                    body = node
                    break
            else:
                body = None
        if body is not None:
            for node in ast.walk(body):
                if isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Add) \
                        and isinstance(node.target, ast.Name):
                    out.setdefault(node.target.id, node.lineno)
                elif isinstance(node, ast.Assign) and len(node.targets) == 1 \
                        and isinstance(node.targets[0], ast.Name) and isinstance(node.value, ast.BinOp) \
                        and isinstance(node.value.op, ast.Add):
                    name = node.targets[0].id
                    operands = (node.value.left, node.value.right)
                    if any(isinstance(o, ast.Name) and o.id == name for o in operands):
                        out.setdefault(name, node.lineno)
    _ACC_CACHE[code] = out
    return out


_ACC_CACHE: dict = {}


def _contains(node, target) -> bool:
    """Whether ``target`` is reachable from ``node`` through additions (metadata only)."""
    stack = [node]
    seen = 0
    while stack and seen < _MAX_WALK:
        n = stack.pop()
        if n is target:
            return True
        seen += 1
        for child, _ in getattr(n, "next_functions", ()):
            if child is not None and (child is target or child.name().startswith("Add")):
                stack.append(child)
    return False


def running_totals(mon, frames_, loc) -> None:
    """OPT601: a variable the user's code accumulates into (``total += loss``) holds a tensor
    whose autograd graph still contains the graph it held at the previous checkpoint: every
    iteration's graph is kept alive. Reads ``grad_fn`` identities only (no value, no sync)."""
    held = mon.totals
    for frame in frames_:
        code = frame.f_code
        names = _accumulated_names(code)
        if not names:
            continue
        scope = frame.f_globals if code.co_name == "<module>" else frame.f_locals
        for name, line in names.items():
            value = scope.get(name)
            fn = getattr(value, "grad_fn", None) if isinstance(value, torch.Tensor) else None
            key = (code, name)
            if fn is None:
                held.pop(key, None)
                continue
            previous = held.get(key)
            held[key] = (fn, mon.step_count)
            if previous is None or previous[0] is fn or key in mon.reported601:
                continue
            if _contains(fn, previous[0]):
                mon.reported601.add(key)
                where = (code.co_filename, line)
                mon.observe("OPT601", f"`{name}` carries the autograd graph of every iteration since step "
                            f"{previous[1]}: it accumulates tensors that require grad; add `loss.item()` "
                            "(or `.detach()`) instead", where)
