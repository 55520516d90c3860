"""OPT301-OPT304: what an optimizer was built with (and the errors its constructor raised)."""

from __future__ import annotations

import torch

from optimlint.runtime.verdicts.groups import KERAS_NAMES


def at_error(mon, opt, kwargs, exc, loc) -> None:
    """The constructor raised: the TypeError of a Keras keyword (OPT301), the ValueErrors of
    nesterov without momentum (OPT303), shared parameters (OPT402) and no parameters (OPT304)."""
    text = str(exc)
    name = type(opt).__name__
    if isinstance(exc, TypeError):
        for key in kwargs:
            if key in KERAS_NAMES and f"'{key}'" in text:
                mon.observe("OPT301", f"`{name}` got the Keras/TF argument `{key}`: "
                            f"{KERAS_NAMES[key]} (TypeError at construction)", loc)
        return
    if not isinstance(exc, ValueError):
        return
    if "Nesterov momentum requires" in text:
        mon.observe("OPT303", f"`{name}(nesterov=True)` needs a non-zero momentum and zero dampening "
                    "(ValueError at construction)", loc)
    elif "more than one parameter group" in text:
        mon.observe("OPT402", f"the same parameters are listed in two parameter groups of `{name}` "
                    "(ValueError at construction)", loc)
    elif "empty parameter list" in text:
        mon.observe("OPT304", f"`{name}` was built from an empty parameter list: was a "
                    "`.parameters()` generator already consumed? (ValueError at construction)", loc)


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
