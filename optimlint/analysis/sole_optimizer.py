"""Whether the file proves that one optimizer is the only one that can train a model.

OPT401 leaves role-named parts (``critic``, ``value_head``, ``G2``, ``fc_q``) out of its
report: adversarial and actor-critic code trains them with an optimizer of their own, often
built in another method or file. That silence is wrong for a script that builds the model,
one optimizer for it and nothing else that could reach it: a ``value_head`` no optimizer
holds is then never updated.

The evidence, all read from this file (anything unreadable answers "not proven"):
- the file trains (it calls ``backward`` and ``step``): a module that only builds models and
  optimizers may be imported by the script that trains the rest;
- the model is a plain name bound in this file (not ``self.x``, not a parameter);
- every bare use of that name is its own assignment, a call of it (the forward), an
  attribute read (``model.fc``), or an argument of a function or class defined in this file
  or of a call that cannot build an optimizer (``print``, ``torch.save``, ``deepcopy``);
  a ``return``, an alias (``net = model``), a container, an unknown callee may all hand it
  to code that builds another optimizer;
- every other optimizer in the file draws its parameters only from names that provably
  are not the model (followed through their assignments; a parameter or ``self`` is not
  provably anything else).
"""

from __future__ import annotations

import libcst as cst

from optimlint.analysis import walk as _walk
from optimlint.analysis.modules import dotted
from optimlint.vocabulary import MODEL_HARMLESS_CALLEES



def only_optimizer_of(a, site, head: str) -> bool:
    """``site`` (an ``OptimizerSite`` of the param-group analysis ``a``) is provably the
    only optimizer of the object bound to the plain name ``head``."""
    if head == "self":
        return False
    source = a.ctx.source
    if "backward(" not in source or ".step(" not in source:
        return False
    found = a.lookup(site.scopes, head)
    if found is None or found[1].opaque:
        return False
    module = a.ctx.module
    local_defs = {s.name.value for s in module.body if isinstance(s, (cst.FunctionDef, cst.ClassDef))}
    if not _uses_stay_home(module, head, local_defs):
        return False
    for other in a.sites:
        if other is site:
            continue
        if other.params is None or _may_hold(a, other.scopes, other.params, head, a.ctx.imports.bindings, 3):
            return False
    return True


def _uses_stay_home(module: cst.Module, head: str, local_defs: set[str]) -> bool:
    parents = _walk.parent_map(module)
    for node in _walk.nodes_of(module, cst.Name):
        if node.value != head:
            continue
        parent = parents.get(node)
        if isinstance(parent, cst.Attribute) and parent.value is node:
            continue  # model.fc
        if isinstance(parent, cst.Call) and parent.func is node:
            continue  # model(x)
        if isinstance(parent, cst.AssignTarget) or isinstance(parent, cst.Param):
            continue
        if isinstance(parent, (cst.Attribute, cst.ImportAlias)):
            continue  # x.model: another object's attribute of that name
        if isinstance(parent, cst.Arg) and parent.value is node:
            call = parents.get(parent)
            callee = dotted(call.func) if isinstance(call, cst.Call) else None
            if callee in local_defs or callee in MODEL_HARMLESS_CALLEES:
                continue
        return False
    return True


def _may_hold(a, scopes: tuple, expr: cst.CSTNode, head: str, imported, depth: int) -> bool:
    """``imported``: the file's import bindings (local name -> dotted path)."""
    """Whether the parameters ``expr`` names may be the object ``head`` holds."""
    if depth == 0:
        return True
    parents = _walk.parent_map(expr)
    for node in _walk.nodes_of(expr, cst.Name):
        parent = parents.get(node)
        if isinstance(parent, cst.Attribute) and parent.attr is node:
            continue
        if isinstance(parent, cst.Call) and parent.func is node:
            continue  # list(...), filter(...)
        if isinstance(parent, (cst.Arg, cst.Param)) and getattr(parent, "keyword", None) is node:
            continue
        name = node.value
        if name == head:
            return True
        if name in imported and _callee_prefix(parents, node):
            continue  # itertools.chain(...)
        found = a.lookup(scopes, name)
        if found is None:
            continue  # a builtin or a lambda's parameter
        _, use = found
        if use.opaque:
            return True
        if any(_may_hold(a, scopes, v, head, imported, depth - 1) for v in use.values):
            return True
    return False


def _callee_prefix(parents, node: cst.Name) -> bool:
    """``node`` starts the dotted callee of a call (``itertools`` in ``itertools.chain(x)``)."""
    child = node
    parent = parents.get(child)
    while isinstance(parent, cst.Attribute) and parent.value is child:
        child, parent = parent, parents.get(parent)
    return child is not node and isinstance(parent, cst.Call) and parent.func is child
