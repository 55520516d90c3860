"""Whether a function of another project file can switch a module's train/eval mode.

OPT603 stays silent when an unseen call in the epoch loop is handed the model: it might call
``model.train()``. A loss helper imported from the project (``loss = dsm_loss(score_net, x)``)
is read instead, and counts as *mode-neutral* when nothing in its body can change a mode:

- no ``.train(...)`` / ``.eval(...)`` / ``.apply(...)`` call, no ``setattr``, no assignment
  to a ``.training`` attribute, no nested ``def``/``lambda``/``class``;
- every call is the forward of one of its parameters (``score_net(x, labels)``), a method of a
  value (``x.view(...)``, ``loss.mean()``), a builtin, a library function (torch, numpy,
  math, ...), or a function of the same file that is itself mode-neutral (three deep).

Anything else (a call to another project module, a method call on a parameter other than a
value method) leaves the answer "unknown": the call may set the mode.

A function of an installed library is not read: ``library_function_call`` only says that the
call names one (its module is in none of the project's folders); OPT603 takes such a call, run
under ``torch.no_grad()``, for an inference routine that leaves the mode as it found it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from optimlint.analysis.call_args import param_names
from optimlint.analysis.modules import _find_module
from optimlint.analysis.names import dotted
from optimlint.analysis.summaries import _BUILTINS, _library_call, _top_function, project_function
from optimlint.analysis.walk import nodes_of
from optimlint.vocabulary import MODE_SETTING_METHODS

if TYPE_CHECKING:
    from optimlint.context import FileContext

_DEPTH = 3


def mode_neutral_call(ctx: "FileContext", call: cst.Call) -> bool:
    """``call`` calls a function of another project file that certainly sets no module's mode."""
    found = project_function(ctx, call.func)
    if found is None:
        return False
    fn, pf = found
    return _neutral(fn, pf, 0, [])


def library_function_call(ctx: "FileContext", call: cst.Call) -> bool:
    """``call`` calls a function imported from an installed library, not from the project
    (``sliding_window_inference(images, roi, 4, model)`` with ``from monai.inferers import
    sliding_window_inference``): its module is found in none of the project's folders."""
    qn = ctx.qualify(call.func)
    if not qn or qn.startswith(".") or "." not in qn:
        return False
    module = qn.rpartition(".")[0]
    return _find_module(ctx.path, module, ctx.project_root) is None and \
        _find_module(ctx.path, module.split(".", 1)[0], ctx.project_root) is None


def may_restore_training_call(ctx: "FileContext", call: cst.Call, handed) -> bool | None:
    """``call`` calls a function of another project file that may put what the caller hands
    it as ``handed`` (a predicate on an argument's expression) back in training mode
    (``validate(model, loader)`` ending with ``model.train()``; one that only calls ``.eval()``
    does not). The training model drops such a call when it never touches an optimizer, so
    its mode switches are no event of the loop. None: no argument is handed, or not a
    function of the project."""
    if not any(handed(a.value) for a in call.args):
        return None
    found = project_function(ctx, call.func)
    if found is None:
        return None
    fn, pf = found
    return not _neutral(fn, pf, 0, [], restoring=True, watched=_receiving(fn, call, handed))


def _receiving(fn: cst.FunctionDef, call: cst.Call, handed) -> set[str]:
    """The parameters of ``fn`` that receive an argument of ``call`` that ``handed`` accepts
    (all of them when a starred argument makes the mapping unknown)."""
    names = [p.name.value for p in fn.params.posonly_params + fn.params.params]
    out: set[str] = set()
    for i, a in enumerate(call.args):
        if a.star:
            return param_names(fn)
        if not handed(a.value):
            continue
        if a.keyword is not None:
            out.add(a.keyword.value)
        elif i < len(names):
            out.add(names[i])
        else:
            return param_names(fn)  # ``*args`` takes it
    return out


def _neutral(fn: cst.FunctionDef, pf, depth: int, active: list, restoring: bool = False,
             watched: set[str] | None = None) -> bool:
    """``fn`` certainly sets no module's mode (``restoring``: puts none in training mode,
    ``.eval()`` and ``.train(False)`` allowed, and hands ``watched``, the parameters that
    hold the caller's module, to nothing that might; all parameters when None)."""
    if depth > _DEPTH or any(a is fn for a in active) or fn.decorators:
        return False
    params = param_names(fn)
    watch = params if watched is None else watched
    active.append(fn)
    try:
        for node in nodes_of(fn.body, (cst.FunctionDef, cst.Lambda, cst.ClassDef, cst.Call, cst.AssignTarget)):
            if isinstance(node, cst.AssignTarget):
                if any(a.attr.value == "training" for a in nodes_of(node.target, (cst.Attribute,))):
                    return False
                continue
            if not isinstance(node, cst.Call):
                return False
            f = node.func
            if isinstance(f, cst.Attribute):
                if f.attr.value in MODE_SETTING_METHODS and not (restoring and _evaluates(f.attr.value, node)):
                    return False
                root = (dotted(f.value) or "").split(".", 1)[0]
                if root and pf.imports.imported(root) and not _library_call(pf, f) and \
                        not (restoring and not _hands_on(node, watch)):
                    return False  # ``utils.run(model)``: another project function
                if restoring and root in watch and f.attr.value not in MODE_SETTING_METHODS and (
                        "train" in f.attr.value or "mode" in f.attr.value):
                    return False  # ``model.train_start()``: a project method named for the mode
                continue  # a method of a value
            if not isinstance(f, cst.Name):
                return False
            if f.value in params:
                continue  # ``score_net(x)``: a parameter's forward
            if f.value in _BUILTINS and f.value != "setattr" and not pf.imports.imported(f.value):
                continue
            if _library_call(pf, f):
                continue
            local = _top_function(pf, f.value) if not pf.imports.imported(f.value) else None
            if local is None and restoring and not _hands_on(node, watch):
                continue  # ``copy.deepcopy(dataset)``-like: what it is given is not the modules
            if local is None or not _neutral(local, pf, depth + 1, active, restoring):
                return False
        return True
    finally:
        active.pop()


def _evaluates(method: str, call: cst.Call) -> bool:
    """``m.eval()``, ``m.eval_mode()``, ``m.train(False)``: a switch to evaluation mode."""
    if method in ("eval", "eval_mode"):
        return True
    return method == "train" and len(call.args) == 1 and dotted(call.args[0].value) == "False"


def _hands_on(call: cst.Call, watched: set[str]) -> bool:
    """``call`` is given something of the ``watched`` parameters (``run(model)``,
    ``run(net=model.encoder)``): it may switch that module's mode."""
    return any(n.value in watched for a in call.args for n in nodes_of(a.value, (cst.Name,)))
