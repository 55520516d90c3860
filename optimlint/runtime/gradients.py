"""Parameter records and the accumulation classifier: what each gradient holds, from metadata.

Each parameter has a record updated by its post-accumulate-grad hook. If ``p.grad`` is the
same object as at the previous accumulation (or at the last step) and its version counter
moved by exactly one, the new backward was *added* to what was there; if ``p.grad`` is a new
object (it was set to None) or an observed ``zero_grad`` ran in between, the gradient was
*cleared*; any other in-place change (DDP's all-reduce, manual scaling, ``.zero_()`` by hand)
makes the history *unknown*, and unknown never confirms anything. One case moves no counter
at all (``p.grad.data.zero_()``), so an OPT101 candidate is confirmed only if a device-side
flag ``p.grad != 0``, computed on one small "sentinel" parameter just before the first
accumulation after a step, is true; it is read once per candidate when the run (or test) ends.
The flag is a tensor operation: it is computed only after the first step and after a step
that looked like a candidate (``OptRec.suspect``), and the sentinel's hook is removed
otherwise, so a program that clears its gradients pays nothing for it.
Nothing here reads a tensor value on the host.

Cost: a Python hook per parameter per backward is most of the companion's price on a step of
microseconds. Once an optimizer has stepped ``WARMUP`` times, and one parameter (owned by it
alone) received a gradient at each of those steps, that parameter's hook stands for all of
them: the others' hooks are removed (``thin``), and the step's view and snapshot read only
the parameters that kept a hook. If the representative misses a step that a backward reached
(a frozen layer, a branch not taken), a parameter group is added, or a module is put in eval
mode (OPT603 needs every parameter the backward reached), every hook comes back and the
warm-up starts again (``rearm``).
"""

from __future__ import annotations

import functools
import weakref

import torch

from optimlint.runtime.records import drop

#: Steps an optimizer takes with every parameter hooked before one hook stands for all.
WARMUP = 8


class ParamRec:
    __slots__ = ("pref", "handle", "owners", "g_ref", "g_ver", "n", "pre_step", "acc_since_step",
                 "wiped", "p_ver", "step_at_acc", "last_bw", "last_acc_tick",
                 "zero_tick", "snap_ref", "snap_ver", "streak", "hook")

    def __init__(self):
        self.pref = None
        self.handle = None
        self.owners = []
        self.g_ref = None
        self.g_ver = -1
        self.n = 0            # backwards the current gradient holds (-1: unknown)
        self.pre_step = 0     # 1: the gradient holds what a step already used; -1 unknown
        self.acc_since_step = 0
        self.wiped = 0        # backwards cleared away since the last step (same weights)
        self.p_ver = -1
        self.step_at_acc = -1
        self.last_bw = None
        self.last_acc_tick = -1
        self.zero_tick = -1
        self.snap_ref = None  # the gradient object and version right after the last step
        self.snap_ver = -1
        self.streak = 0       # consecutive steps of its optimizer that found it accumulated into
        self.hook = None      # its accumulate hook while taken off (its optimizer armed: OptRec.arm)

    def keep(self, g) -> None:
        """Remember ``g`` (not None) as the step left it: the object (one weak reference kept
        while it is the same object) and its version, as the gradient and as the snapshot."""
        r = self.g_ref
        if r is None or r() is not g:
            r = self.g_ref = weakref.ref(g)
        self.snap_ref = r
        self.g_ver = self.snap_ver = g._version


class StepView:
    """The gradients an optimizer's step is about to use, summarised for the verdicts."""

    __slots__ = ("touched", "all_none", "unchanged", "pre_all", "wiped_all", "zeroed_all", "last_bw")

    def __init__(self):
        self.touched = 0          # parameters accumulated into since the last step
        self.all_none = True
        self.unchanged = True     # every gradient is None or exactly what the last step left
        self.pre_all = True       # every touched gradient still holds what the last step used
        self.wiped_all = True     # every touched gradient holds one backward, others wiped away
        self.zeroed_all = True    # every touched gradient was cleared after its accumulation
        self.last_bw = None


class Gradients:
    """Parameter records of one monitor, keyed by ``id(param)`` (dropped with the parameter)."""

    def __init__(self, mon):
        self.mon = mon
        self.params: dict[int, ParamRec] = {}

    def record(self, p) -> ParamRec | None:
        """The parameter's record, created (with its accumulate hook) on first sight."""
        key = id(p)
        rec = self.params.get(key)
        if rec is not None:
            return rec
        if not p.requires_grad or not p.is_leaf:
            return None
        rec = ParamRec()
        try:
            rec.handle = p.register_post_accumulate_grad_hook(self.accumulate_hook(rec))
        except RuntimeError:
            return None
        rec.pref = weakref.ref(p, functools.partial(drop, self.params, key))
        self.params[key] = rec
        return rec

    def add_owner(self, params, orec) -> None:
        if isinstance(params, torch.Tensor):
            params = [params]
        for p in params:
            if isinstance(p, torch.Tensor):
                rec = self.record(p)
                if rec is not None and orec is not None and orec not in rec.owners:
                    for other in rec.owners:
                        other.disarm()  # a shared representative: its steps are judged again
                    rec.owners.append(orec)

    def remove_hooks(self) -> None:
        for orec in self.mon.all_opts:
            orec.disarm()  # its hooks back in their dicts, where the handles remove them
            handle, orec.sentinel_handle = orec.sentinel_handle, None
            if handle is not None:
                handle.remove()
        for rec in list(self.params.values()):
            if rec.handle is not None:
                try:
                    rec.handle.remove()
                except Exception:  # pragma: no cover - defensive
                    pass
                rec.handle = None

    # ------------------------------------------------------------------ accumulation
    def accumulate_hook(self, rec):
        """The post-accumulate-grad hook of one parameter (a closure over ``rec``: one Python
        call per accumulation, no ``functools.partial`` or bound method in between). It
        classifies the accumulation as added-to (ACCUM), after a clear, or unknown; its errors
        are recorded, never raised into backward."""
        mon = self.mon

        def on_accumulate(p):
            try:
                g = p.grad
                if g is None:
                    return
                bw = mon.current_bw
                previous = rec.g_ref
                if previous is not None and previous() is g:
                    if g._version == rec.g_ver + 1:
                        if rec.n >= 0:
                            rec.n += 1   # ACCUM: added to what was there
                        if rec.pre_step == 1:
                            for orec in rec.owners:  # on top of what the last step used: judged before the next
                                orec.disarm()
                    elif self.zeroed_since(rec):
                        self._cleared(rec, p, bw)
                    else:
                        rec.n = -1       # UNKNOWN: an in-place change nobody observed
                        rec.pre_step = -1
                else:
                    rec.g_ref = weakref.ref(g)
                    # A new gradient object: the old one was dropped (set to None) -- unless autograd
                    # accumulated out of place, which it does under create_graph and for sparse grads.
                    if (bw is not None and bw[3]) or g.is_sparse:
                        rec.n = -1
                        rec.pre_step = -1
                    elif rec.acc_since_step:
                        self._cleared(rec, p, bw)
                    else:
                        rec.n = 1        # CLEARED, the first accumulation since the step
                        rec.pre_step = 0
                rec.g_ver = g._version
                rec.acc_since_step += 1
                rec.p_ver = p._version
                rec.step_at_acc = mon.step_count
                rec.last_bw = bw
                mon.tick += 1
                rec.last_acc_tick = mon.tick
                owners = rec.owners
                if owners:
                    orec = owners[0]
                    if bw is not None and orec.last_bw_index != bw[0]:
                        orec.last_bw_index = bw[0]
                        orec.backwards += 1
                        orec.last_bw = bw
            except Exception as exc:  # never into the user's program
                mon.internal_error("post-accumulate-grad hook", exc)

        return on_accumulate

    def _cleared(self, rec, p, bw) -> None:
        """The accumulation after a clear. A wiped backward counts only when it is the same
        training backward (same line, same weights, no step of any optimizer since): an
        adversarial attack's or a saliency map's backward cleared before the training backward
        is not OPT106. A clip or an unscale_ after that backward means a step was meant and
        skipped (a guarded step on a non-finite norm, GradScaler's inf check): no window either."""
        mon = self.mon
        last = rec.last_bw
        if rec.acc_since_step and p._version == rec.p_ver and mon.step_count == rec.step_at_acc \
                and last is not None and bw is not None and last.loc == bw.loc \
                and mon.prestep_tick < rec.last_acc_tick:
            rec.wiped += 1
            for orec in rec.owners:  # a backward wiped away: the next step is judged before it runs
                orec.disarm()
        rec.n = 1
        rec.pre_step = 0

    def zeroed_since(self, rec) -> bool:
        if rec.zero_tick > rec.last_acc_tick:
            return True
        for orec in rec.owners:
            if orec.zero_tick > rec.last_acc_tick:
                return True
        return False

    def module_zeroed(self, module, loc) -> None:
        params = self.params
        tick = self.mon.tick
        for p in module.parameters():
            rec = params.get(id(p))
            if rec is not None:
                rec.zero_tick = tick
                for orec in rec.owners:
                    orec.zero_loc = loc
                    orec.disarm()

    # ------------------------------------------------------------------ steps
    def view(self, opt, orec) -> StepView:
        """What ``opt.step()`` is about to use (registers parameters it had not seen)."""
        params = self.params
        view = StepView()
        watched = orec.watched_by
        if watched is not None:
            if watched.acc_since_step or self.mon.bw_count == orec.bw_at_last_step:
                return self._view_of(orec.hooked, view)
            self.rearm(opt, orec)  # a backward ran but missed the representative: hook them all again
        for group in opt.param_groups:
            for p in group["params"]:
                rec = params.get(id(p))
                g = p.grad
                if rec is None:
                    if g is not None:
                        view.all_none = False
                        view.unchanged = False
                    if p.requires_grad:
                        self.add_owner((p,), orec)
                    continue
                self._add(view, rec, g)
        return view

    def _view_of(self, records, view) -> StepView:
        """``view`` over the parameters that kept a hook (a thinned optimizer)."""
        for rec in records:
            p = rec.pref()
            if p is not None:
                self._add(view, rec, p.grad)
        return view

    def _add(self, view, rec, g) -> None:
        """One watched parameter's part of ``view``: ``g``, its gradient now, and its record."""
        if g is not None:
            view.all_none = False
            if rec.snap_ref is None or rec.snap_ref() is not g or g._version != rec.snap_ver:
                view.unchanged = False
        if rec.acc_since_step:
            view.touched += 1
            if view.pre_all and rec.pre_step != 1:
                view.pre_all = False
            if view.wiped_all and not (rec.n == 1 and rec.wiped):
                view.wiped_all = False
            if view.zeroed_all and not (g is not None and self.zeroed_since(rec)):
                view.zeroed_all = False
            last_bw = view.last_bw
            if rec.last_bw is not None and (last_bw is None or rec.last_bw.index > last_bw.index):
                view.last_bw = rec.last_bw

    def after_step(self, opt, orec) -> None:
        """Snapshot each gradient as the step left it, and arm the OPT101 sentinel."""
        if orec.watched_by is not None:
            self._snapshot(orec.hooked, orec)
            self._arm_sentinel(orec)
            return
        params = self.params
        smallest = None
        for group in opt.param_groups:
            for p in group["params"]:
                rec = params.get(id(p))
                if rec is None:
                    continue
                if rec.acc_since_step:
                    rec.streak += 1
                elif rec.handle is not None:
                    rec.streak = 0
                g = p.grad
                if g is not None and orec.sentinel is None and p.requires_grad \
                        and (smallest is None or p.numel() < smallest.numel()):
                    smallest = p
                self._snap(rec, g, orec)
        if orec.sentinel is None and smallest is not None:
            orec.sentinel = weakref.ref(smallest)
        self._arm_sentinel(orec)
        if orec.steps >= WARMUP and not self.mon.eval_modules:
            self.thin(opt, orec)

    @classmethod
    def _snapshot(cls, records, orec) -> None:
        """``after_step`` for the parameters that kept a hook (a thinned optimizer)."""
        for rec in records:
            p = rec.pref()
            if p is None:
                continue
            if rec.acc_since_step:
                rec.streak += 1
            cls._snap(rec, p.grad, orec)

    @staticmethod
    def _snap(rec, g, orec) -> None:
        """One record after ``orec``'s step: ``g``, the gradient as the step left it, remembered
        (object and version), its accumulation count reset, its other owners told."""
        if g is None:
            rec.snap_ref = None
            rec.pre_step = 0
        else:
            rec.keep(g)
            rec.pre_step = 1
        rec.acc_since_step = 0
        rec.wiped = 0
        if len(rec.owners) > 1:
            for other in rec.owners:
                if other is not orec:
                    other.stepped_elsewhere = True

    def thin(self, opt, orec) -> None:
        """Keep one accumulate hook for ``opt``: on a parameter it alone owns that every one of
        the last WARMUP steps found accumulated into (the sentinel's if it qualifies, else the
        smallest); the other parameters it alone owns lose theirs."""
        params = self.params
        sentinel = orec.sentinel() if orec.sentinel is not None else None
        best = best_p = None
        mine = []
        kept = []
        for group in opt.param_groups:
            for p in group["params"]:
                rec = params.get(id(p))
                if rec is None or rec.handle is None:
                    continue
                if len(rec.owners) != 1 or rec.owners[0] is not orec:
                    kept.append(rec)  # shared with another optimizer: keeps its hook
                    continue
                mine.append(rec)
                if rec.streak >= WARMUP and (best is None or p is sentinel
                                             or (best_p is not sentinel and p.numel() < best_p.numel())):
                    best, best_p = rec, p
        if best is None:
            return
        for rec in mine:
            if rec is not best:
                try:
                    rec.handle.remove()
                except Exception:  # pragma: no cover - defensive
                    pass
                rec.handle = None
        orec.watched_by = best
        orec.hooked = (best, *kept)

    def rearm(self, opt, orec) -> None:
        """Every parameter of ``opt`` hooked again (the representative stopped standing for them)."""
        orec.disarm()
        orec.watched_by = None
        orec.hooked = ()
        handle, orec.sentinel_handle = orec.sentinel_handle, None
        if handle is not None:
            handle.remove()
        orec.sentinel = None  # chosen again at the next step, among the parameters that train
        for group in opt.param_groups:
            for p in group["params"]:
                rec = self.params.get(id(p))
                if rec is not None and rec.handle is None and p.requires_grad:
                    try:
                        rec.handle = p.register_post_accumulate_grad_hook(self.accumulate_hook(rec))
                    except RuntimeError:
                        continue
                    rec.streak = 0

    def touched(self, opt) -> list:
        """The parameters of ``opt`` whose gradient changed since its last step, hooked or not
        (a new gradient object or a moved version counter): metadata only."""
        params = self.params
        out = []
        for group in opt.param_groups:
            for p in group["params"]:
                rec = params.get(id(p))
                if rec is None:
                    continue
                if rec.handle is not None:
                    if rec.acc_since_step:
                        out.append(p)
                    continue
                g = p.grad
                if g is not None and (rec.snap_ref is None or rec.snap_ref() is not g or g._version != rec.snap_ver):
                    out.append(p)
        return out

    def _arm_sentinel(self, orec) -> None:
        """Flag the sentinel's gradient at the next backward only when the step just taken
        may be followed by an OPT101 candidate not yet recorded."""
        orec.sentinel_flag = None
        want = orec.pending101 is None and (orec.steps < 2 or orec.suspect)
        orec.sentinel_armed = want
        handle = orec.sentinel_handle
        if want:
            p = orec.sentinel() if handle is None and orec.sentinel is not None else None
            if p is not None:
                orec.sentinel_handle = p.register_hook(functools.partial(self._sentinel_hook, orec))
        elif handle is not None:
            orec.sentinel_handle = None
            handle.remove()

    def _sentinel_hook(self, orec, incoming):
        """Tensor hook on the sentinel parameter: runs before the incoming gradient is added."""
        try:
            if orec.sentinel_armed:
                orec.sentinel_armed = False
                p = orec.sentinel() if orec.sentinel is not None else None
                g = p.grad if p is not None else None
                if g is not None:
                    with torch.no_grad():
                        orec.sentinel_flag = g.ne(0).any()  # stays on the device: no sync here
        except Exception as exc:
            self.mon.internal_error("sentinel hook", exc)
        return None
