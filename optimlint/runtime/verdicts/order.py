"""OPT101-OPT106: the order of backward, clearing and step, per optimizer."""

from __future__ import annotations

from optimlint.runtime.verdicts import construction


def at_step(mon, orec, view, loc) -> bool:
    """OPT101/102/103/106 at ``opt.step()``; False when the step had no fresh gradient to
    judge (no backward reached it, or it was cleared), so the other families skip it."""
    orec.suspect = False
    if view.touched == 0:
        no_backward = mon.bw_count == orec.bw_at_last_step
        first = orec.steps == 0 and orec.constructed and view.all_none
        stale = orec.steps > 0 and not view.all_none and view.unchanged
        if no_backward and (first or stale):
            mon.once(orec, "OPT103", f"`{orec.label}.step()` (step {orec.steps + 1}) ran with no backward since "
                     "the previous step (or since the optimizer was built): it updates with stale or no gradients",
                     loc)
        elif not no_backward and view.all_none:
            construction.replaced_params(mon, orec, loc)
        return False
    if view.all_none or view.zeroed_all:
        if ("OPT103", mon.nodeid) in orec.reported:
            return False  # step-before-backward shows as cleared gradients from the 2nd step on
        where = orec.zero_loc or loc
        mon.once(orec, "OPT102", f"`{orec.label}.step()` (step {orec.steps + 1}) found every gradient cleared "
                 f"although {mon.bw_count - orec.bw_at_last_step} backward pass(es) ran since the last step: the "
                 "clearing call runs between backward and step", where)
        return False
    if view.pre_all and orec.steps:
        orec.suspect = True  # the sentinel is armed after this step (gradients.py)
        last_bw = view.last_bw
        where = last_bw.loc if last_bw is not None and last_bw.loc else loc
        if orec.pending101 is None and orec.sentinel_flag is not None:
            orec.pending101 = True
            mon.pending.append((orec, orec.sentinel_flag, where, mon.nodeid,
                                f"at step {orec.steps + 1} of `{orec.label}` the gradients still held the "
                                f"contributions of all {orec.backwards} backward passes since it was built: nothing cleared "
                                "them (add `optimizer.zero_grad()`)"))
    elif view.wiped_all:
        # one such step can be a step skipped on purpose and cleared next iteration; a window
        # cleared on every micro-batch shows at every step
        orec.wiped_steps += 1
        if orec.wiped_steps >= 2:
            where = orec.zero_loc or loc
            mon.once(orec, "OPT106", f"at step {orec.steps + 1} of `{orec.label}` the gradients held one "
                     f"backward although {mon.bw_count - orec.bw_at_last_step} ran since the previous step: "
                     "they were cleared between the backward passes of the accumulation window", where)
    return True


def at_clip(mon, params, loc) -> bool:
    """OPT105: clipping with no backward since the owner's last step (gradients untouched).
    True when reported (the clip had nothing fresh to judge further)."""
    records = mon.gradients.params
    for p in params:
        rec = records.get(id(p))
        if rec is None or not rec.owners:
            continue
        orec = rec.owners[0]
        if rec.handle is None and orec.watched_by is not None:
            # a thinned optimizer: its representative's record is the one kept current
            rec = orec.watched_by
            p = rec.pref()
            if p is None:
                return False
        g = p.grad
        untouched = g is None or (rec.snap_ref is not None and rec.snap_ref() is g and g._version == rec.snap_ver)
        stale = (orec.steps > 0 or orec.constructed) and not rec.acc_since_step \
            and mon.bw_count == orec.bw_at_last_step and untouched
        if stale:
            mon.once(orec, "OPT105", "gradient clipping ran with no backward since the last "
                     f"`{orec.label}.step()` (step {orec.steps}): it clips stale (or no) gradients; clip "
                     "between the backward and the step", loc)
        return stale
    return False


def confirm_pending(mon) -> None:
    """OPT101 candidates whose sentinel gradient was not silently zeroed: one host read per
    candidate, at the end of the run (or of a test), never during a step."""
    saved = mon.nodeid
    pending, mon.pending = mon.pending, []
    try:
        for orec, flag, where, nodeid, message in pending:
            if bool(flag):
                mon.nodeid = nodeid
                mon.once(orec, "OPT101", message, where)
    finally:
        mon.nodeid = saved


def never_stepped(mon) -> None:
    """OPT104: an optimizer built during the run whose parameters received several backward
    passes, and which never stepped."""
    saved = mon.nodeid
    try:
        for orec in mon.all_opts:
            if orec.steps or orec.scaler_calls or not orec.constructed or orec.backwards < 2 \
                    or orec.stepped_elsewhere:
                continue
            if orec.unscaled_bw >= 0:
                continue  # ``scaler.unscale_(opt)`` ran: a step was meant (the run died before it)
            last_bw = orec.last_bw
            where = last_bw.loc if last_bw is not None and last_bw.loc else orec.loc
            mon.nodeid = orec.nodeid
            mon.once(orec, "OPT104", f"{orec.backwards} backward passes reached the parameters of "
                     f"`{orec.label}` (`{orec.cls}`) but its `step()` never ran", where,
                     related=(orec.loc,) if orec.loc else ())
    finally:
        mon.nodeid = saved
