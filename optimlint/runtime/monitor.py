"""The runtime companion's orchestrator: installs the hooks, keeps the records, routes each
event to the verdicts of the rule families it concerns.

Public PyTorch mechanisms are used where they exist (each optimizer's step pre-hook, the
global step post-hook, ``Tensor.register_post_accumulate_grad_hook`` on the optimizers'
parameters); the few calls that have no hook (optimizer and scheduler construction,
``zero_grad``, ``add_param_group``, ``torch.autograd.backward``, scheduler ``step``,
``GradScaler`` methods, ``clip_grad_*``, ``DataLoader.__iter__``, ``Module.train``,
``torch.multiprocessing``'s ``start_processes``) are wrapped by ``patches.Patches``, which undoes everything on uninstall. No global module hook:
it would take every module call off PyTorch's fast path. Per step the cost is a frame walk per
event and, after a warm-up, one parameter's accumulate hook per optimizer (see
``gradients``: ``thin`` / ``rearm``) and no step pre-hook while the steps are settled (see
``hotpath``: armed optimizers), and after a long calm run no ``zero_grad`` or
``backward`` wrapper either on most steps (``sampling``: one step in 32 observed); the heavier looks (modules held by the user's frames for
OPT305/OPT401, running totals for OPT601) run at a few checkpoints only. The callbacks of
every clearing, backward and step live in ``hotpath`` (written out, their own error
isolation, one line lookup per call site).

A step with a closure (LBFGS, Lightning's automatic optimization) is followed: the closure
is wrapped so that the step's verdicts run when it returns, on the gradients it produced.

Rules of the house:
- never change a number: hooks only read None-ness, object identities, version counters
  and counts, never tensor values (so no host-device synchronisation either);
- never raise into the program: every callback runs under ``guard`` and an error is
  recorded in ``report.errors`` (for that check only); a wrapped call's own exception
  propagates unchanged.

Where the rest lives: ``hotpath`` (the per-event callbacks), ``gradients`` (parameter
records, the accumulation classifier), ``records`` (optimizers, schedulers, backward
passes), ``verdicts/`` (the rules), ``frames`` (attribution to the user's line), ``patches``
(install and undo).
"""

from __future__ import annotations

import functools
import sys
import weakref
from contextlib import contextmanager

import torch

from optimlint.analysis.events import EventKind
from optimlint.runtime import distributed, epochs, frames, hotpath, sampling
from optimlint.runtime.gradients import Gradients
from optimlint.runtime.observations import Observation, RuntimeReport
from optimlint.runtime.patches import Patches, subclasses
from optimlint.runtime.records import BackwardInfo, OptRec, SchedRec, drop
from optimlint.runtime.verdicts import amp, construction, groups, hygiene, order, schedulers
from optimlint.vocabulary import CLIP_FUNCTIONS

#: The site kind of an optimizer construction (EventKind has none: it is not a loop event).
CONSTRUCT = "construct"
_ZERO_GRAD, _BACKWARD, _STEP = EventKind.ZERO_GRAD.value, EventKind.BACKWARD.value, EventKind.STEP.value


class Monitor:
    """Installs the hooks, keeps the records and writes observations into ``report``."""

    def __init__(self, report: RuntimeReport | None = None, namespace: dict | None = None):
        self.report = report or RuntimeReport()
        self.namespace = namespace  # where to look up user names for modules (OPT401)
        self.nodeid: str | None = None
        self.installed = False
        self.patches = Patches(self.internal_error)
        self.gradients = Gradients(self)
        self.opts: dict[int, OptRec] = {}
        self.scheds: dict[int, SchedRec] = {}
        self.scalers: dict[int, set] = {}
        self.modules: dict[int, weakref.ref] = {}
        self.scaled: list = []          # weakrefs to the latest scaler.scale outputs
        self.pending: list = []         # OPT101 candidates awaiting their sentinel flag
        self.all_opts: list[OptRec] = []    # kept after the objects die (end-of-run checks)
        self.all_scheds: list[SchedRec] = []
        self.checked401_at = 0
        self.reported401: set = set()
        self.current_bw: BackwardInfo | None = None
        self.armed: tuple[OptRec, ...] = ()   # armed optimizers (records.OptRec.arm)
        self.calm = 0                    # settled steps in a row, every optimizer armed (sampling)
        self.asleep = 0                  # sampled-out steps left (sampling.sleep), 0: awake
        self.hot: tuple = ()             # the wrappers taken off while asleep (sampling.install)
        self.bw_count = 0
        self.step_count = 0
        self.tick = 0
        self.next601 = 0                 # the step count of the next look for OPT601
        self.next_periodic = 0           # no periodic check is due before this step count
        self.prestep_tick = -1           # tick of the latest clip / unscale_ (a step was meant)
        self.iter_id = 0
        self.in_scaler_step = None
        self.eval_modules: dict[int, tuple] = {}   # id -> (weakref(module), where .eval() ran)
        self.totals: dict = {}           # OPT601: (code, name) -> (grad_fn, step) at the last checkpoint
        self.reported601: set = set()
        self._clip_generator = None      # the clip being called got a generator: was it empty?
        self._rank = frames.rank()
        self.report.rank = self._rank

    # ------------------------------------------------------------------ plumbing
    def guard(self, where, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # never into the user's program
            self.internal_error(where, exc)
            return None

    def internal_error(self, where, exc):
        if len(self.report.errors) < 20:
            self.report.errors.append(f"{where}: {type(exc).__name__}: {exc}")

    def stir(self, *_args, **_kwargs) -> None:
        """An event other than a settled step's clearing, backward and step: the run is not
        calm, and a sleeping monitor wakes before the event is handled (``sampling``)."""
        self.calm = 0
        if self.asleep:
            sampling.wake(self)

    def site(self, loc, kind) -> None:
        """Remember that an event of ``kind`` (an EventKind or "construct") ran at ``loc``."""
        if loc is not None:
            value = getattr(kind, "value", kind)
            kinds = self.report.sites.get(loc)
            if kinds is None:
                self.report.sites[loc] = {value}
            else:
                kinds.add(value)

    def observe(self, code: str, message: str, loc, related=()) -> None:
        filename, row = loc if loc is not None else (None, 0)
        rank = self._rank
        if rank is None:
            rank = frames.rank()
        related = tuple(r for r in related if r is not None and r != loc)
        self.report.add(Observation(code, message, filename, row, _column(loc), rank, self.nodeid, related=related))

    def once(self, orec, code, message, loc, related=()):
        key = (code, self.nodeid)
        if orec is not None:
            if key in orec.reported:
                return
            orec.reported.add(key)
        self.observe(code, message, loc, related)

    # ------------------------------------------------------------------ install
    def install(self) -> "Monitor":
        if self.installed:
            return self
        self.installed = True
        try:
            self._install()
        except BaseException:
            self.uninstall()
            raise
        return self

    def _install(self):
        from torch.optim import lr_scheduler
        from torch.optim.optimizer import Optimizer, register_optimizer_step_post_hook
        from torch.utils.data import DataLoader

        p = self.patches
        self._pre_hook_for, post_hook = hotpath.step_hooks(self, _Followed, _line_calls)
        p.handle(register_optimizer_step_post_hook(post_hook))

        hot = []  # the per-event wrappers, off while the monitor sleeps (sampling)
        # Optimizer construction: every class defining __init__ (the SGD nesterov check runs
        # in SGD.__init__, before Optimizer.__init__); only the outermost call is looked at.
        for cls in subclasses(Optimizer):
            if "__init__" in cls.__dict__:
                p.wrap(cls, "__init__", "optimizer construction", after=self._on_construct,
                       error=self._on_construct_error, depth="init", warnings=True)
            if "zero_grad" in cls.__dict__:
                p.replace(cls, "zero_grad", functools.partial(hotpath.zero_grad_wrapper, self))
                hot.append((cls, "zero_grad", cls.__dict__["zero_grad"], cls.__dict__["zero_grad"].__optimlint_wrapped__))
        p.wrap(Optimizer, "add_param_group", "add_param_group", after=self._on_add_param_group,
               error=self._on_add_param_group_error)
        p.wrap(torch.nn.Module, "zero_grad", "Module.zero_grad", before=self.stir, after=self._on_module_zero_grad)
        p.wrap(torch.nn.Module, "train", "Module.train", after=self._on_train, depth="train")
        p.replace(torch.autograd, "backward", functools.partial(hotpath.backward_wrapper, self))
        hot.append((torch.autograd, "backward", torch.autograd.backward, torch.autograd.backward.__optimlint_wrapped__))
        sampling.install(self, hot)

        sched_classes = subclasses(lr_scheduler.LRScheduler)
        plateau = getattr(lr_scheduler, "ReduceLROnPlateau", None)
        if plateau is not None and plateau not in sched_classes:
            sched_classes.append(plateau)
        for cls in sched_classes:
            # the constructor's own initial step() is not a step of the schedule (CAWR's step
            # does not advance _step_count: the depth tells it apart, not the count)
            if "__init__" in cls.__dict__:
                p.wrap(cls, "__init__", "scheduler construction", after=self._on_sched_construct, depth="sched_init")
            if "step" in cls.__dict__:
                p.wrap(cls, "step", "scheduler step", before=self._before_sched_step, depth="sched", warnings=True)
        distributed.install_spawn(p, type(self))

        self._install_scaler()
        self._install_clip()
        p.wrap(DataLoader, "__iter__", "DataLoader.__iter__", before=self._on_new_epoch)

    def _install_scaler(self):
        try:
            from torch.amp.grad_scaler import GradScaler
        except ImportError:  # pragma: no cover - old torch
            return
        p = self.patches
        for cls in subclasses(GradScaler):
            if "scale" in cls.__dict__:
                p.wrap(cls, "scale", "GradScaler.scale", after=self._on_scale)
            if "unscale_" in cls.__dict__:
                p.wrap(cls, "unscale_", "GradScaler.unscale_", after=self._on_unscale,
                       error=self._on_unscale_error)
            if "step" in cls.__dict__:
                p.wrap(cls, "step", "GradScaler.step", before=self._before_scaler_step,
                       leave=self._leave_scaler_step, after=self._after_scaler_step)
            if "update" in cls.__dict__:
                p.wrap(cls, "update", "GradScaler.update", after=self._on_scaler_update)

    def _install_clip(self):
        import torch.nn.utils as nn_utils
        from torch.nn.utils import clip_grad

        mon = self

        def prepare(args, kwargs):
            # a generator: read it once, hand the list on (and remember whether it was empty)
            mon._clip_generator = None
            if args:
                if not isinstance(args[0], (torch.Tensor, list, tuple)):
                    args = (list(args[0]), *args[1:])
                    mon._clip_generator = not args[0]
            elif "parameters" in kwargs and not isinstance(kwargs["parameters"], (torch.Tensor, list, tuple)):
                kwargs = {**kwargs, "parameters": list(kwargs["parameters"])}
                mon._clip_generator = not kwargs["parameters"]
            return args, kwargs

        seen = {}
        for name in CLIP_FUNCTIONS:
            for owner in (clip_grad, nn_utils):
                if not hasattr(owner, name):
                    continue
                # nn.utils re-exports clip_grad's functions: one wrapper for both names
                original = getattr(owner, name)
                wrapped = seen.get(id(original))
                if wrapped is None:
                    wrapped = seen[id(original)] = self.patches.wrapper(original, "clip_grad", before=self._on_clip,
                                                                        prepare=prepare)
                self.patches.replace(owner, name, lambda _orig, w=wrapped: w)

    # ------------------------------------------------------------------ uninstall
    def uninstall(self) -> None:
        """Remove every hook handle and restore every patched attribute (LIFO)."""
        self.asleep = 0  # its wrappers are off already: the undo below restores the originals
        self.gradients.remove_hooks()
        self.patches.undo()
        frames._site_lines.clear()  # it holds code objects: nothing kept past the run
        self.installed = False

    # ------------------------------------------------------------------ construction
    def _on_construct_error(self, _token, exc, opt, *args, **kwargs):
        self.stir()
        loc = frames.user_location()
        self.site(loc, CONSTRUCT)
        construction.at_error(self, opt, kwargs, exc, loc)

    def _on_construct(self, _token, _result, opt, *args, **kwargs):
        self.stir()
        loc = frames.user_location()
        self.site(loc, CONSTRUCT)
        orec = self.register_optimizer(opt, loc, constructed=True)
        self.guard("optimizer construction: group keys", groups.group_keys, self, opt, orec, loc)
        self.guard("optimizer construction", construction.at_construct, self, opt, orec, loc)

    def _on_add_param_group(self, _token, _result, opt, param_group, *args, **kwargs):
        self.stir()
        orec = self.opts.get(id(opt))
        if orec is not None and not self.patches.depths.get("init"):
            if orec.watched_by is not None:
                self.gradients.rearm(opt, orec)
            self.gradients.add_owner(param_group.get("params", ()), orec)
            self._remember_params(opt, orec)

    def _on_add_param_group_error(self, _token, exc, opt, *args, **kwargs):
        if self.patches.depths.get("init"):
            return  # inside a constructor: its own error handler reports it
        self.stir()
        loc = frames.user_location()
        self.site(loc, CONSTRUCT)
        orec = self.opts.get(id(opt))
        construction.at_error(self, opt, {}, exc, loc, where="`add_param_group`",
                              name=orec.label if orec is not None else None)

    def register_optimizer(self, opt, loc, constructed):
        key = id(opt)
        orec = self.opts.get(key)
        if orec is not None and orec.ref() is opt:
            return orec
        orec = OptRec(opt, loc, constructed, frames.assigned_name(loc) if constructed else None)
        orec.bw_at_last_step = self.bw_count
        orec.nodeid = self.nodeid
        orec.monitor = self
        if self.step_count + orec.next_check - 1 < self.next_periodic:
            self.next_periodic = self.step_count + orec.next_check - 1
        self.opts[key] = orec
        self.all_opts.append(orec)
        try:  # its own step pre-hook (off while it is armed: hotpath.step_hooks)
            orec.pre_hook = self._pre_hook_for(orec)
            orec.pre_handle = self.patches.handle(opt.register_step_pre_hook(orec.pre_hook))
        except AttributeError:  # a wrapper that never ran Optimizer.__init__: torch hooks no step of it
            orec.no_arm = True
        weakref.finalize(opt, self._optimizer_collected, key, orec)
        for group in opt.param_groups:
            self.gradients.add_owner(group.get("params", ()), orec)
        self._remember_params(opt, orec)
        return orec

    @staticmethod
    def _remember_params(opt, orec):
        params = [p for group in opt.param_groups for p in group.get("params", ()) if isinstance(p, torch.Tensor)]
        orec.param_ids = frozenset(id(p) for p in params)
        orec.shapes = sorted(tuple(p.shape) for p in params if p.requires_grad)

    def _optimizer_collected(self, key, orec):
        """The optimizer is being collected: a last OPT401 look while the model may live on."""
        self.opts.pop(key, None)
        if self.installed and orec.steps:
            self.guard("OPT401 check", groups.missing_params, self)

    # ------------------------------------------------------------------ clearing, backward
    def _on_module_zero_grad(self, _token, _result, module, *args, **kwargs):
        self.tick += 1
        loc = frames.user_location()
        self.site(loc, EventKind.ZERO_GRAD)
        self.gradients.module_zeroed(module, loc)

    # ------------------------------------------------------------------ modules
    def _on_train(self, _token, _result, module, mode=True):
        loc = frames.user_location()
        key = id(module)
        if key not in self.modules:
            self.modules[key] = weakref.ref(module, functools.partial(drop, self.modules, key))
        if mode:
            self.site(loc, EventKind.TRAIN_MODE)
            self.eval_modules.pop(key, None)
        else:
            self.stir()
            self.site(loc, EventKind.EVAL_MODE)
            if any(p.requires_grad for p in module.parameters()):
                self.eval_modules[key] = (self.modules[key], loc)
                self._rearm_all()  # OPT603 reads every parameter a backward reaches

    def _rearm_all(self):
        for orec in list(self.opts.values()):
            opt = orec.ref() if orec.watched_by is not None else None
            if opt is not None:
                self.gradients.rearm(opt, orec)

    def _on_new_epoch(self, loader):
        self.iter_id += 1
        if self.step_count and self.step_count != self.checked401_at:
            # An epoch boundary: look for OPT401 while the model is surely alive
            # (it may be a local of main() by the end of the run).
            self.checked401_at = self.step_count
            self.guard("OPT401 check", groups.missing_params, self)

    # ------------------------------------------------------------------ steps
    def judge_step(self, opt, orec, loc):
        """The step's verdicts, each family isolated (an error in one is recorded, the others
        still run); written out rather than through ``guard``: this runs at every step."""
        view = self.gradients.view(opt, orec)
        try:
            fresh = order.at_step(self, orec, view, loc)
        except Exception as exc:
            self.internal_error("OPT1xx at step", exc)
            fresh = None
        if fresh:
            try:
                amp.at_step(self, opt, orec, view, loc)
            except Exception as exc:
                self.internal_error("OPT5xx at step", exc)
            if self.eval_modules:
                self.guard("OPT603 at step", hygiene.at_step, self, opt, orec, loc)
        self.periodic_checks(orec, loc)

    def periodic_checks(self, orec, loc):
        """The heavier looks, at a few steps only: running totals (OPT601), modules held by
        the user's frames (OPT305 through the step's view, OPT401)."""
        count = self.step_count
        # running totals grow from the first steps on: every step at first, then sparsely
        # (every 32nd step up to 256, every 256th after: a total carrying every iteration's
        # graph is still there at the next look)
        if count >= self.next601:
            self.next601 = count + 1 if count < 15 else (count // 32 + 1) * 32 if count < 256 \
                else (count // 256 + 1) * 256
            self.guard("OPT601 check", hygiene.running_totals, self, frames.user_frames(), loc)
        if orec.steps + 1 >= orec.next_check:
            orec.next_check *= 4
            self.guard("OPT401 check", groups.missing_params, self)
        # the earliest step count at which a look may be due: an optimizer takes at most one
        # of the steps counted, so none reaches its next_check sooner
        due = self.next601
        for other in self.opts.values():
            if count + other.next_check - 1 - other.steps < due:
                due = count + other.next_check - 1 - other.steps
        self.next_periodic = due

    # ------------------------------------------------------------------ schedulers
    def _on_sched_construct(self, _token, _result, sched, *args, **kwargs):
        loc, _via = frames.user_call()
        self.site(loc, CONSTRUCT)
        self._sched_record(sched, loc)

    def _sched_record(self, sched, loc=None):
        key = id(sched)
        srec = self.scheds.get(key)
        if srec is None or srec.ref() is not sched:
            opt = getattr(sched, "optimizer", None)
            orec = self.opts.get(id(opt)) if opt is not None else None
            srec = SchedRec(sched, orec, schedulers.period(sched), loc)
            srec.nodeid = self.nodeid
            self.scheds[key] = srec
            self.all_scheds.append(srec)
            weakref.finalize(sched, drop, self.scheds, key)
        return srec

    def _before_sched_step(self, sched, *args, **kwargs):
        if self.patches.depths.get("sched_init"):
            return  # the scheduler's own initial step, inside its constructor
        srec = self._sched_record(sched)
        loc, via = frames.user_call()
        self.site(loc, EventKind.SCHED_STEP)
        srec.steps += 1
        if args and srec.cls != "ReduceLROnPlateau" or kwargs.get("epoch") is not None:
            srec.with_epoch_arg = True
        if via and not _line_calls(loc, "step("):
            srec.via_library = True
        schedulers.at_step(self, srec, epochs.epoch_marker())
        if srec.steps == 1:
            srec.first_loc = loc
            schedulers.at_first_step(self, srec, srec.loc if srec.via_library and srec.loc else loc)

    # ------------------------------------------------------------------ GradScaler
    def _on_scale(self, _token, out, scaler, *args, **kwargs):
        if not scaler.is_enabled():
            return
        self.stir()
        self.site(frames.user_location(), EventKind.SCALE)
        if isinstance(out, torch.Tensor):
            self.scaled.append(weakref.ref(out))
            del self.scaled[:-4]

    def _on_unscale(self, _token, _result, scaler, optimizer, *args, **kwargs):
        self.stir()
        self.tick += 1
        self.prestep_tick = self.tick
        if self.in_scaler_step is None:
            self.site(frames.user_location(), EventKind.UNSCALE)
        orec = self.opts.get(id(optimizer))
        if orec is not None:
            orec.unscaled_bw = self.bw_count

    def _on_unscale_error(self, _token, exc, scaler, optimizer=None, *args, **kwargs):
        self.stir()
        amp.at_unscale_error(self, self.opts.get(id(optimizer)), exc, frames.user_location())

    def _before_scaler_step(self, scaler, optimizer, *args, **kwargs):
        self.stir()
        token = (self.in_scaler_step, None)
        self.in_scaler_step = optimizer
        loc = frames.user_location()
        self.site(loc, EventKind.SCALER_STEP)
        orec = self.opts.get(id(optimizer))
        if orec is None:
            orec = self.register_optimizer(optimizer, None, constructed=False)
        stepped = self.scalers.setdefault(id(scaler), set())
        amp.at_scaler_step(self, scaler, orec, stepped, loc)
        return (token[0], orec.steps)

    def _leave_scaler_step(self, token):
        self.in_scaler_step = token[0] if token is not None else None

    def _after_scaler_step(self, token, _result, scaler, optimizer, *args, **kwargs):
        orec = self.opts.get(id(optimizer))
        if orec is None or token is None or token[1] is None:
            return
        orec.scaler_calls += 1
        if scaler.is_enabled():
            self.scalers.setdefault(id(scaler), set()).add(id(optimizer))
            if orec.steps == token[1]:
                # GradScaler skipped the step (inf/nan): the window ends here all the same
                orec.scaler_skipped += 1
                self.gradients.after_step(optimizer, orec)

    def _on_scaler_update(self, _token, _result, scaler, *args, **kwargs):
        self.stir()
        self.site(frames.user_location(), EventKind.SCALER_UPDATE)
        stepped = self.scalers.get(id(scaler))
        if stepped:
            stepped.clear()

    # ------------------------------------------------------------------ clipping
    def _on_clip(self, parameters=(), *args, **kwargs):
        self.stir()
        loc = frames.user_location()
        self.site(loc, EventKind.CLIP)
        self.tick += 1
        self.prestep_tick = self.tick
        if self._clip_generator:
            self.guard("OPT304 at clip", construction.exhausted_generator, self, loc)
            return
        params = [parameters] if isinstance(parameters, torch.Tensor) else parameters
        if not self.guard("OPT105 at clip", order.at_clip, self, params, loc):
            self.guard("OPT503 at clip", amp.at_clip, self, params, loc)

    # ------------------------------------------------------------------ end of run
    def finalize(self) -> RuntimeReport:
        self.calm = self.asleep = 0
        self.guard("finalize: gradients", order.confirm_pending, self)
        self.guard("finalize: never stepped", order.never_stepped, self)
        self.guard("finalize: schedulers", schedulers.at_end, self)
        self.guard("finalize: parameters", groups.missing_params, self)
        return self.report

    def flush(self) -> None:
        """Confirm pending OPT101 candidates (one host read each) and look for OPT401: at the
        end of the run, or of a test, never during a step."""
        self.stir()
        self.guard("flush", order.confirm_pending, self)
        self.guard("flush: parameters", groups.missing_params, self)


def _column(loc) -> int:
    """1-based column of the statement at ``loc`` (its first non-blank character)."""
    if loc is None:
        return 1
    import linecache

    line = linecache.getline(loc[0], loc[1])
    return len(line) - len(line.lstrip()) + 1 if line.strip() else 1


def _line_calls(loc, text: str) -> bool:
    """Whether the user's line at ``loc`` spells the call itself (``optimizer.step()``), as
    opposed to entering a framework that makes it (``trainer.fit(model)``)."""
    if loc is None:
        return False
    import linecache

    return text in linecache.getline(loc[0], loc[1])


class _Followed:
    """A step's closure, wrapped: runs the step's verdicts once the closure has run (LBFGS
    calls it several times per step: the first call is judged)."""

    __slots__ = ("mon", "opt", "orec", "loc", "closure", "judged")

    def __init__(self, mon, opt, orec, loc, closure):
        self.mon, self.opt, self.orec, self.loc, self.closure = mon, opt, orec, loc, closure
        self.judged = False

    def __call__(self, *args, **kwargs):
        result = self.closure(*args, **kwargs)
        if not self.judged:
            self.judged = True
            self.mon.guard("closure step", self.mon.judge_step, self.opt, self.orec, self.loc)
        return result

    def __getattr__(self, name):  # a framework may read attributes of its own closure
        return getattr(self.closure, name)


@contextmanager
def watch(namespace: dict | None = None, *, files=()):
    """Watch torch.optim inside a ``with`` block; yields the report (``.findings`` fills in,
    ``.diagnostics`` joins the static findings of the files that ran on first access).

    ``namespace`` (default: the caller's globals) is where modules' user names are looked up.
    """
    if namespace is None:
        try:
            namespace = sys._getframe(2).f_globals
        except ValueError:  # pragma: no cover
            namespace = None
    monitor = Monitor(namespace=namespace)
    monitor.report._joiner = list(files)
    monitor.install()
    try:
        yield monitor.report
    finally:
        monitor.uninstall()
        monitor.finalize()
