"""Optimizer classes held in a variable: ``optimizer_cls(params, lr=...)``.

Training scripts often choose the optimizer's class first and build it (or several) later::

    if args.use_8bit_adam:
        import bitsandbytes as bnb
        optimizer_class = bnb.optim.AdamW8bit
    else:
        optimizer_class = torch.optim.AdamW
    optimizer = optimizer_class(model.parameters(), lr=args.lr)

A call of such a name builds an optimizer when every value the name is assigned in its scope
(the function, not its nested functions; the module for a name no function assigns) is a
class, at least one of them a ``torch.optim`` optimizer and the others classes of an
optimizer library (a module path with ``optim`` in it: ``bitsandbytes.optim``,
``apex.optimizers``, ``torch_optimizer``, ``timm.optim``). A name assigned anything else
(a call, a subscript of a registry, ``getattr(torch.optim, name)``, a parameter) holds no
known class.

``held_optimizer_class(ctx, scope, call)`` answers ``(True, "AdamW")`` when all the values
are the same torch class, ``(True, None)`` when they differ, ``(False, None)`` otherwise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from optimlint.analysis import symbols
from optimlint.analysis.assignments import stores
from optimlint.analysis.call_args import every_param

if TYPE_CHECKING:
    from optimlint.context import FileContext


def _library_class(qualname: str) -> bool:
    """``bitsandbytes.optim.AdamW8bit``: a capitalised name under a module that says optim."""
    parts = qualname.split(".")
    return len(parts) >= 2 and parts[-1][:1].isupper() and any("optim" in p.lower() for p in parts[:-1])


def _is_parameter(scope: cst.CSTNode, name: str) -> bool:
    return isinstance(scope, cst.FunctionDef) and any(p.name.value == name for p in every_param(scope))


def held_optimizer_class(ctx: "FileContext", scope: cst.CSTNode | None, call: cst.Call) -> tuple[bool, str | None]:
    func = call.func
    if not isinstance(func, cst.Name):
        return False, None
    name = func.value
    own = scope if scope is not None else ctx.module
    if _is_parameter(own, name):
        return False, None
    found = stores(own, name, nested_functions=False)
    if not found and own is not ctx.module:
        found = stores(ctx.module, name, nested_functions=False)
    if not found or any(st.kind not in ("=", ":") or st.value is None for st in found):
        return False, None
    torch_classes: set[str] = set()
    for st in found:
        if not isinstance(st.value, (cst.Name, cst.Attribute)):
            return False, None
        qn = ctx.qualify(st.value)
        if qn is None:
            return False, None
        cls = symbols.optimizer_class(qn)
        if cls is not None:
            torch_classes.add(cls)
        elif not _library_class(qn):
            return False, None
    if not torch_classes:
        return False, None
    every_same = len(torch_classes) == 1 and all(symbols.optimizer_class(ctx.qualify(st.value)) for st in found)
    return True, next(iter(torch_classes)) if every_same else None
