"""Schedulers and optimizers a function's callers in *other* project files build and hand it.

``train(model, loader, optimizer, lr_scheduler, ...)`` in ``utils/train_utils.py`` steps the
scheduler it is handed; ``scheduler = StepLR(optimizer, step_size=1)`` is built in
``finetune.py``, which imports ``train`` and calls it. Same-file callers are read by
``bindings._bind_from_callers``; this module reads the others, for what only they can
answer: a scheduler's class and the period arguments of its construction (OPT202, OPT203 and
the step-argument rules need both), and which optimizers are distinct objects
(``a2c_step(policy_net, value_net, optimizer_policy, optimizer_value, ...)`` handed two
constructions: clearing one does not clear the other). The construction stays in the caller's
tree: it is read for its class and text, never located or fixed from the linted file.

A parameter is bound only when every call found passes, by position or keyword, a name that
its scope (or, for a name the scope neither binds nor receives, the module) assigns exactly
once, from a torch construction of the kind asked, and all of those are the same class with
the same text. Anything else (a helper's return, a ``*args`` call, two
callers building two schedules) leaves the parameter unknown, as before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import libcst as cst

from optimlint.analysis import callers, modules, symbols
from optimlint.analysis.assignments import values_assigned
from optimlint.analysis.call_args import argument_for, param_names
from optimlint.analysis.returned import Reader

if TYPE_CHECKING:
    from optimlint.context import FileContext


class Handed(NamedTuple):
    cls: str  # the torch class (``StepLR``, ``Adam``)
    call: cst.Call  # its construction, in the caller's file


def constructions_handed(ctx: "FileContext", name: str, callee: cst.FunctionDef, skip: int,
                         params: dict[str, str]) -> dict[str, Handed]:
    """For each of ``params`` (of ``callee``: the top-level function ``name``, or with ``skip=1``
    the ``__init__`` of the top-level class ``name``; each with the kind asked, "scheduler" or
    "optimizer"), the construction every call of ``name`` in another project file hands it; a
    parameter some call does not hand one is left out."""
    found: dict[str, list[Handed | None]] = {p: [] for p in params}
    for pf, scope, call in callers.calls_from_other_files(ctx, name):
        reader = Reader(modules.file_qualifier(pf, ctx.project_root), ctx.settings)
        for p, kind in params.items():
            found[p].append(_construction(pf, scope, argument_for(call, callee, skip, p), reader, kind))
    out: dict[str, Handed] = {}
    for p, items in found.items():
        if not items or any(h is None for h in items):
            continue
        if len({(h.cls, _text(h.call)) for h in items}) == 1:  # type: ignore[union-attr]
            out[p] = items[0]  # type: ignore[assignment]
    return out


def _construction(pf, scope: cst.CSTNode, value: cst.BaseExpression | None, reader: Reader,
                  kind: str) -> Handed | None:
    if isinstance(value, cst.Name):
        if isinstance(scope, cst.FunctionDef) and value.value in param_names(scope):
            return None  # the caller's own parameter: what its callers hand is unknown here
        values = values_assigned(scope, value.value, nested_functions=False, through_wrappers=True)
        if not values and scope is not pf.module:
            values = values_assigned(pf.module, value.value, nested_functions=False, through_wrappers=True)
        value = values[0] if len(values) == 1 else None
    if not isinstance(value, cst.Call):
        return None
    found = symbols.classify_call(reader, value)  # type: ignore[arg-type]
    if found is None or found.kind != kind or not found.cls:
        return None
    return Handed(found.cls, value)


def _text(call: cst.Call) -> str:
    return cst.Module(body=[]).code_for_node(call)
