"""OPT301-OPT304: what an optimizer was built with (and the errors its constructor raised)."""

from __future__ import annotations

import torch

from optimlint.vocabulary import KERAS_HINTS


def at_error(mon, opt, kwargs, exc, loc, where="construction", name=None) -> None:
    """The constructor (or ``add_param_group``: ``where``) raised: the TypeError of a Keras
    keyword (OPT301), the ValueErrors of nesterov without momentum (OPT303), shared parameters
    (OPT402) and no parameters (OPT304). ``name``: the user's variable when it is known."""
    text = str(exc)
    name = name or type(opt).__name__
    if isinstance(exc, TypeError):
        for key in kwargs:
            if key in KERAS_HINTS and f"'{key}'" in text:
                mon.observe("OPT301", f"`{name}` got the Keras/TF argument `{key}`: "
                            f"{KERAS_HINTS[key]} (TypeError at {where})", loc)
        return
    if not isinstance(exc, ValueError):
        return
    if "Nesterov momentum requires" in text:
        mon.observe("OPT303", f"`{name}(nesterov=True)` needs a non-zero momentum and zero dampening "
                    f"(ValueError at {where})", loc)
    elif "more than one parameter group" in text:
        mon.observe("OPT402", f"the same parameters are listed in two parameter groups of `{name}` "
                    f"(ValueError at {where})", loc)
    elif "empty parameter list" in text:
        mon.observe("OPT304", f"`{name}` was built from an empty parameter list: was a "
                    f"`.parameters()` generator already consumed? (ValueError at {where})", loc)


def at_construct(mon, opt, orec, loc) -> None:
    """OPT304 (no parameters) and OPT302 (an Adam-family optimizer with coupled decay)."""
    name = type(opt).__name__
    if not any(len(group.get("params", ())) for group in opt.param_groups):
        mon.once(orec, "OPT304", f"`{name}` was built with zero parameters: was a `.parameters()` "
                 "generator already consumed?", loc)
    adam_family = tuple(getattr(torch.optim, n) for n in ("Adam", "NAdam", "RAdam") if hasattr(torch.optim, n))
    adamw = getattr(torch.optim, "AdamW", None)
    if isinstance(opt, adam_family) and not (adamw is not None and isinstance(opt, adamw)):
        for group in opt.param_groups:
            wd = group.get("weight_decay", 0)
            if isinstance(wd, (int, float)) and not isinstance(wd, bool) and wd > 0 \
                    and not group.get("decoupled_weight_decay", False):
                mon.once(orec, "OPT302", f"`{name}` was built with weight_decay={wd} as coupled L2: "
                         "use `AdamW` (decoupled decay), or add `# noqa: OPT302` where L2 is intended", loc)
                break


def exhausted_generator(mon, loc) -> None:
    """OPT304, second consumer: a clip handed a ``.parameters()`` generator that an earlier
    consumer (the optimizer) already read to the end: it clips nothing."""
    mon.observe("OPT304", "`clip_grad_*` was given an exhausted `.parameters()` generator: it clipped "
                "nothing (the generator was consumed before; keep the parameters in a `list`)", loc)


def replaced_params(mon, orec, loc) -> None:
    """OPT305: a step after backward passes that reached none of the optimizer's parameters,
    while a module of the same parameter shapes received gradients in parameters no optimizer
    holds: the module's parameters were replaced after the optimizer was built (deepcopy,
    ``to_empty``, ``load_state_dict(assign=True)``, FSDP), and the step updates dead tensors."""
    if orec.shapes is None or ("OPT305", mon.nodeid) in orec.reported:
        return
    from optimlint.runtime.verdicts.groups import optimized_ids, user_modules

    optimized = optimized_ids(mon)
    for name, module in user_modules(mon):
        trainable = [p for p in module.parameters() if p.requires_grad]
        if not trainable or any(id(p) in optimized for p in trainable):
            continue
        if sorted(tuple(p.shape) for p in trainable) != orec.shapes:
            continue
        if not any(p.grad is not None for p in trainable):
            continue
        mon.once(orec, "OPT305", f"at step {orec.steps + 1}, `{orec.label}` holds none of the parameters of "
                 f"`{name}`, which received the gradients: they were replaced after the optimizer was "
                 "built, so the step updates tensors the model no longer uses (build the optimizer after)",
                 loc, related=(orec.loc,) if orec.loc else ())
        return
