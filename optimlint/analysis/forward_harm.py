"""OPT604's evidence of harm: where calling ``module.forward(x)`` instead of ``module(x)``
skips something that matters.

``nn.Module.__call__`` runs the module's own hooks and, for a DDP/FSDP wrapper, the gradient
synchronisation or unsharding. Skipping it does harm only when there is something to skip
or the call is part of training:

- the module is, or will be, wrapped by DDP/FSDP (``ddp_model.forward(x)``, or
  ``DDP(model)`` anywhere in the file and ``model.forward(x)``); not ``nn.DataParallel``, whose
  ``forward`` does the scattering itself;
- ``wrapper.module.forward(x)`` bypasses a wrapper built in the file;
- hooks are registered on the module in the file (``register_*hook``, ``torch.nn.utils.prune``,
  ``weight_norm``/``spectral_norm``, quantization ``prepare``), or global module hooks;
- the call runs in a training loop (a loop with a backward) or an evaluation loop (a loop
  under ``no_grad``/``inference_mode``).

``self.<sub>.forward(...)`` inside a module's own methods is never harm enough: the parent's
``__call__`` already ran, and a submodule's hooks are its author's business.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from optimlint.analysis import walk as _walk
from optimlint.analysis.assignments import values_assigned
from optimlint.analysis.bindings import key_of
from optimlint.analysis.call_args import arg
from optimlint.analysis.grad_mode import grad_mode
from optimlint.vocabulary import DATA_PARALLEL, FULLY_SHARD, GLOBAL_HOOKS, HOOK_METHODS, HOOKING_FUNCTIONS, PRUNE_PREFIX
from optimlint.vocabulary import MODULE_WRAPPERS as WRAPPERS

SYNCING_WRAPPERS = WRAPPERS - DATA_PARALLEL  # DDP and FSDP: their ``__call__`` and hooks synchronise

if TYPE_CHECKING:
    from optimlint.context import FileContext


def _first_arg_key(call: cst.Call) -> str | None:
    """The key of the module a wrapper, sharder or hooking function is given (its first parameter)."""
    value = arg(call, 0, "module")
    return key_of(value) if value is not None else None


def _file_facts(ctx: "FileContext") -> dict:
    """Keys wrapped by DDP/FSDP, keys with hooks, whether global hooks exist (cached)."""

    def build() -> dict:
        wrapped: set[str] = set()
        hooked: set[str] = set()
        global_hooks = False

        class V(cst.CSTVisitor):
            def visit_Call(self, node: cst.Call) -> None:
                nonlocal global_hooks
                f = node.func
                qn = ctx.qualify(f) or ""
                if qn in SYNCING_WRAPPERS or qn in FULLY_SHARD:
                    k = _first_arg_key(node)
                    if k:
                        wrapped.add(k)
                elif qn in HOOKING_FUNCTIONS or qn.startswith(PRUNE_PREFIX):
                    k = _first_arg_key(node)
                    if k:
                        hooked.add(k)
                elif qn in GLOBAL_HOOKS:
                    global_hooks = True
                elif isinstance(f, cst.Attribute) and f.attr.value in HOOK_METHODS:
                    k = key_of(f.value)
                    if k:
                        hooked.add(k)

        _walk.visit(ctx.module, V())
        return {"wrapped": wrapped, "hooked": hooked, "global": global_hooks}

    return ctx.cached(("forward_harm", "facts"), build)


def is_wrapper_value(ctx: "FileContext", value: cst.BaseExpression | None, wrappers=WRAPPERS) -> bool:
    return isinstance(value, cst.Call) and (ctx.qualify(value.func) or "") in wrappers


def wrapper_bypass(ctx: "FileContext", key: str, func, klass) -> str | None:
    """``x.module.forward``: ``x`` holds a DDP/DataParallel/FSDP wrapper built in the file."""
    if not key.endswith(".module"):
        return None
    base = key[: -len(".module")]
    if base.startswith("self."):
        if klass is None or base.count(".") != 1:
            return None
        values = values_assigned(klass, base, nested_functions=False)
    elif "." in base:
        return None
    else:
        values = values_assigned(func if func is not None else ctx.module, base, nested_functions=False)
        if not values and func is not None:
            values = values_assigned(ctx.module, base, nested_functions=False)
    if values and any(is_wrapper_value(ctx, v) for v in values):
        return f"`{key}` is the module inside a wrapper: calling its `forward` bypasses the wrapper"
    return None


def harm(ctx: "FileContext", call: cst.Call, key: str, values: list) -> str | None:
    """Why skipping ``__call__`` matters here, or None when nothing shows it does."""
    facts = _file_facts(ctx)
    if any(is_wrapper_value(ctx, v, SYNCING_WRAPPERS) for v in values):
        return "the module is a DDP/FSDP wrapper, whose `__call__` synchronises or gathers the parameters"
    if key in facts["wrapped"]:
        return "the module is wrapped by DDP/FSDP in this file, and its hooks do that work"
    if key in facts["hooked"]:
        return "hooks are registered on the module in this file"
    if facts["global"]:
        return "global module hooks are registered in this file"
    loop = training_or_evaluation_loop(ctx, call)
    if loop:
        return f"the call runs in {loop}"
    return None


def training_or_evaluation_loop(ctx: "FileContext", node: cst.CSTNode) -> str | None:
    """"a training loop" when a loop around ``node`` (in its function) holds a backward,
    "an evaluation loop" when one runs under ``no_grad``/``inference_mode``."""
    cur, loops, no_grad = ctx.parents.get(node), [], False
    while cur is not None and not isinstance(cur, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
        if isinstance(cur, (cst.For, cst.While)):
            loops.append(cur)
        if isinstance(cur, cst.With) and any(_no_grad(ctx, item.item) for item in cur.items):
            no_grad = True
        cur = ctx.parents.get(cur)
    if isinstance(cur, cst.FunctionDef) and any(_no_grad(ctx, d.decorator) for d in cur.decorators):
        no_grad = True
    if not loops:
        return None
    for loop in loops:
        if _has_backward(loop):
            return "a training loop (a backward in the same loop)"
    return "an evaluation loop (under `no_grad`/`inference_mode`)" if no_grad else None


def _no_grad(ctx, expr: cst.BaseExpression) -> bool:
    """A with-item or decorator that turns gradients off (``vocabulary.grad_mode``, as OPT602 reads it)."""
    return grad_mode(ctx.qualify, expr) is False


def _has_backward(loop: cst.CSTNode) -> bool:
    found = False

    class V(cst.CSTVisitor):
        def visit_FunctionDef(self, node) -> bool:
            return False

        def visit_Call(self, node: cst.Call) -> None:
            nonlocal found
            f = node.func
            if isinstance(f, cst.Attribute) and f.attr.value == "backward":
                found = True

    _walk.visit(loop, V())
    return found
