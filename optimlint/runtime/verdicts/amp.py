"""OPT501-OPT503, OPT505: GradScaler's scale / unscale_ / step / update protocol."""

from __future__ import annotations


def at_step(mon, opt, orec, view, loc) -> None:
    """OPT501: ``opt.step()`` called directly after a backward through ``scaler.scale``."""
    last_bw = view.last_bw
    if last_bw is not None and last_bw.scaled and mon.in_scaler_step is not opt \
            and orec.unscaled_bw < last_bw.index:
        mon.once(orec, "OPT501", f"`{orec.label}.step()` was called directly after a backward through "
                 "`scaler.scale(loss)`: it steps on scaled, never unscaled gradients "
                 "(use `scaler.step(optimizer)`)", loc)


def at_scaler_step(mon, scaler, orec, stepped, loc) -> None:
    """OPT502: a second ``scaler.step(opt)`` with no ``scaler.update()`` in between."""
    if scaler.is_enabled() and id(orec.ref()) in stepped:
        mon.once(orec, "OPT502", f"`scaler.step({orec.label})` ran twice without `scaler.update()` in "
                 "between (RuntimeError in PyTorch)", loc)


def at_clip(mon, params, loc) -> None:
    """OPT503: clipping gradients that are still scaled (no ``unscale_`` since the backward)."""
    records = mon.gradients.params
    for p in params:
        rec = records.get(id(p))
        if rec is None or not rec.owners or not rec.acc_since_step or rec.last_bw is None:
            continue
        if rec.last_bw.scaled and all(o.unscaled_bw < rec.last_bw.index for o in rec.owners):
            mon.once(rec.owners[0], "OPT503", "gradients were clipped while still scaled by GradScaler: "
                     "call `scaler.unscale_(optimizer)` before clipping", loc)
        return


def at_unscale_error(mon, orec, exc, loc) -> None:
    """OPT505: ``unscale_`` called a second time before ``update()`` (GradScaler raises)."""
    if isinstance(exc, RuntimeError) and "unscale_() has already been called" in str(exc):
        label = orec.label if orec is not None else "the optimizer"
        mon.once(orec, "OPT505", f"`scaler.unscale_({label})` was called a second time before "
                 "`scaler.update()` (RuntimeError in PyTorch): unscale once per step, under the step's "
                 "condition", loc)
