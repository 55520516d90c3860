"""The torch optimizer a project class of another file keeps in one of its attributes.

An RL agent often steps an optimizer its network object builds for itself:
``self.optimizer = optim.Adam(self.parameters(), lr=lr)`` in ``ActorNetwork.__init__`` of
``networks.py``, stepped as ``self.actor.optimizer.step()`` in the agent's ``learn()``.
``carried_construction`` reads that class (and its project bases) for the one assignment of
the attribute; ``bindings.Bindings.carried`` turns it into a binding of the agent's key. A
class of the linted file is read from the file's own bindings instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from optimlint.analysis import modules, symbols
from optimlint.analysis.assignments import values_assigned

if TYPE_CHECKING:
    from optimlint.context import FileContext

_MAX_BASES = 8


def carried_construction(ctx: "FileContext", func: cst.BaseExpression,
                         attr: str) -> tuple[str, cst.Call, cst.CSTNode] | None:
    """(torch optimizer class, its construction call, the class holding that call) for
    ``attr`` (``"self.optimizer"``) of the project class the constructor ``func`` names, when
    the first class on its bases' path that assigns ``attr`` assigns it exactly once, a torch
    optimizer built right there. None for anything else (a factory, a parameter, two values)."""
    resolved = modules.constructed_class(ctx, func)
    if resolved is None or not resolved.is_class or resolved.node is None:
        return None
    todo = [(resolved.file, resolved.node)]
    seen = 0
    while todo and seen < _MAX_BASES:
        pf, klass = todo.pop(0)
        seen += 1
        values = values_assigned(klass, attr, nested_functions=False)
        if values:
            value = values[0] if len(values) == 1 else None
            if not isinstance(value, cst.Call):
                return None
            cls = symbols.optimizer_class(pf.imports.qualify(value.func))
            return (cls, value, klass) if cls is not None else None
        for base in klass.bases:
            r = modules.resolve_name(pf, base.value, ctx.project_root)
            if r is not None and r.node is not None:
                todo.append((r.file, r.node))
    return None
