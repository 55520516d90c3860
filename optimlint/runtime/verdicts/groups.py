"""OPT401-OPT403: parameter groups (and OPT301 for a Keras name used as a group key)."""

from __future__ import annotations

import difflib

KERAS_NAMES = {
    "learning_rate": "use `lr`",
    "beta_1": "use `betas=(beta1, beta2)`",
    "beta_2": "use `betas=(beta1, beta2)`",
    "epsilon": "use `eps`",
    "rho": "use `alpha` (RMSprop's smoothing constant)",
    "decay": "PyTorch has no `decay`: use a learning-rate scheduler (or `weight_decay` for L2)",
    "clipnorm": "PyTorch has no `clipnorm`: call `torch.nn.utils.clip_grad_norm_` before the step",
    "clipvalue": "PyTorch has no `clipvalue`: call `torch.nn.utils.clip_grad_value_` before the step",
    "global_clipnorm": "PyTorch has no `global_clipnorm`: call `torch.nn.utils.clip_grad_norm_`",
    "use_ema": "PyTorch has no `use_ema`: use `torch.optim.swa_utils.AveragedModel`",
    "ema_momentum": "PyTorch has no `ema_momentum`: use `torch.optim.swa_utils.AveragedModel`",
}
# Extra group keys that training code commonly adds on purpose (read by its own schedulers).
CONVENTIONAL_KEYS = frozenset({
    "name", "names", "initial_lr", "lr_scale", "lr_mult", "decay_mult", "layer_id", "layer_name",
    "param_names", "group_name", "weight_decay_scale", "lr_ratio", "tag",
})


def group_keys(mon, opt, orec, loc) -> None:
    """OPT301 (a Keras name as a group key) and OPT403 (a close misspelling of a known key)."""
    name = type(opt).__name__
    defaults = getattr(opt, "defaults", {}) or {}
    for index, group in enumerate(opt.param_groups):
        for key in group:
            if key in defaults or key in ("params", "param_names") or key in CONVENTIONAL_KEYS:
                continue
            if key in KERAS_NAMES:
                mon.once(orec, "OPT301", f"parameter group {index} of `{name}` has the Keras/TF key "
                         f"`{key}`, which PyTorch silently ignores: {KERAS_NAMES[key]}", loc)
                continue
            close = difflib.get_close_matches(key, [str(k) for k in defaults], n=1, cutoff=0.8)
            if close:
                mon.once(orec, "OPT403", f"parameter group {index} of `{name}` has the unknown key "
                         f"`{key}` (did you mean `{close[0]}`?), which PyTorch silently ignores", loc)


def missing_params(mon) -> None:
    """OPT401: parameters that require grad and received gradients but belong to no optimizer,
    named by their path in the root module that holds optimized parameters too."""
    orphans = {key: rec for key, rec in mon.gradients.params.items()
               if rec.acc_total and not rec.owners and rec.pref is not None and rec.pref() is not None}
    if not orphans:
        return
    optimized = {}
    for orec in mon.opts.values():
        opt = orec.ref()
        if opt is None:
            continue
        for group in opt.param_groups:
            for p in group["params"]:
                optimized.setdefault(id(p), orec)
    orphans = {k: r for k, r in orphans.items() if k not in optimized and r.pref().requires_grad}
    if not orphans or not optimized:
        return
    modules = [m for m in (r() for r in list(mon.modules.values())) if m is not None]
    children = set()
    for m in modules:
        for c in m.modules():
            if c is not m:
                children.add(id(c))
    roots = [m for m in modules if id(m) not in children]
    names = namespace_names(mon.namespace, roots)
    for root in roots:
        missing = []
        owner = None
        for name, p in root.named_parameters():
            if id(p) in orphans:
                missing.append(name)
            elif owner is None and id(p) in optimized:
                owner = optimized[id(p)]
        if not missing or owner is None:
            continue
        marker = (owner.loc, tuple(missing))
        if marker in mon.reported401:
            continue
        mon.reported401.add(marker)
        prefix = names.get(id(root)) or type(root).__name__
        shown = ", ".join(f"`{prefix}.{n}`" for n in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        mon.observe("OPT401", f"{shown}{more} require grad and received gradients but belong to no "
                    "optimizer's parameter groups: they are never updated", owner.loc)


def namespace_names(namespace, roots) -> dict[int, str]:
    out: dict[int, str] = {}
    if not namespace:
        return out
    wanted = {id(r) for r in roots}
    try:
        items = list(namespace.items())
    except Exception:  # pragma: no cover - defensive
        return out
    for name, value in items:
        if id(value) in wanted and isinstance(name, str) and not name.startswith("_"):
            out.setdefault(id(value), name)
    return out
