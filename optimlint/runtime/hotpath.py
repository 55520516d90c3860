"""The callbacks that run at every clearing, backward and optimizer step, written out.

On a step of a few hundred microseconds (a tiny model on CPU) every Python call the companion
adds shows in the step time, so these are built as closures over the monitor instead of going
through ``patches.Patches.wrapper`` and small helpers: the walk to the user's frame
(``frames.user_location``), the site bookkeeping (``Monitor.site``) and the error isolation
(``Monitor.guard``) are spelled out in each. Each keeps its own cache of call sites, keyed by
the user frame's instruction offset and checked against its code object: a site's line
(``frame.f_lineno`` scans the code's line table) and its entry in ``report.sites`` are
computed the first time that call site is seen, not at every call. Behaviour is that of the helpers they replace:

- ``zero_grad_wrapper``: ``Optimizer.zero_grad``, then the clearing is remembered (tick, line);
- ``backward_wrapper``: ``torch.autograd.backward`` with ``Monitor.current_bw`` describing the
  pass (index, line, through ``scaler.scale``, ``create_graph``) while it runs;
- ``step_pre_hook`` / ``step_post_hook``: the global optimizer step hooks. A *settled* step (a
  thinned optimizer whose representative parameter received one fresh backward, nothing
  cleared after it, not scaled, no module in eval mode) cannot confirm any OPT1xx/OPT5xx/OPT603
  verdict, so it skips building the step's view; every other step goes through
  ``Monitor.judge_step`` as before.

An error inside any of them is recorded for its check (``Monitor.internal_error``) and never
reaches the program; the wrapped call's own exception propagates unchanged.
"""

from __future__ import annotations

import functools
import sys

import torch

from optimlint.analysis.events import EventKind
from optimlint.runtime import frames
from optimlint.runtime.records import BackwardInfo

_ZERO_GRAD, _BACKWARD, _STEP = EventKind.ZERO_GRAD.value, EventKind.BACKWARD.value, EventKind.STEP.value


def zero_grad_wrapper(mon, orig):
    """``Optimizer.zero_grad`` (or a subclass's own), followed by the record of the clearing."""
    sites = mon.report.sites
    opts = mon.opts
    cache = frames._internal_cache
    is_internal = frames.is_internal
    lines, site = {}, frames.site

    @functools.wraps(orig)
    def zero_grad(opt, *args, **kwargs):
        result = orig(opt, *args, **kwargs)
        try:
            mon.tick += 1
            frame = sys._getframe(1)
            while frame is not None:
                filename = frame.f_code.co_filename
                internal = cache.get(filename)
                if internal is None:
                    internal = is_internal(filename)
                if not internal:
                    break
                frame = frame.f_back
            loc = None
            if frame is not None:
                code = frame.f_code
                lasti = frame.f_lasti
                hit = lines.get(lasti)
                if hit is None or hit[0] is not code:
                    # a call site seen for the first time: its line, and its kind at that line
                    hit = lines[lasti] = (code, site(frame))
                    kinds = sites.get(hit[1])
                    if kinds is None:
                        sites[hit[1]] = {_ZERO_GRAD}
                    else:
                        kinds.add(_ZERO_GRAD)
                loc = hit[1]
            orec = opts.get(id(opt))
            if orec is not None:
                orec.zero_tick = mon.tick
                orec.zero_loc = loc
        except Exception as exc:  # never into the user's program
            mon.internal_error("zero_grad", exc)
        return result

    zero_grad.__optimlint_wrapped__ = orig
    return zero_grad


def backward_wrapper(mon, orig):
    """``torch.autograd.backward`` with ``mon.current_bw`` set for the accumulate hooks."""
    sites = mon.report.sites
    cache = frames._internal_cache
    is_internal = frames.is_internal
    lines, site = {}, frames.site
    Tensor = torch.Tensor

    @functools.wraps(orig)
    def backward(tensors, *args, **kwargs):
        previous = mon.current_bw
        mon.current_bw = None
        try:
            mon.bw_count += 1
            frame = sys._getframe(1)
            while frame is not None:
                filename = frame.f_code.co_filename
                internal = cache.get(filename)
                if internal is None:
                    internal = is_internal(filename)
                if not internal:
                    break
                frame = frame.f_back
            loc = None
            if frame is not None:
                code = frame.f_code
                lasti = frame.f_lasti
                hit = lines.get(lasti)
                if hit is None or hit[0] is not code:
                    # a call site seen for the first time: its line, and its kind at that line
                    hit = lines[lasti] = (code, site(frame))
                    kinds = sites.get(hit[1])
                    if kinds is None:
                        sites[hit[1]] = {_BACKWARD}
                    else:
                        kinds.add(_BACKWARD)
                loc = hit[1]
            scaled = False
            if mon.scaled and isinstance(tensors, Tensor):
                scaled = any(r() is tensors for r in mon.scaled)
            create_graph = args[2] if len(args) > 2 else kwargs.get("create_graph", False)
            mon.current_bw = BackwardInfo(mon.bw_count, loc, scaled, create_graph is True or create_graph == 1)
        except Exception as exc:  # never into the user's program
            mon.internal_error("backward", exc)
        try:
            return orig(tensors, *args, **kwargs)
        finally:
            mon.current_bw = previous

    backward.__optimlint_wrapped__ = orig
    return backward


def settled(mon, orec) -> bool:
    """Whether this step of a thinned optimizer can confirm nothing (see the module docstring):
    what ``gradients.view`` and ``verdicts.order.at_step`` would conclude, read off the one
    record that stands for all."""
    rec = orec.watched_by
    if rec is None or len(orec.hooked) != 1 or not rec.acc_since_step or rec.pre_step == 1 \
            or (rec.n == 1 and rec.wiped) or mon.eval_modules:
        return False
    p = rec.pref()
    if p is None or p.grad is None:
        return False
    last = rec.last_acc_tick
    if rec.zero_tick > last:
        return False
    for owner in rec.owners:
        if owner.zero_tick > last:
            return False
    bw = rec.last_bw
    return bw is None or not bw.scaled


def step_pre_hook(mon, followed_class, line_calls):
    """The global optimizer step pre-hook: the step's site, its verdicts (a closure is
    followed: they run once it has produced the gradients), the periodic checks."""
    sites = mon.report.sites
    opts = mon.opts
    cache = frames._internal_cache
    is_internal = frames.is_internal
    lines, site = {}, frames.site
    is_library = frames._library
    library_cache = frames._library_cache

    def hook(opt, args, kwargs):
        try:
            orec = opts.get(id(opt))
            if orec is None:
                orec = mon.register_optimizer(opt, None, constructed=False)
            frame = sys._getframe(1)
            via = False
            while frame is not None:
                filename = frame.f_code.co_filename
                internal = cache.get(filename)
                if internal is None:
                    internal = is_internal(filename)
                if not internal:
                    break
                if not via:
                    library = library_cache.get(filename)
                    via = is_library(filename) if library is None else library
                frame = frame.f_back
            loc = None
            if frame is not None:
                code = frame.f_code
                lasti = frame.f_lasti
                hit = lines.get(lasti)
                if hit is None or hit[0] is not code:
                    # a call site seen for the first time: its line, and its kind at that line
                    hit = lines[lasti] = (code, site(frame))
                    kinds = sites.get(hit[1])
                    if kinds is None:
                        sites[hit[1]] = {_STEP}
                    else:
                        kinds.add(_STEP)
                loc = hit[1]
            if via and orec.loc is not None and not line_calls(loc, "step("):
                loc = orec.loc  # a framework stepped it (Lightning, the Trainer): the user's declaration
            closure = None
            if kwargs or len(args) > 1:
                closure = args[1] if len(args) > 1 else kwargs.get("closure")
            if closure is not None:
                followed = followed_class(mon, opt, orec, loc, closure)
                if len(args) > 1:
                    return (args[0], followed, *args[2:]), kwargs
                return args, {**kwargs, "closure": followed}
            if settled(mon, orec):
                orec.suspect = False
                count = mon.step_count  # a cheap superset of periodic_checks' own conditions
                if count < 16 or not count & 31 or orec.steps + 1 >= orec.next_check:
                    mon.periodic_checks(orec, loc)
            else:
                mon.judge_step(opt, orec, loc)
        except Exception as exc:  # never into the user's program
            mon.internal_error("optimizer step pre-hook", exc)
        return None

    return hook


def step_post_hook(mon):
    """The global optimizer step post-hook: counts, epochs, the gradients' snapshot."""
    opts = mon.opts
    gradients = mon.gradients
    snapshot, arm_sentinel = gradients._snapshot, gradients._arm_sentinel

    def hook(opt, args, kwargs):
        try:
            orec = opts.get(id(opt))
            if orec is None:
                return
            mon.tick += 1
            orec.steps += 1
            mon.step_count += 1
            orec.bw_at_last_step = mon.bw_count
            if orec.iter_id != mon.iter_id:
                orec.iter_id = mon.iter_id
                orec.spi = 0
                if mon.iter_id:
                    orec.epochs += 1
            orec.spi += 1
            if orec.spi > orec.max_spi:
                orec.max_spi = orec.spi
            if orec.watched_by is not None:  # a thinned optimizer: its kept records only
                snapshot(orec.hooked, orec)
                if orec.sentinel_handle is None and (orec.pending101 is not None or not orec.suspect) \
                        and orec.steps >= 2:
                    orec.sentinel_flag = None    # arm_sentinel's outcome, written out: nothing to arm
                    orec.sentinel_armed = False
                else:
                    arm_sentinel(orec)
            else:
                gradients.after_step(opt, orec)
        except Exception as exc:  # never into the user's program
            mon.internal_error("optimizer step post-hook", exc)

    return hook
