"""OPT201-OPT203: when and how often a learning-rate scheduler is stepped."""

from __future__ import annotations

import math

from optimlint.vocabulary import BATCH_SCHEDULERS, EPOCH_SCHEDULERS


def period(sched) -> int | None:
    """The schedule's period in scheduler steps, or None when it has none."""
    name = type(sched).__name__
    try:
        if name == "StepLR":
            return int(sched.step_size)
        if name == "MultiStepLR":
            return int(max(sched.milestones)) if sched.milestones else None
        if name == "CosineAnnealingLR":
            return int(sched.T_max)
        if name == "PolynomialLR":
            return int(sched.total_iters)
        if name == "CosineAnnealingWarmRestarts":
            return int(sched.T_0)
        if name == "ReduceLROnPlateau":
            return int(sched.patience) + 1
        if name == "OneCycleLR":
            return int(sched.total_steps)
        if name == "CyclicLR":
            return int(sched.total_size)
        if name == "ExponentialLR":
            gamma = float(sched.gamma)
            if 0 < gamma < 1:
                return int(math.ceil(math.log(0.1) / math.log(gamma)))  # steps to divide lr by 10
    except (AttributeError, TypeError, ValueError):
        return None
    return None


def at_step(mon, srec, marker) -> None:
    """Count the epochs (of the user's epoch loop, see ``runtime.epochs``) the scheduler
    stepped in."""
    if marker is not None and marker != srec.marker:
        srec.marker = marker
        srec.epochs += 1


def at_first_step(mon, srec, loc) -> None:
    """OPT201: the first scheduler step precedes the first optimizer step (not when GradScaler
    skipped that first optimizer step, where PyTorch's own warning is a false alarm)."""
    orec = srec.orec
    if orec is not None and orec.constructed and orec.steps == 0 and orec.scaler_skipped == 0 \
            and srec.cls != "ReduceLROnPlateau":
        mon.once(orec, "OPT201", f"the first `{srec.cls}.step()` ran before the first "
                 f"`{orec.label}.step()`: the schedule's first value is skipped", loc)


def at_end(mon) -> None:
    """OPT202/OPT203 from the counts: scheduler steps, optimizer steps, steps per epoch.

    Epochs come from the user's epoch loop when one is seen around the scheduler's calls
    (``runtime.epochs``), else from DataLoader iterators in which the optimizer stepped; a
    single endless iterator or a flat loop gives no epoch length, and no verdict."""
    saved = mon.nodeid
    try:
        for srec in mon.all_scheds:
            mon.nodeid = srec.nodeid
            _judge(mon, srec)
    finally:
        mon.nodeid = saved


def _judge(mon, srec) -> None:
    orec = srec.orec
    if orec is None or srec.steps == 0 or srec.first_loc is None or srec.with_epoch_arg:
        return
    n_opt = orec.steps - srec.opt_steps_at_create
    n_sched = srec.steps
    if srec.epochs >= 2:
        epochs, spe = srec.epochs, n_opt // srec.epochs
    else:
        epochs, spe = orec.epochs, (orec.max_spi if mon.iter_id > 0 else 0)
    span = srec.period
    where = srec.loc if srec.via_library and srec.loc else srec.first_loc
    related = (srec.loc,) if srec.loc else ()
    if srec.cls in EPOCH_SCHEDULERS:
        if span and n_opt >= 4 and 2 * n_sched >= n_opt and spe >= 2 and epochs >= 2 and span < 2 * spe:
            mon.once(orec, "OPT202", f"`{srec.cls}` (period {span}) was stepped {n_sched} times for {n_opt} "
                     f"steps of `{orec.label}` over {epochs} epochs (~{spe} per epoch): an epoch schedule "
                     "stepped per batch runs through its whole schedule within two epochs", where, related=related)
    elif srec.cls in BATCH_SCHEDULERS:
        # A schedule longer than one epoch of optimizer steps, stepped once per epoch,
        # cannot have been sized in epochs (one sized in epochs is shorter than that).
        if span and n_opt >= 4 and 2 * n_sched <= n_opt and spe >= 2 and epochs >= 2 and span > spe:
            mon.once(orec, "OPT203", f"`{srec.cls}` was stepped {n_sched} times for {n_opt} steps of "
                     f"`{orec.label}` over {epochs} epochs: a per-iteration schedule stepped per epoch "
                     "barely moves", where, related=related)
