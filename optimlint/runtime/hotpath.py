"""The callbacks that run at every clearing, backward and optimizer step, written out.

On a step of a few hundred microseconds (a tiny model on CPU) every Python call the companion
adds shows in the step time, so these are built as closures over the monitor instead of going
through ``patches.Patches.wrapper`` and small helpers: the error isolation (``Monitor.guard``)
and the memo of the previous call's path (the user frame's code and offset, and the one torch
frame in between for ``loss.backward()`` and ``opt.step()``) are spelled out in each, so that
a call from the same place as the last one costs no call of ours at all. Only when the memo
misses do they call ``call_site_locator``'s ``locate``: the walk to the user's frame
(``frames.walk_to_user``, the runtime's one walk) and the site bookkeeping, from a cache of
call sites per hook, keyed by the user frame's instruction offset and checked against its
code object (a site's line, ``frame.f_lineno``, scans the code's line table, and its entry in
``report.sites`` is made the first time that call site is seen, not at every call).
Behaviour is that of the helpers they replace:

- ``zero_grad_wrapper``: ``Optimizer.zero_grad``, then the clearing is remembered (tick, line);
- ``backward_wrapper``: ``torch.autograd.backward`` with ``Monitor.current_bw`` describing the
  pass (index, line, through ``scaler.scale``, ``create_graph``) while it runs;
- ``step_hooks``: each optimizer's own step pre-hook and the global step post-hook. A
  *settled* step (a thinned optimizer whose representative parameter received one fresh
  backward, nothing cleared after it, not scaled, no module in eval mode) cannot confirm any
  OPT1xx/OPT5xx/OPT603 verdict, so it skips building the step's view (the pre-hook marks it
  ``OptRec.fast``), and the post-hook snapshots its one record inline; every other step goes
  through ``Monitor.judge_step`` and ``Gradients.after_step`` as before. After a settled step
  the optimizer is *armed* (``OptRec.arm``): its pre-hook is taken off, and put back
  (``OptRec.disarm``) by any event after which the next step may not be settled: an
  accumulation into the representative that is not clean (added to the last step's gradient,
  after a wiped one, scaled), a clearing after the backward (the optimizer's or a module's),
  hooks back on every parameter (eval mode, a new group, a frozen representative), a second
  owner. What no event shows is read by the post-hook after the step: no fresh backward (a
  step with no backward since the last is judged then: the step leaves its gradients as they
  were), the gradient gone or a closure (never armed again: the next steps are judged before
  they run).

While an optimizer is armed its representative's accumulate hook is off as well: the
backward wrapper runs that hook itself once the backward returns, when the representative's
gradient moved. After a long calm run the post-hook also takes the monitor through its
sampled-out steps (``sampling``), during which the two wrappers do nothing.

An error inside any of them is recorded for its check (``Monitor.internal_error``) and never
reaches the program; the wrapped call's own exception propagates unchanged.
"""

from __future__ import annotations

import functools
import sys

import torch

from optimlint.analysis.events import EventKind
from optimlint.runtime import frames, sampling
from optimlint.runtime.records import BackwardInfo

_ZERO_GRAD, _BACKWARD, _STEP = EventKind.ZERO_GRAD.value, EventKind.BACKWARD.value, EventKind.STEP.value


def call_site_locator(sites, kind):
    """``locate(frame)``: the first sighting of a call site of ``kind``, for a hook or wrapper
    whose memo of its previous call site missed: the walk from ``frame`` to the user's
    (``frames.walk_to_user``), then the site's line from this locator's own cache (keyed by the
    user frame's instruction offset, checked against its code object), its kind added to
    ``sites`` the first time. Returns ``(loc, depth, via, code, lasti)``, ``code`` None (and
    ``loc`` None) when no frame is the user's; the caller keeps its memo from ``code``/``lasti``
    at the depth it expects. Off the steady path: a step from the same place never calls it."""
    lines = {}
    site = frames.site
    walk = frames.walk_to_user

    def locate(frame):
        frame, depth, via = walk(frame)
        if frame is None:
            return None, depth, via, None, -1
        code = frame.f_code
        lasti = frame.f_lasti
        hit = lines.get(lasti)
        if hit is None or hit[0] is not code:
            hit = lines[lasti] = (code, site(frame))
            kinds = sites.get(hit[1])
            if kinds is None:
                sites[hit[1]] = {kind}
            else:
                kinds.add(kind)
        return hit[1], depth, via, code, lasti

    return locate


def zero_grad_wrapper(mon, orig):
    """``Optimizer.zero_grad`` (or a subclass's own), followed by the record of the clearing."""
    opts = mon.opts
    locate = call_site_locator(mon.report.sites, _ZERO_GRAD)
    getframe = sys._getframe
    # the previous call's user frame, when it was the caller itself: its code, offset, line
    last_code, last_lasti, last_loc = None, -1, None

    @functools.wraps(orig)
    def zero_grad(opt, *args, **kwargs):
        nonlocal last_code, last_lasti, last_loc
        if mon.asleep:  # a sampled-out step (sampling.sleep)
            return orig(opt, *args, **kwargs)
        result = orig(opt, *args, **kwargs)
        try:
            mon.tick += 1
            frame = getframe(1)
            if frame.f_code is last_code and frame.f_lasti == last_lasti:
                loc = last_loc  # the same call site as last time, called directly
            else:
                loc, depth, _via, code, lasti = locate(frame)
                if depth == 1 and code is not None:
                    last_code, last_lasti, last_loc = code, lasti, loc
            orec = opts.get(id(opt))
            if orec is not None:
                orec.zero_tick = mon.tick
                orec.zero_loc = loc
                if orec.armed and orec.watched_by.acc_since_step:
                    orec.disarm()  # a clearing after the backward: the step is judged before it runs
        except Exception as exc:  # never into the user's program
            mon.internal_error("zero_grad", exc)
        return result

    zero_grad.__optimlint_wrapped__ = orig
    return zero_grad


def backward_wrapper(mon, orig):
    """``torch.autograd.backward`` with ``mon.current_bw`` set for the accumulate hooks.

    The wrapper spells out ``torch.autograd.backward``'s first parameters (``Tensor.backward``
    passes them by position) so that ``create_graph`` is bound by the call itself; they are
    handed on by position, with the same defaults."""
    opts = mon.opts
    locate = call_site_locator(mon.report.sites, _BACKWARD)
    getframe = sys._getframe
    Tensor = torch.Tensor
    make = BackwardInfo.make
    # the previous call's path when the user frame was the second one (``loss.backward()``:
    # Tensor.backward, then the user's line): the first frame's code, the user frame's code,
    # offset and line
    last_inner, last_code, last_lasti, last_loc = None, None, -1, None

    @functools.wraps(orig)
    def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, *args, **kwargs):
        nonlocal last_inner, last_code, last_lasti, last_loc
        previous = mon.current_bw
        mon.current_bw = None
        try:
            mon.bw_count += 1
            frame = getframe(1)
            inner = frame.f_code
            if inner is last_inner and (frame := frame.f_back).f_code is last_code and frame.f_lasti == last_lasti:
                loc = last_loc  # the same call site as last time, through the same torch frame
            else:
                loc, depth, _via, code, lasti = locate(getframe(1))
                if depth == 2 and code is not None:
                    last_inner, last_code, last_lasti, last_loc = inner, code, lasti, loc
            scaled = False
            if mon.scaled and isinstance(tensors, Tensor):
                scaled = any(r() is tensors for r in mon.scaled)
                if scaled:  # scaled gradients: no step after them is settled
                    for orec in opts.values():
                        orec.disarm()
            mon.current_bw = make((mon.bw_count, loc, scaled,
                                   create_graph is not False and (create_graph is True or create_graph == 1)))
        except Exception as exc:  # never into the user's program
            mon.internal_error("backward", exc)
        try:
            return orig(tensors, grad_tensors, retain_graph, create_graph, *args, **kwargs)
        finally:
            armed = mon.armed
            if armed:
                # an armed optimizer's representative has no accumulate hook: its hook runs
                # here, once the backward has accumulated, if its gradient moved (a backward
                # that did not reach it leaves the same object at the same version)
                try:
                    for orec in armed:
                        rec = orec.silenced
                        p = rec.pref()
                        g = p.grad if p is not None else None
                        if g is not None:
                            r = rec.g_ref
                            if r is None or r() is not g or g._version != rec.g_ver:
                                rec.hook(p)
                except Exception as exc:  # never into the user's program
                    mon.internal_error("backward", exc)
            mon.current_bw = previous

    backward.__optimlint_wrapped__ = orig
    return backward


def step_hooks(mon, followed_class, line_calls):
    """``(pre_hook_for, post_hook)``: each optimizer's step pre-hook (``pre_hook_for(orec)``,
    registered on the optimizer itself: it can be taken off while the optimizer is *armed*)
    and the global step post-hook. Both find the step's user frame with one shared memo."""
    opts = mon.opts
    gradients = mon.gradients
    snapshot, arm_sentinel = gradients._snapshot, gradients._arm_sentinel
    find = call_site_locator(mon.report.sites, _STEP)
    getframe = sys._getframe
    pattern, sleep, wake, calm_steps = sampling.pattern, sampling.sleep, sampling.wake, sampling.CALM
    # the previous step's call site when the user frame was the caller of torch's step wrapper
    # (the only caller of both hooks): its code, offset, line, and whether a framework stood in
    # between (never, at that depth: kept for clarity)
    last_code, last_lasti, last_loc, last_via = None, -1, None, False

    def locate(frame):
        """``(loc, via)`` of the step whose hook ``frame`` (torch's step wrapper) called, and
        the memo."""
        nonlocal last_code, last_lasti, last_loc, last_via
        loc, depth, via, code, lasti = find(frame)
        if depth == 2 and code is not None:
            last_code, last_lasti, last_loc, last_via = code, lasti, loc, via
        return loc, via

    def pre_hook_for(orec):
        def hook(opt, args, kwargs):
            """The step's site, its verdicts (a closure is followed: they run once it has
            produced the gradients), the periodic checks."""
            try:
                frame = getframe(2)  # the caller of torch's step wrapper
                if frame.f_code is last_code and frame.f_lasti == last_lasti:
                    loc, via = last_loc, last_via  # the same call site as last time
                else:
                    loc, via = locate(getframe(1))
                if via and orec.loc is not None and not line_calls(loc, "step("):
                    loc = orec.loc  # a framework stepped it (Lightning, the Trainer): the user's declaration
                if kwargs or len(args) > 1:
                    closure = args[1] if len(args) > 1 else kwargs.get("closure")
                    if closure is not None:
                        orec.no_arm = True
                        followed = followed_class(mon, opt, orec, loc, closure)
                        if len(args) > 1:
                            return (args[0], followed, *args[2:]), kwargs
                        return args, {**kwargs, "closure": followed}
                # settled: a thinned optimizer whose one record received a fresh backward (not the
                # gradient the last step used, not one backward left of several wiped), nothing
                # cleared after it, not scaled, no module in eval: what ``gradients.view`` and
                # ``verdicts.order.at_step`` would conclude, read off the record that stands for all
                rec = orec.watched_by
                if rec is not None and rec.acc_since_step and rec.pre_step != 1 and len(orec.hooked) == 1 \
                        and not (rec.n == 1 and rec.wiped) and not mon.eval_modules:
                    p = rec.pref()
                    last = rec.last_acc_tick
                    owners = rec.owners
                    bw = rec.last_bw
                    fast = p is not None and p.grad is not None and rec.zero_tick <= last and len(owners) == 1 \
                        and orec.zero_tick <= last and (bw is None or not bw.scaled)
                else:
                    fast = False
                if fast:
                    orec.suspect = False
                    orec.fast = True
                    if mon.step_count >= mon.next_periodic:
                        mon.periodic_checks(orec, loc)
                else:
                    orec.fast = False
                    mon.judge_step(opt, orec, loc)
            except Exception as exc:  # never into the user's program
                mon.internal_error("optimizer step pre-hook", exc)
            return None

        return hook

    def post_hook(opt, args, kwargs):
        """Counts, epochs, the gradients' snapshot; for an armed optimizer (no pre-hook ran)
        also the step's site and the checks after the fact."""
        try:
            orec = opts.get(id(opt))
            if mon.asleep:
                # a sampled-out step (sampling): settled if its representative's gradient shows
                # the calm steps' pattern; its counts, snapshot and periodic looks, written out
                rec = orec.silenced if orec is not None else None
                p = rec.pref() if rec is not None else None
                g = p.grad if p is not None else None
                r = rec.snap_ref if g is not None else None
                if g is not None and not kwargs and len(args) == 1 \
                        and (-1 if r is None or r() is not g else g._version - rec.snap_ver) == orec.pattern:
                    orec.count_step(mon)
                    rec.keep(g)
                    if mon.step_count >= mon.next_periodic:
                        frame = getframe(2)
                        if frame.f_code is last_code and frame.f_lasti == last_lasti:
                            loc, via = last_loc, last_via
                        else:
                            loc, via = locate(getframe(1))
                        if via and orec.loc is not None and not line_calls(loc, "step("):
                            loc = orec.loc
                        mon.periodic_checks(orec, loc)
                    mon.asleep -= 1
                    if not mon.asleep:
                        wake(mon)  # the next step is observed
                    return
                # a departure: awake from here on; the step ran unseen, so it is counted and
                # snapshotted (below, after its representative's hook ran on what it left) but
                # judged only if that hook disarmed it before: its next steps are judged
                wake(mon)
                mon.calm = 0
                if orec is not None and orec.armed:
                    orec.disarm()
                    orec.fast = False
                    orec.count_step(mon)
                    snapshot(orec.hooked, orec)
                    arm_sentinel(orec)
                    return
            if orec is None:
                # built before the companion was installed: its first step (hooked now) can
                # confirm nothing; from the next one on it is watched like the others
                orec = mon.register_optimizer(opt, None, constructed=False)
                orec.fast = False
            elif orec.armed:
                # no pre-hook ran: the step was settled unless what no event shows says
                # otherwise (no fresh backward, the gradient gone, a closure). The caller of
                # torch's step wrapper is the user's frame when it is the remembered call site.
                frame = getframe(2)
                if frame.f_code is last_code and frame.f_lasti == last_lasti:
                    loc, via = last_loc, last_via
                else:
                    loc, via = locate(getframe(1))
                rec = orec.watched_by
                p = rec.pref()
                g = p.grad if p is not None else None
                if g is not None and rec.acc_since_step and not kwargs and len(args) == 1:
                    if mon.step_count >= mon.next_periodic:
                        if via and orec.loc is not None and not line_calls(loc, "step("):
                            loc = orec.loc
                        mon.periodic_checks(orec, loc)
                    # the settled step's counts and its one record's snapshot, written out (the
                    # sentinel is off since the step that armed it)
                    orec.count_step(mon)
                    orec.pattern = pattern(rec, g)  # against the snapshot before this step
                    mon.calm += 1
                    if mon.calm >= calm_steps and len(mon.armed) == len(opts) and not mon.eval_modules:
                        sleep(mon)
                    rec.keep(g)
                    rec.pre_step = 1
                    rec.acc_since_step = 0
                    rec.wiped = 0
                    return
                orec.disarm()
                orec.fast = False
                if via and orec.loc is not None and not line_calls(loc, "step("):
                    loc = orec.loc
                if g is None or kwargs or len(args) > 1:
                    orec.no_arm = True  # a closure, or the gradient gone (by hand, or by the step)
                elif mon.bw_count == orec.bw_at_last_step:
                    # no backward at all since the last step: judged after the fact (a step
                    # leaves the gradients it used as they were: OPT103 reads exactly that)
                    mon.judge_step(opt, orec, loc)
            orec.count_step(mon)
            if orec.fast:
                # a settled step: its one record's snapshot and the sentinel off (suspect is
                # False), written out; the optimizer is armed (its pre-hook off) for the next
                orec.fast = False
                rec = orec.watched_by
                p = rec.pref()
                g = p.grad if p is not None else None
                if g is None:
                    snapshot(orec.hooked, orec)
                else:
                    rec.keep(g)
                    rec.pre_step = 1
                    rec.acc_since_step = 0
                    rec.wiped = 0
                if orec.sentinel_handle is None and orec.steps >= 2:
                    orec.sentinel_flag = None
                    orec.sentinel_armed = False
                else:
                    arm_sentinel(orec)
                if not orec.no_arm and g is not None:
                    orec.arm()
            elif orec.watched_by is not None:  # a thinned optimizer: its kept records only
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

    return pre_hook_for, post_hook
