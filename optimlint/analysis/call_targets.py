"""Which calls of another project file call the linted step function: a module-level
function's name imported from the linted module, or a method (``__call__`` too) of an object
built from the linted class (``policy = TD3.TD3(...)`` then ``policy.train(...)``;
``runner = StepRunner(...)`` then ``runner(x, y)``; ``self.steprunner`` kept from
``EpochRunner(StepRunner(...))``). ``callers`` finds the loops around them."""

from __future__ import annotations

import os

import libcst as cst

from optimlint.analysis import modules
from optimlint.analysis.assignments import values_assigned
from optimlint.analysis.built_runners import handed_attribute_param
from optimlint.analysis.call_args import arg
from optimlint.analysis.names import key_of
from optimlint.analysis.walk import kept_children, nodes_of


def calls_of_scope(scope: cst.CSTNode):
    """The calls of a scope's own statements (not of functions or classes defined in it)."""
    body = scope.body if isinstance(scope, cst.FunctionDef) else scope
    stack = list(body.body) if hasattr(body, "body") and isinstance(body.body, (list, tuple)) else [body]
    while stack:
        node = stack.pop()
        if isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            continue
        if isinstance(node, cst.Call):
            yield node
        stack.extend(kept_children(node))  # (LibCST's ``children`` visits the node to list them)


def target_of(pf, scope, call: cst.Call, name: str, klass, target: str, root: str):
    """What makes ``call`` (in ``scope`` of ``pf``) a call of the linted step function ``name``:
    for a module-level function (``klass`` None), True when the name is imported from the linted
    module ``target``; for a method, the linted class's analysis of the receiver (its
    construction, or for ``__call__`` the called instance's); None when it is not such a call."""
    f = call.func
    if klass is None:
        if isinstance(f, (cst.Name, cst.Attribute)) and (f.value if isinstance(f, cst.Name) else f.attr.value) == name:
            return True if _imported_from(pf, f, target, root) else None
        return None
    if name == "__call__":
        return _called_instance(pf, scope, f, klass, target, root)
    if not (isinstance(f, cst.Attribute) and f.attr.value == name):
        return None
    return built_class(pf, scope, key_of(f.value), klass, target, root)


def _called_instance(pf, scope, f: cst.BaseExpression, klass: cst.ClassDef, target: str, root: str):
    """The linted class's analysis when ``f``, called, is an instance of it: a name built from
    it (``runner = StepRunner(...)`` then ``runner(x, y)``), or ``self.<attr>`` kept by the
    scope's class from an ``__init__`` parameter that some construction of that class in
    ``pf`` hands an instance of it (``EpochRunner(StepRunner(...))``, or a name built so)."""
    if isinstance(f, cst.Name):
        return built_class(pf, scope, f.value, klass, target, root)
    if not (isinstance(f, cst.Attribute) and key_of(f.value) == "self") or not isinstance(scope, cst.FunctionDef):
        return None
    holder = next((c for c in pf.module.body if isinstance(c, cst.ClassDef) and scope in c.body.body), None)
    kept = handed_attribute_param(holder, f.attr.value) if holder is not None else None
    if kept is None:
        return None
    index, param = kept
    for where in [pf.module, *nodes_of(pf.module, cst.FunctionDef)]:
        for call in calls_of_scope(where):
            if not (isinstance(call.func, cst.Name) and call.func.value == holder.name.value):
                continue
            v = arg(call, index - 1, param, star_hides=True) if index >= 1 else None
            if isinstance(v, cst.Call):
                info = instance_of(pf, v, klass, target, root)
                if info is not None:
                    return info
            elif isinstance(v, cst.Name):
                info = built_class(pf, where, v.value, klass, target, root)
                if info is not None:
                    return info
    return None


def receiver(call: cst.Call, name: str) -> str | None:
    """The key of the object ``call`` calls the step function on: ``agent`` of
    ``agent.learn()``; the instance itself for ``__call__`` (``self.steprunner``)."""
    if name == "__call__":
        return key_of(call.func)
    return key_of(call.func.value) if isinstance(call.func, cst.Attribute) else None


def _imported_from(pf, f: cst.BaseExpression, target: str, root: str) -> bool:
    qn = pf.imports.qualify(f)
    if not qn or "." not in qn.lstrip("."):
        return False
    module = qn.rpartition(".")[0]
    path = modules._find_module(pf.path, module, root)
    return path is not None and os.path.realpath(path) == target


def built_class(pf, scope, k: str | None, klass: cst.ClassDef, target: str, root: str):
    """The linted class's analysis when one assignment of name ``k`` in ``scope`` (or the
    module) builds it (``policy = TD3.TD3(**kwargs)``, maybe among other classes)."""
    if not k or "." in k:
        return None
    values = values_assigned(scope, k, nested_functions=False)
    if not values and scope is not pf.module:
        values = values_assigned(pf.module, k, nested_functions=False)
    for v in values:
        info = instance_of(pf, v, klass, target, root) if v is not None else None
        if info is not None:
            return info
    return None


def instance_of(pf, value: cst.BaseExpression, klass: cst.ClassDef, target: str, root: str):
    """The linted class's analysis when ``value`` builds an instance of it (``klass`` of the
    file ``target``)."""
    info = modules.class_of_call_value(pf, value, root)[0]
    if info is not None and info.node.name.value == klass.name.value and os.path.realpath(info.file.path) == target:
        return info
    return None
