"""Which networks a backpropagated loss is computed through: the modules whose gradients its
backward writes (``d_loss = self.D(x).mean() - self.D(self.G(z).detach()).mean()`` reaches
``self.D``, not ``self.G``).

Read only from the function's own statements: the loss's name is followed to what the function
assigns it (``d_loss = d_real + d_fake``, ``out, aux = self.D(x)``), a few names deep; a forward
call of a module key is a path into that module unless it sits under ``.detach()`` or ``.data``.
A ``True`` answer is evidence; ``False`` means none was found (a helper of another function, a
loss handed in as a parameter), never a proof that the backward leaves the modules alone.

Usage::

    from optimlint.analysis.loss_flow import computed_through

    computed_through(func, backward_call.func.value, frozenset({"self.D"}))
"""

from __future__ import annotations

from collections.abc import Callable

import libcst as cst

from optimlint.analysis.assignments import stores
from optimlint.analysis.names import key_of

MAX_NAMES = 24  # names followed per question (a loss is a sum of a few terms, each a few steps deep)


def _covers(a: str, b: str) -> bool:
    return a == b or b.startswith(a + ".") or b.startswith(a + "[")


def computed_through(scope: cst.CSTNode, expr: cst.BaseExpression, modules: frozenset[str],
                     handed: Callable[[cst.Call], bool] | None = None) -> bool:
    """``expr`` (evaluated in ``scope``, a function or the module) is computed by a forward of
    one of ``modules``, of a submodule of one, or of a module holding one, outside ``.detach()``.
    With ``handed``, a call given one of them as an argument counts too (``loss =
    calc_loss_batch(x, y, model, device)``: a loss helper runs the module's forward), and a
    call of either kind counts only where ``handed(call)`` holds (the caller rules out, say,
    calls under ``torch.no_grad()``)."""
    seen: set[str] = set()
    todo: list[cst.CSTNode] = [expr]
    while todo:
        node = todo.pop()
        t = type(node)
        if t is cst.Call:
            f = node.func
            if isinstance(f, cst.Attribute) and f.attr.value in ("detach", "detach_"):
                continue
            k = key_of(f) if isinstance(f, (cst.Name, cst.Attribute)) else None
            if k and any(_covers(m, k) or _covers(k, m) for m in modules) and (handed is None or handed(node)):
                return True
            if handed is not None and handed(node) and any(_covers(m, a) or _covers(a, m) for m in modules
                              for a in (key_of(arg.value) for arg in node.args) if a):
                return True
            todo.append(f)
            todo.extend(a.value for a in node.args)
        elif t is cst.Attribute:
            if node.attr.value != "data":
                todo.append(node.value)
        elif t is cst.Name:
            name = node.value
            if name in seen or name == "self" or len(seen) >= MAX_NAMES:
                continue
            found = stores(scope, name, nested_functions=False)
            if found:  # (a global or an import: nothing to follow, nothing counted)
                seen.add(name)
            todo.extend(st.rhs for st in found if st.rhs is not None)
        elif isinstance(node, (cst.BaseExpression, cst.Arg, cst.Element, cst.DictElement)):
            todo.extend(c for c in node.children if isinstance(c, cst.CSTNode))
    return False
