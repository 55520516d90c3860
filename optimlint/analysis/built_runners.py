"""Step-runner classes built by the file's own loop: ``StepRunner(net, loss_fn,
optimizer=optimizer)`` in a training function's epoch loop, whose ``__init__`` keeps the
optimizer it is handed (``self.optimizer = optimizer``). The runner's step method is then one
pass of that loop, and the file's code that hands it the optimizer is the caller: a step lost
from the method is lost, not left to a caller in another file."""

from __future__ import annotations

import libcst as cst

from optimlint.analysis import call_args
from optimlint.analysis import walk as _walk


def handed_attribute_param(klass: cst.ClassDef, attr: str) -> tuple[int, str] | None:
    """(position counting ``self``, name) of the ``__init__`` parameter that ``klass`` keeps as
    ``self.<attr>`` (``self.optimizer = optimizer``, or one element of ``self.a, self.b = a, b``)."""
    init = next((s for s in klass.body.body if isinstance(s, cst.FunctionDef) and s.name.value == "__init__"), None)
    if init is None:
        return None
    params = call_args.positional_params(init)
    names = {p.name.value: i for i, p in enumerate(params)} | \
        {p.name.value: -1 for p in init.params.kwonly_params}
    kept = None
    for assign in _walk.nodes_of(init.body, (cst.Assign,)):
        for target in assign.targets:
            for t, v in target_value_pairs(target.target, assign.value):
                if isinstance(t, cst.Attribute) and isinstance(t.value, cst.Name) and t.value.value == "self" \
                        and t.attr.value == attr:
                    if kept is not None or not isinstance(v, cst.Name) or v.value not in names:
                        return None  # assigned twice, or from something other than a parameter
                    kept = (names[v.value], v.value)
    return kept


def built_in_a_loop_with(module: cst.Module, klass: cst.ClassDef, index: int, name: str, parents) -> bool:
    """Some call ``Klass(...)`` of the module, outside the class, inside a loop, passes a value
    other than ``None`` for the parameter at ``index`` named ``name``."""
    for call in _walk.nodes_of(module, (cst.Call,)):
        if not isinstance(call.func, cst.Name) or call.func.value != klass.name.value:
            continue
        # (the call's first argument fills parameter 1: ``index`` counts ``self``)
        value = call_args.arg(call, index - 1, name, star_hides=True) if index >= 1 else \
            call_args.keyword_value(call, name)
        if value is None or isinstance(value, cst.Name) and value.value == "None":
            continue
        if _inside(call, klass, parents):
            continue
        if _in_a_loop(call, parents):
            return True
    return False


def target_value_pairs(target: cst.BaseExpression, value: cst.BaseExpression):
    """``(target, value)`` of an assignment, element by element where both sides are tuples or
    lists of one length (``self.net, self.optimizer = net, optimizer``)."""
    if isinstance(target, (cst.Tuple, cst.List)) and isinstance(value, (cst.Tuple, cst.List)) and \
            len(target.elements) == len(value.elements):
        for t, v in zip(target.elements, value.elements):
            yield t.value, v.value
    else:
        yield target, value


def _inside(node: cst.CSTNode, outer: cst.CSTNode, parents) -> bool:
    up = parents.get(node)
    while up is not None:
        if up is outer:
            return True
        up = parents.get(up)
    return False


def _in_a_loop(node: cst.CSTNode, parents) -> bool:
    """A ``for``/``while`` of the scope that writes ``node`` holds it."""
    up = parents.get(node)
    while up is not None and not isinstance(up, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
        if isinstance(up, (cst.For, cst.While)):
            return True
        up = parents.get(up)
    return False
