"""What a function of another project file can do to an optimizer: its effect summary.

A call the iteration model cannot see into is *opaque*: handed the optimizer (or the model),
it might clear or step it, and the order rules stay silent around it. Functions of the
same file are inlined instead; a function imported from another file of the project
(``from utils import clip_gradient``) is read here, once per file version, and summarised
as "never clears, steps or backpropagates" when its body provably does none of that:

- no call named like a clear, a step or a backward (``zero_grad``, ``zero_``, ``step``,
  ``backward``, ``unscale_``, ``update``, ``manual_backward``), no assignment or ``del`` of a
  ``.grad``, no ``requires_grad`` change;
- every other call is to a method of a value (``param.grad.data.clamp_(...)``), a builtin or
  torch: a call to any other function, or a nested ``def``/``lambda``/``class``, makes the
  summary unknown (the function might pass the optimizer on).

The answer is only ever "certainly harmless" or "unknown"; unknown keeps the call opaque.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING

import libcst as cst

from optimlint.analysis.modules import _NOT_PROJECT, _find_module, parse_file
from optimlint.analysis.walk import children

if TYPE_CHECKING:
    from optimlint.context import FileContext

_EFFECT_NAMES = frozenset({
    "zero_grad", "zero_", "step", "backward", "manual_backward", "unscale_", "update", "requires_grad_",
    "set_to_none", "fill_", "load_state_dict", "add_param_group",
})
_BUILTINS = frozenset(dir(builtins))
_SUMMARIES: dict[int, tuple[cst.FunctionDef, bool]] = {}


def project_function(ctx: "FileContext", func: cst.BaseExpression) -> cst.FunctionDef | None:
    """The top-level function of another project file that ``func`` (as written in the linted
    file) names through its imports; None for anything else."""
    qn = ctx.qualify(func)
    if qn is None or "." not in qn.lstrip("."):
        return None
    level = len(qn) - len(qn.lstrip("."))
    module, _, name = qn.rpartition(".")
    if not level and module.split(".", 1)[0] in _NOT_PROJECT:
        return None
    path = _find_module(ctx.path, module, ctx.project_root)
    if path is None:
        return None
    pf = parse_file(path)
    if pf is None or name in pf.classes:
        return None
    defs = [s for s in pf.module.body if isinstance(s, cst.FunctionDef) and s.name.value == name]
    return defs[0] if len(defs) == 1 else None


def never_touches_optimizers(fn: cst.FunctionDef) -> bool:
    """``fn`` certainly neither clears, steps nor backpropagates anything (see the module doc)."""
    hit = _SUMMARIES.get(id(fn))
    if hit is None or hit[0] is not fn:  # the entry holds ``fn``: its id is not reused
        hit = _SUMMARIES[id(fn)] = (fn, _harmless(fn))
    return hit[1]


def _harmless(fn: cst.FunctionDef) -> bool:
    if fn.asynchronous is not None or fn.decorators:
        return False
    for node in find(fn.body, (cst.FunctionDef, cst.Lambda, cst.ClassDef, cst.Del, cst.Call, cst.Assign,
                               cst.AugAssign, cst.AnnAssign, cst.Global, cst.Nonlocal, cst.Yield)):
        if isinstance(node, (cst.FunctionDef, cst.Lambda, cst.ClassDef, cst.Global, cst.Nonlocal, cst.Yield)):
            return False
        if isinstance(node, cst.Del):
            return False
        if isinstance(node, (cst.Assign, cst.AugAssign, cst.AnnAssign)):
            targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
            if any(_names_grad(t) for t in targets):
                return False
            continue
        f = node.func
        if isinstance(f, cst.Attribute):
            if f.attr.value in _EFFECT_NAMES:
                return False
            continue  # a method of a value: ``p.grad.data.clamp_(...)``, ``torch.norm(...)``
        if isinstance(f, cst.Name) and f.value in _BUILTINS and f.value not in ("exec", "eval", "setattr",
                                                                                  "delattr", "getattr"):
            continue
        return False
    return True


def find(root: cst.CSTNode, types: tuple[type, ...]):
    """The nodes under ``root`` (included) of one of ``types``, in visit order."""
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, types):
            yield node
        stack.extend(reversed(children(node)))


def _names_grad(target: cst.BaseExpression) -> bool:
    """An assignment target that writes a gradient or ``requires_grad``."""
    for node in find(target, (cst.Attribute,)):
        if node.attr.value in ("grad", "requires_grad"):
            return True
    return isinstance(target, cst.Attribute) and target.attr.value in ("grad", "requires_grad")
