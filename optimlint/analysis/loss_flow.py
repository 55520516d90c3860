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
from optimlint.vocabulary import MODULE_SELF_RETURNING

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
    calls under ``torch.no_grad()``).

    A called name is followed to the module it is bound to (``head = model.head``, ``net =
    DataParallel(model)``, ``net = model.to(device)``) and that call decides: a forward under
    ``no_grad`` stays one through an alias, and a construction's settings (``nn.Linear(
    in_features=model.dim, ...)``) are no module of the call."""
    seen: set[str] = set()
    todo: list[tuple[cst.CSTNode, cst.Call | None]] = [(expr, None)]  # (node, the call whose callee led here)
    while todo:
        node, gate = todo.pop()
        if gate is not None:
            found = _callee_module(node, modules, seen, scope, todo, gate)
            if found:
                return handed is None or handed(gate)
            continue
        t = type(node)
        if t is cst.Call:
            f = node.func
            if isinstance(f, cst.Attribute) and f.attr.value in ("detach", "detach_"):
                continue
            k = key_of(f) if isinstance(f, (cst.Name, cst.Attribute)) else None
            if k and any(_covers(m, k) or _covers(k, m) for m in modules):
                if handed is None or handed(node):
                    return True
                continue  # (the module's forward, ruled out)
            if handed is not None and handed(node) and any(_covers(m, a) or _covers(a, m) for m in modules
                              for a in (key_of(arg.value) for arg in node.args) if a):
                return True
            # (a called name: what it is bound to, under this call; a method's receiver,
            # ``(a - b).pow(2).mean()``, is data, followed as it is)
            todo.append((f, node) if isinstance(f, cst.Name) else (f, None))
            todo.extend((a.value, None) for a in node.args)
        elif t is cst.Attribute:
            if node.attr.value != "data":
                todo.append((node.value, None))
        elif t is cst.Name:
            _follow(node.value, seen, scope, todo, None)
        elif isinstance(node, (cst.BaseExpression, cst.Arg, cst.Element, cst.DictElement)):
            todo.extend((c, None) for c in node.children if isinstance(c, cst.CSTNode))
    return False


# Constructors that wrap the module they are given, sharing its parameters.
_WRAPPERS = frozenset({"DataParallel", "DistributedDataParallel", "DDP", "FullyShardedDataParallel", "FSDP",
                       "deepcopy", "compile"})


def _callee_module(node: cst.CSTNode, modules: frozenset[str], seen: set[str], scope: cst.CSTNode,
                   todo: list, gate: cst.Call) -> bool:
    """One step of following what a called name is bound to: True when ``node`` is one of
    ``modules`` (or a submodule's key); aliases and wrappers are followed, anything else (a
    construction, a helper's result) ends the path."""
    if isinstance(node, (cst.Name, cst.Attribute)):
        k = key_of(node)
        if k and any(_covers(m, k) for m in modules):
            return True
        if isinstance(node, cst.Name):
            _follow(node.value, seen, scope, todo, gate)
        return False
    if isinstance(node, cst.IfExp):
        todo.extend([(node.body, gate), (node.orelse, gate)])
    elif isinstance(node, cst.Call):
        f = node.func
        if isinstance(f, cst.Attribute) and f.attr.value in MODULE_SELF_RETURNING:
            todo.append((f.value, gate))
        elif isinstance(f, (cst.Name, cst.Attribute)) and (key_of(f) or "").rsplit(".", 1)[-1] in _WRAPPERS:
            first = next((a.value for a in node.args if a.keyword is None and not a.star), None)
            if first is not None:
                todo.append((first, gate))
        elif isinstance(f, (cst.Name, cst.Attribute)) and (key_of(f) or "").rsplit(".", 1)[-1] == "Sequential":
            # ``net = nn.Sequential(backbone, head)``: a forward of each module it chains
            todo.extend((a.value, gate) for a in node.args if a.keyword is None and not a.star)
    return False


def _follow(name: str, seen: set[str], scope: cst.CSTNode, todo: list, gate: cst.Call | None) -> None:
    if name in seen or name == "self" or len(seen) >= MAX_NAMES:
        return
    found = stores(scope, name, nested_functions=False)
    if found:  # (a global or an import: nothing to follow, nothing counted)
        seen.add(name)
    todo.extend((st.rhs, gate) for st in found if st.rhs is not None)
