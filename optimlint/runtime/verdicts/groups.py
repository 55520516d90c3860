"""OPT401-OPT403: parameter groups (and OPT301 for a Keras name used as a group key)."""

from __future__ import annotations

from optimlint.vocabulary import CONVENTIONAL_GROUP_KEYS, KERAS_HINTS, close_group_key


def group_keys(mon, opt, orec, loc) -> None:
    """OPT301 (a Keras name as a group key) and OPT403 (a close misspelling of a known key).

    Groups shared with another optimizer (a SAM-style wrapper builds its base optimizer from
    its own ``param_groups``) carry the wrapper's keys (``rho``): not this optimizer's mistake."""
    name = orec.label
    defaults = getattr(opt, "defaults", {}) or {}
    shared = shared_groups(mon, opt)
    for index, group in enumerate(opt.param_groups):
        if id(group) in shared:
            continue
        for key in group:
            if not isinstance(key, str) or key in defaults or key in ("params", "param_names") \
                    or key in CONVENTIONAL_GROUP_KEYS:
                continue
            if key in KERAS_HINTS:
                mon.once(orec, "OPT301", f"parameter group {index} of `{name}` (`{orec.cls}`) has the Keras/TF "
                         f"key `{key}`, which PyTorch silently ignores: {KERAS_HINTS[key]}", loc)
                continue
            close = close_group_key(key, defaults)
            if close:
                mon.once(orec, "OPT403", f"parameter group {index} of `{name}` (`{orec.cls}`) has the unknown "
                         f"key `{key}` (did you mean `{close}`?), which PyTorch silently ignores", loc)


def shared_groups(mon, opt) -> set[int]:
    """ids of ``opt``'s group dicts that another live optimizer holds too."""
    mine = {id(g) for g in opt.param_groups}
    out = set()
    for orec in mon.opts.values():
        other = orec.ref()
        if other is None or other is opt:
            continue
        try:
            out.update(id(g) for g in other.param_groups if id(g) in mine)
        except Exception:  # a wrapper whose param_groups is not ready
            continue
    return out


def optimized_ids(mon) -> dict:
    """id(param) -> the record of the first live optimizer holding it."""
    optimized = {}
    for orec in list(mon.opts.values()):
        opt = orec.ref()
        if opt is None:
            continue
        for group in opt.param_groups:
            for p in group["params"]:
                optimized.setdefault(id(p), orec)
    return optimized


def user_modules(mon) -> list:
    """``(name, module)`` for the modules the user's code holds right now: locals and globals
    of the user's frames (and the submodules of a module ``self``), then the namespace given
    to the monitor. Outermost modules only; each named as the user's code names it."""
    import torch

    found: dict[int, tuple[str, object]] = {}

    def add(name, value):
        if isinstance(value, torch.nn.Module) and id(value) not in found:
            found[id(value)] = (name, value)

    from optimlint.runtime import frames

    for frame in frames.user_frames(depth=4):
        scope = frame.f_globals if frame.f_code.co_name == "<module>" else frame.f_locals
        for name, value in list(scope.items()):
            if name.startswith("__"):
                continue
            add(name, value)
            if name == "self" and not isinstance(value, torch.nn.Module):
                for attr, sub in list(getattr(value, "__dict__", {}).items()):
                    add(f"self.{attr}", sub)
    for name, value in list((mon.namespace or {}).items()):
        if isinstance(name, str) and not name.startswith("_"):
            add(name, value)
    for ref in list(mon.modules.values()):
        module = ref()
        if module is not None:
            add(type(module).__name__, module)
    children = set()
    for _, module in found.values():
        for child in module.modules():
            if child is not module:
                children.add(id(child))
    return [(n, m) for key, (n, m) in found.items() if key not in children]


def missing_params(mon, modules=None) -> None:
    """OPT401: parameters that require grad and received gradients but belong to no optimizer,
    named by their path in the outermost module that holds optimized parameters too."""
    optimized = optimized_ids(mon)
    if not optimized:
        return
    for prefix, root in (modules if modules is not None else user_modules(mon)):
        missing = []
        owner = None
        for name, p in root.named_parameters():
            if id(p) in optimized:
                if owner is None:
                    owner = optimized[id(p)]
            elif p.requires_grad and p.grad is not None:
                missing.append(name)
        if not missing or owner is None:
            continue
        marker = (owner.loc, tuple(missing))
        if marker in mon.reported401:
            continue
        mon.reported401.add(marker)
        shown = ", ".join(f"`{prefix}.{n}`" for n in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        mon.observe("OPT401", f"{shown}{more} require grad and received gradients but belong to no "
                    f"parameter group of `{owner.label}`, nor of any optimizer: they are never updated", owner.loc)
