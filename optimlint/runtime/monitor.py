"""Hooks into torch.optim during a real run and records training-loop mistakes as they happen.

Public PyTorch mechanisms are used where they exist (global optimizer step pre/post hooks,
``Tensor.register_post_accumulate_grad_hook``, the global module forward pre-hook); the
few calls that have no hook (optimizer construction, ``zero_grad``, ``torch.autograd.backward``,
scheduler ``step``, ``GradScaler`` methods, ``clip_grad_*``, ``DataLoader.__iter__``,
``Module.train``) are wrapped, and every patch and handle is undone by ``uninstall``.

Rules of the house:
- never change a number: hooks only read None-ness, object identities, version counters
  and counts, never tensor values (so no host-device synchronisation either);
- never raise into the program: every hook body runs under ``_guard`` and an error is
  recorded in ``report.errors``; a wrapped call's own exception propagates unchanged.

How gradient history is followed without reading values: each parameter has a record
updated by its post-accumulate-grad hook. If ``p.grad`` is the same object as at the
previous accumulation (or at the last step) and its version counter moved by exactly one,
the new backward was *added* to what was there; if ``p.grad`` is a new object (it was set
to None) or an observed ``zero_grad`` ran in between, the gradient was *cleared*; any other
in-place change (DDP's all-reduce, manual scaling, ``.zero_()`` by hand) makes the history
*unknown*, and unknown never confirms anything. One case moves no counter at all
(``p.grad.data.zero_()``), so an OPT101 candidate is confirmed only if a device-side flag
``p.grad != 0``, computed on one small "sentinel" parameter just before the first
accumulation after a step, is true; it is read once per candidate when the run (or test) ends.

End-of-run checks (OPT104, OPT202, OPT203) keep small records of the objects they need, so they
still work when the optimizer and scheduler were locals of a function that has returned; OPT401
needs the live model to name parameters, so it is also checked at each epoch boundary (a new
DataLoader iterator) and after each test.
"""

from __future__ import annotations

import difflib
import functools
import math
import os
import sys
import sysconfig
import weakref
from contextlib import contextmanager

import torch

from optimlint.analysis.events import EventKind
from optimlint.runtime.observations import Observation, RuntimeReport

# --------------------------------------------------------------------------- locations
_TORCH_DIR = os.path.dirname(torch.__file__) + os.sep
_OPTIMLINT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _internal_prefixes() -> tuple[str, ...]:
    out = [_TORCH_DIR, _OPTIMLINT_DIR]
    for key in ("stdlib", "platstdlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            out.append(os.path.realpath(path) + os.sep)
            out.append(path + os.sep)
    for mod in ("_pytest", "pluggy"):
        m = sys.modules.get(mod)
        if m is not None and getattr(m, "__file__", None):
            out.append(os.path.dirname(m.__file__) + os.sep)
    return tuple(dict.fromkeys(out))


_PREFIXES = _internal_prefixes()
_internal_cache: dict[str, bool] = {}


def _is_internal(filename: str) -> bool:
    hit = _internal_cache.get(filename)
    if hit is None:
        if filename.startswith("<"):
            hit = filename.startswith("<frozen")
        elif "site-packages" in filename or "dist-packages" in filename:
            hit = filename.startswith((_TORCH_DIR, _OPTIMLINT_DIR))
        else:
            hit = filename.startswith(_PREFIXES)
        _internal_cache[filename] = hit
    return hit


def _user_location(depth: int = 2) -> tuple[str, int] | None:
    """(filename, line) of the first frame outside torch, optimlint, stdlib and pytest."""
    try:
        frame = sys._getframe(depth)
    except ValueError:
        return None
    while frame is not None:
        filename = frame.f_code.co_filename
        if not _is_internal(filename):
            return filename, frame.f_lineno
        frame = frame.f_back
    return None


def _rank() -> int | None:
    try:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            return dist.get_rank()
    except Exception:  # pragma: no cover - defensive
        pass
    value = os.environ.get("RANK")
    if value is not None and value.isdigit():
        return int(value)
    return None


def _call_attributing_warnings(fn, *args, **kwargs):
    """Call ``fn``; warnings it raises are re-issued at the user's frame, where PyTorch's
    ``stacklevel`` would have pointed without optimlint's wrapper in between."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn(*args, **kwargs)
    if caught:
        frame = sys._getframe(1)
        while frame is not None and _is_internal(frame.f_code.co_filename):
            frame = frame.f_back
        for w in caught:
            if frame is None:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
            else:
                g = frame.f_globals
                warnings.warn_explicit(w.message, w.category, frame.f_code.co_filename, frame.f_lineno,
                                       module=g.get("__name__"), registry=g.setdefault("__warningregistry__", {}),
                                       module_globals=g)
    return result


# --------------------------------------------------------------------------- records
ACCUM, CLEARED, UNKNOWN = 0, 1, 2
#: The site kind of an optimizer construction (EventKind has none: it is not a loop event).
CONSTRUCT = "construct"

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


class BackwardInfo:
    __slots__ = ("index", "loc", "scaled", "create_graph", "eval_loc", "in_eval")

    def __init__(self, index, loc, scaled, create_graph):
        self.index = index
        self.loc = loc
        self.scaled = scaled
        self.create_graph = create_graph
        self.eval_loc = None
        self.in_eval = False


class ParamRec:
    __slots__ = ("pref", "handle", "owners", "g_ref", "g_ver", "n", "pre_step", "acc_since_step",
                 "acc_total", "wiped", "p_ver", "step_at_acc", "last_bw", "last_acc_tick",
                 "zero_tick", "snap_ref", "snap_ver")

    def __init__(self):
        self.pref = None
        self.handle = None
        self.owners = []
        self.g_ref = None
        self.g_ver = -1
        self.n = 0            # backwards the current gradient holds (-1: unknown)
        self.pre_step = 0     # 1: the gradient holds what a step already used; -1 unknown
        self.acc_since_step = 0
        self.acc_total = 0
        self.wiped = 0        # backwards cleared away since the last step (same weights)
        self.p_ver = -1
        self.step_at_acc = -1
        self.last_bw = None
        self.last_acc_tick = -1
        self.zero_tick = -1
        self.snap_ref = None  # the gradient object and version right after the last step
        self.snap_ver = -1


class OptRec:
    __slots__ = ("ref", "cls", "loc", "constructed", "steps", "bw_at_last_step", "zero_tick",
                 "zero_loc", "unscaled_bw", "scaler_calls", "scaler_skipped", "iter_id",
                 "spi", "max_spi", "reported", "sentinel", "sentinel_handle", "sentinel_armed",
                 "sentinel_flag", "pending101", "epochs", "backwards", "last_bw_index", "last_bw")

    def __init__(self, opt, loc, constructed):
        self.ref = weakref.ref(opt)
        self.cls = type(opt).__name__
        self.loc = loc
        self.constructed = constructed
        self.steps = 0
        self.bw_at_last_step = 0
        self.zero_tick = -1
        self.zero_loc = None
        self.unscaled_bw = -1
        self.scaler_calls = 0
        self.scaler_skipped = 0
        self.iter_id = -1
        self.spi = 0       # optimizer steps within the current DataLoader iterator
        self.max_spi = 0
        self.reported = set()
        # OPT101 is verified on one small "sentinel" parameter: ``p.grad.data.zero_()`` clears
        # without moving the version counter, so before the first accumulation after a step a
        # device-side flag ``p.grad != 0`` is computed (no host read) and read once at exit.
        self.sentinel = None
        self.sentinel_handle = None
        self.sentinel_armed = False
        self.sentinel_flag = None
        self.pending101 = None
        self.epochs = 0    # DataLoader iterators (epochs) in which this optimizer stepped
        self.backwards = 0  # backward passes that reached this optimizer's parameters
        self.last_bw_index = -1
        self.last_bw = None


class SchedRec:
    """What the end-of-run checks need, kept after the scheduler itself is gone."""

    __slots__ = ("ref", "orec", "cls", "period", "opt_steps_at_create", "steps", "first_loc")

    def __init__(self, sched, orec):
        self.ref = weakref.ref(sched)
        self.orec = orec
        self.cls = type(sched).__name__
        self.period = _period(sched)
        self.opt_steps_at_create = orec.steps if orec is not None else 0
        self.steps = 0
        self.first_loc = None


_MISSING = object()


class Monitor:
    """Installs the hooks, keeps the records and writes observations into ``report``."""

    def __init__(self, report: RuntimeReport | None = None, namespace: dict | None = None):
        self.report = report or RuntimeReport()
        self.namespace = namespace  # where to look up user names for modules (OPT401)
        self.nodeid: str | None = None
        self.installed = False
        self._patches: list[tuple[object, str, object]] = []
        self._handles: list = []
        self._params: dict[int, ParamRec] = {}
        self._opts: dict[int, OptRec] = {}
        self._scheds: dict[int, SchedRec] = {}
        self._scalers: dict[int, set] = {}
        self._modules: dict[int, weakref.ref] = {}
        self._scaled: list = []          # weakrefs to the latest scaler.scale outputs
        self._pending: list = []         # OPT101 candidates awaiting their sentinel flag
        self._all_opts: list[OptRec] = []    # kept after the objects die (end-of-run checks)
        self._all_scheds: list[SchedRec] = []
        self._checked401_at = 0
        self._reported401: set = set()
        self.current_bw: BackwardInfo | None = None
        self.bw_count = 0
        self.step_count = 0
        self.tick = 0
        self.iter_id = 0
        self._init_depth = 0
        self._sched_depth = 0
        self._train_depth = 0
        self._in_scaler_step = None
        self._fw_train = False           # a train-mode module with trainable params ran
        self._fw_eval: dict[int, weakref.ref] = {}
        self._last_eval = None           # (location, weakref(module)) of the latest .eval()
        self._rank = _rank()
        self.report.rank = self._rank

    # ------------------------------------------------------------------ plumbing
    def _guard(self, where, fn, *args):
        try:
            return fn(*args)
        except Exception as exc:  # never into the user's program
            self._internal_error(where, exc)
            return None

    def _internal_error(self, where, exc):
        if len(self.report.errors) < 20:
            self.report.errors.append(f"{where}: {type(exc).__name__}: {exc}")

    def _site(self, loc, kind) -> None:
        """Remember that an event of ``kind`` (an EventKind or "construct") ran at ``loc``."""
        if loc is not None:
            value = getattr(kind, "value", kind)
            kinds = self.report.sites.get(loc)
            if kinds is None:
                self.report.sites[loc] = {value}
            else:
                kinds.add(value)

    def observe(self, code: str, message: str, loc) -> None:
        filename, row = loc if loc is not None else (None, 0)
        rank = self._rank
        if rank is None:
            rank = _rank()
        self.report.add(Observation(code, message, filename, row, 1, rank, self.nodeid))

    def _once(self, orec, code, message, loc):
        key = (code, self.nodeid)
        if orec is not None:
            if key in orec.reported:
                return
            orec.reported.add(key)
        self.observe(code, message, loc)

    def _patch(self, owner, name, make):
        original = owner.__dict__.get(name, _MISSING) if isinstance(owner, type) else getattr(owner, name)
        current = getattr(owner, name)
        setattr(owner, name, make(current))
        self._patches.append((owner, name, original))

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
        from torch.optim.optimizer import (Optimizer, register_optimizer_step_post_hook,
                                           register_optimizer_step_pre_hook)

        mon = self
        self._handles.append(register_optimizer_step_pre_hook(self._step_pre_hook))
        self._handles.append(register_optimizer_step_post_hook(self._step_post_hook))
        self._handles.append(torch.nn.modules.module.register_module_forward_pre_hook(self._forward_pre_hook))

        # Optimizer construction: every class defining __init__ (the SGD nesterov check runs
        # in SGD.__init__, before Optimizer.__init__); only the outermost call is looked at.
        for cls in _subclasses(Optimizer):
            if "__init__" in cls.__dict__:
                self._patch(cls, "__init__", self._wrap_init)

        def wrap_add_param_group(orig):
            @functools.wraps(orig)
            def add_param_group(opt, param_group):
                result = orig(opt, param_group)
                if id(opt) in mon._opts and mon._init_depth == 0:
                    mon._guard("add_param_group", mon._register_params, opt, param_group.get("params", ()))
                return result
            return add_param_group

        self._patch(Optimizer, "add_param_group", wrap_add_param_group)

        def wrap_opt_zero_grad(orig):
            @functools.wraps(orig)
            def zero_grad(opt, *args, **kwargs):
                result = orig(opt, *args, **kwargs)
                mon._guard("zero_grad", mon._on_opt_zero_grad, opt)
                return result
            return zero_grad

        for cls in _subclasses(Optimizer):
            if "zero_grad" in cls.__dict__:
                self._patch(cls, "zero_grad", wrap_opt_zero_grad)

        def wrap_module_zero_grad(orig):
            @functools.wraps(orig)
            def zero_grad(module, *args, **kwargs):
                result = orig(module, *args, **kwargs)
                mon._guard("Module.zero_grad", mon._on_module_zero_grad, module)
                return result
            return zero_grad

        self._patch(torch.nn.Module, "zero_grad", wrap_module_zero_grad)

        def wrap_train(orig):
            @functools.wraps(orig)
            def train(module, mode=True):
                mon._train_depth += 1
                try:
                    return orig(module, mode)
                finally:
                    mon._train_depth -= 1
                    if mon._train_depth == 0:
                        mon._guard("Module.train", mon._on_train, module, mode)
            return train

        self._patch(torch.nn.Module, "train", wrap_train)

        def wrap_backward(orig):
            @functools.wraps(orig)
            def backward(tensors, *args, **kwargs):
                create_graph = args[2] if len(args) > 2 else kwargs.get("create_graph", False)
                info = mon._guard("backward", mon._before_backward, tensors, create_graph)
                previous = mon.current_bw
                mon.current_bw = info
                try:
                    return orig(tensors, *args, **kwargs)
                finally:
                    mon.current_bw = previous
            return backward

        self._patch(torch.autograd, "backward", wrap_backward)

        for cls in _subclasses(lr_scheduler.LRScheduler, include_self=True):
            if "step" in cls.__dict__:
                self._patch(cls, "step", self._wrap_sched_step)
        plateau = getattr(lr_scheduler, "ReduceLROnPlateau", None)
        if plateau is not None and not issubclass(plateau, lr_scheduler.LRScheduler) and "step" in plateau.__dict__:
            self._patch(plateau, "step", self._wrap_sched_step)

        self._install_scaler()
        self._install_clip()

        from torch.utils.data import DataLoader

        def wrap_iter(orig):
            @functools.wraps(orig)
            def __iter__(loader):
                mon.iter_id += 1
                if mon.step_count and mon.step_count != mon._checked401_at:
                    # An epoch boundary: look for OPT401 while the model is surely alive
                    # (it may be a local of main() by the end of the run).
                    mon._checked401_at = mon.step_count
                    mon._guard("OPT401 check", mon._finalize_missing_params)
                return orig(loader)
            return __iter__

        self._patch(DataLoader, "__iter__", wrap_iter)

    def _install_scaler(self):
        mon = self
        try:
            from torch.amp.grad_scaler import GradScaler
        except ImportError:  # pragma: no cover - old torch
            return

        def wrap_scale(orig):
            @functools.wraps(orig)
            def scale(scaler, outputs):
                out = orig(scaler, outputs)
                mon._guard("GradScaler.scale", mon._on_scale, scaler, out)
                return out
            return scale

        def wrap_unscale(orig):
            @functools.wraps(orig)
            def unscale_(scaler, optimizer):
                out = orig(scaler, optimizer)
                mon._guard("GradScaler.unscale_", mon._on_unscale, scaler, optimizer)
                return out
            return unscale_

        def wrap_step(orig):
            @functools.wraps(orig)
            def step(scaler, optimizer, *args, **kwargs):
                before = mon._guard("GradScaler.step", mon._before_scaler_step, scaler, optimizer)
                previous = mon._in_scaler_step
                mon._in_scaler_step = optimizer
                try:
                    out = orig(scaler, optimizer, *args, **kwargs)
                finally:
                    mon._in_scaler_step = previous
                mon._guard("GradScaler.step", mon._after_scaler_step, scaler, optimizer, before)
                return out
            return step

        def wrap_update(orig):
            @functools.wraps(orig)
            def update(scaler, *args, **kwargs):
                out = orig(scaler, *args, **kwargs)
                mon._guard("GradScaler.update", mon._on_scaler_update, scaler)
                return out
            return update

        for cls in _subclasses(GradScaler, include_self=True):
            for name, make in (("scale", wrap_scale), ("unscale_", wrap_unscale),
                               ("step", wrap_step), ("update", wrap_update)):
                if name in cls.__dict__:
                    self._patch(cls, name, make)

    def _install_clip(self):
        mon = self
        import torch.nn.utils as nn_utils
        from torch.nn.utils import clip_grad

        def wrap_clip(orig):
            if getattr(orig, "__optimlint_clip__", None) is mon:
                return orig

            @functools.wraps(orig)
            def clip(parameters, *args, **kwargs):
                if not isinstance(parameters, torch.Tensor) and not isinstance(parameters, (list, tuple)):
                    parameters = list(parameters)  # a generator: read it once, hand the list on
                mon._guard("clip_grad", mon._on_clip, parameters)
                return orig(parameters, *args, **kwargs)
            clip.__optimlint_clip__ = mon
            return clip

        for name in ("clip_grad_norm_", "clip_grad_norm", "clip_grad_value_"):
            for owner in (clip_grad, nn_utils):
                if hasattr(owner, name):
                    self._patch(owner, name, wrap_clip)

    # ------------------------------------------------------------------ uninstall
    def uninstall(self) -> None:
        """Remove every hook handle and restore every patched attribute (LIFO)."""
        while self._handles:
            handle = self._handles.pop()
            try:
                handle.remove()
            except Exception:  # pragma: no cover - defensive
                pass
        for rec in list(self._params.values()):
            if rec.handle is not None:
                try:
                    rec.handle.remove()
                except Exception:  # pragma: no cover - defensive
                    pass
                rec.handle = None
        while self._patches:
            owner, name, original = self._patches.pop()
            try:
                if original is _MISSING:
                    delattr(owner, name)
                else:
                    setattr(owner, name, original)
            except Exception:  # pragma: no cover - defensive
                pass
        self.installed = False

    # ------------------------------------------------------------------ construction
    def _wrap_init(self, orig):
        mon = self

        @functools.wraps(orig)
        def __init__(opt, *args, **kwargs):
            if mon._init_depth:
                return orig(opt, *args, **kwargs)
            mon._init_depth += 1
            try:
                result = _call_attributing_warnings(orig, opt, *args, **kwargs)
            except (ValueError, TypeError) as exc:
                mon._init_depth -= 1
                mon._guard("optimizer construction", mon._on_construct_error, opt, kwargs, exc)
                raise
            except BaseException:
                mon._init_depth -= 1
                raise
            mon._init_depth -= 1
            mon._guard("optimizer construction", mon._on_construct, opt)
            return result

        return __init__

    def _on_construct_error(self, opt, kwargs, exc):
        loc = _user_location()
        self._site(loc, CONSTRUCT)
        text = str(exc)
        name = type(opt).__name__
        if isinstance(exc, TypeError):
            for key in kwargs:
                if key in KERAS_NAMES and f"'{key}'" in text:
                    self.observe("OPT301", f"`{name}` got the Keras/TF argument `{key}`: "
                                 f"{KERAS_NAMES[key]} (TypeError at construction)", loc)
            return
        if "Nesterov momentum requires" in text:
            self.observe("OPT303", f"`{name}(nesterov=True)` needs a non-zero momentum and zero dampening "
                         "(ValueError at construction)", loc)
        elif "more than one parameter group" in text:
            self.observe("OPT402", f"the same parameters are listed in two parameter groups of `{name}` "
                         "(ValueError at construction)", loc)
        elif "empty parameter list" in text:
            self.observe("OPT304", f"`{name}` was built from an empty parameter list: was a "
                         "`.parameters()` generator already consumed? (ValueError at construction)", loc)

    def _on_construct(self, opt):
        loc = _user_location()
        self._site(loc, CONSTRUCT)
        orec = self._register_optimizer(opt, loc, constructed=True)
        name = type(opt).__name__
        defaults = getattr(opt, "defaults", {}) or {}
        total = 0
        for index, group in enumerate(opt.param_groups):
            total += len(group.get("params", ()))
            for key in group:
                if key in defaults or key in ("params", "param_names") or key in CONVENTIONAL_KEYS:
                    continue
                if key in KERAS_NAMES:
                    self._once(orec, "OPT301", f"parameter group {index} of `{name}` has the Keras/TF key "
                               f"`{key}`, which PyTorch silently ignores: {KERAS_NAMES[key]}", loc)
                    continue
                close = difflib.get_close_matches(key, [str(k) for k in defaults], n=1, cutoff=0.8)
                if close:
                    self._once(orec, "OPT403", f"parameter group {index} of `{name}` has the unknown key "
                               f"`{key}` (did you mean `{close[0]}`?), which PyTorch silently ignores", loc)
        if total == 0:
            self._once(orec, "OPT304", f"`{name}` was built with zero parameters: was a `.parameters()` "
                       "generator already consumed?", loc)
        adam_family = tuple(getattr(torch.optim, n) for n in ("Adam", "NAdam", "RAdam") if hasattr(torch.optim, n))
        adamw = getattr(torch.optim, "AdamW", None)
        if isinstance(opt, adam_family) and not (adamw is not None and isinstance(opt, adamw)):
            for group in opt.param_groups:
                wd = group.get("weight_decay", 0)
                if isinstance(wd, (int, float)) and not isinstance(wd, bool) and wd > 0 \
                        and not group.get("decoupled_weight_decay", False):
                    self._once(orec, "OPT302", f"`{name}` was built with weight_decay={wd} as coupled L2: "
                               "use `AdamW` (decoupled decay), or add `# noqa: OPT302` where L2 is intended", loc)
                    break

    def _register_optimizer(self, opt, loc, constructed):
        key = id(opt)
        orec = self._opts.get(key)
        if orec is not None and orec.ref() is opt:
            return orec
        orec = OptRec(opt, loc, constructed)
        orec.bw_at_last_step = self.bw_count
        self._opts[key] = orec
        self._all_opts.append(orec)
        weakref.finalize(opt, self._opts.pop, key, None)
        for group in opt.param_groups:
            self._register_params(opt, group.get("params", ()), orec)
        return orec

    def _register_params(self, opt, params, orec=None):
        if orec is None:
            orec = self._opts.get(id(opt))
        if isinstance(params, torch.Tensor):
            params = [params]
        for p in params:
            if isinstance(p, torch.Tensor):
                rec = self._param_rec(p)
                if rec is not None and orec is not None and orec not in rec.owners:
                    rec.owners.append(orec)

    def _param_rec(self, p):
        key = id(p)
        rec = self._params.get(key)
        if rec is not None:
            return rec
        if not p.requires_grad or not p.is_leaf:
            return None
        rec = ParamRec()
        try:
            rec.handle = p.register_post_accumulate_grad_hook(functools.partial(self._accumulate_hook, rec))
        except RuntimeError:
            return None
        rec.pref = weakref.ref(p, functools.partial(_drop, self._params, key))
        self._params[key] = rec
        return rec

    # ------------------------------------------------------------------ gradients
    def _accumulate_hook(self, rec, p):
        try:
            self._on_accumulate(rec, p)
        except Exception as exc:
            self._internal_error("post-accumulate-grad hook", exc)

    def _on_accumulate(self, rec, p):
        """Classify this accumulation as added-to (ACCUM), after a clear, or unknown."""
        g = p.grad
        if g is None:
            return
        bw = self.current_bw
        previous = rec.g_ref() if rec.g_ref is not None else None
        if previous is g:
            if g._version == rec.g_ver + 1:
                kind = ACCUM
            elif self._zeroed_since(rec):
                kind = CLEARED
            else:
                kind = UNKNOWN
        else:
            rec.g_ref = weakref.ref(g)
            # A new gradient object: the old one was dropped (set to None) -- unless autograd
            # accumulated out of place, which it does under create_graph and for sparse grads.
            kind = UNKNOWN if (bw is not None and bw.create_graph) or g.is_sparse else CLEARED
        if kind == ACCUM:
            if rec.n >= 0:
                rec.n += 1
        elif kind == CLEARED:
            # A wiped backward counts only when it is the same training backward (same line,
            # same weights, no step of any optimizer since): an adversarial attack's or a
            # saliency map's backward cleared before the training backward is not OPT106.
            last = rec.last_bw
            if rec.acc_since_step and p._version == rec.p_ver and self.step_count == rec.step_at_acc \
                    and last is not None and bw is not None and last.loc == bw.loc:
                rec.wiped += 1
            rec.n = 1
            rec.pre_step = 0
        else:
            rec.n = -1
            rec.pre_step = -1
        rec.g_ver = g._version
        rec.acc_since_step += 1
        rec.acc_total += 1
        rec.p_ver = p._version
        rec.step_at_acc = self.step_count
        rec.last_bw = bw
        self.tick += 1
        rec.last_acc_tick = self.tick
        owners = rec.owners
        if owners and bw is not None:
            orec = owners[0]
            if orec.last_bw_index != bw.index:
                orec.last_bw_index = bw.index
                orec.backwards += 1
                orec.last_bw = bw

    def _zeroed_since(self, rec):
        if rec.zero_tick > rec.last_acc_tick:
            return True
        for orec in rec.owners:
            if orec.zero_tick > rec.last_acc_tick:
                return True
        return False

    def _on_opt_zero_grad(self, opt):
        self.tick += 1
        loc = _user_location()
        self._site(loc, EventKind.ZERO_GRAD)
        orec = self._opts.get(id(opt))
        if orec is not None:
            orec.zero_tick = self.tick
            orec.zero_loc = loc

    def _on_module_zero_grad(self, module):
        self.tick += 1
        loc = _user_location()
        self._site(loc, EventKind.ZERO_GRAD)
        params = self._params
        for p in module.parameters():
            rec = params.get(id(p))
            if rec is not None:
                rec.zero_tick = self.tick
                for orec in rec.owners:
                    orec.zero_loc = loc

    def _before_backward(self, tensors, create_graph):
        self.bw_count += 1
        loc = _user_location()
        self._site(loc, EventKind.BACKWARD)
        scaled = False
        if isinstance(tensors, torch.Tensor) and self._scaled:
            scaled = any(r() is tensors for r in self._scaled)
        info = BackwardInfo(self.bw_count, loc, scaled, create_graph is True or create_graph == 1)
        if self._fw_eval and not self._fw_train:
            info.in_eval = True
            last = self._last_eval
            if last is not None:
                module = last[1]()
                if module is not None and not module.training:
                    info.eval_loc = last[0]
        self._fw_eval.clear()
        self._fw_train = False
        return info

    # ------------------------------------------------------------------ modules
    def _forward_pre_hook(self, module, args):
        try:
            key = id(module)
            if key not in self._modules:
                self._modules[key] = weakref.ref(module, functools.partial(_drop, self._modules, key))
                for p in module._parameters.values():
                    if p is not None and p.requires_grad:
                        self._param_rec(p)
            if not torch.is_grad_enabled():
                return None
            for p in module._parameters.values():
                if p is not None and p.requires_grad:
                    break
            else:
                return None
            if module.training:
                self._fw_train = True
            elif key not in self._fw_eval and len(self._fw_eval) < 64:
                self._fw_eval[key] = self._modules[key]
        except Exception as exc:
            self._internal_error("forward pre-hook", exc)
        return None

    def _on_train(self, module, mode):
        loc = _user_location()
        if mode:
            self._site(loc, EventKind.TRAIN_MODE)
        else:
            self._site(loc, EventKind.EVAL_MODE)
            self._last_eval = (loc, weakref.ref(module))

    # ------------------------------------------------------------------ steps
    def _step_pre_hook(self, opt, args, kwargs):
        try:
            self._on_step_pre(opt, args, kwargs)
        except Exception as exc:
            self._internal_error("optimizer step pre-hook", exc)
        return None

    def _step_post_hook(self, opt, args, kwargs):
        try:
            self._on_step_post(opt)
        except Exception as exc:
            self._internal_error("optimizer step post-hook", exc)

    def _on_step_pre(self, opt, args, kwargs):
        orec = self._opts.get(id(opt))
        if orec is None:
            orec = self._register_optimizer(opt, None, constructed=False)
        loc = _user_location()
        self._site(loc, EventKind.STEP)
        closure = args[1] if len(args) > 1 else kwargs.get("closure")
        if closure is not None:
            return  # the closure runs its own zero_grad/backward inside the step
        params = self._params
        touched = 0
        all_none = True
        unchanged = True   # every gradient is None or exactly what the last step left
        pre_all = True
        wiped_all = True
        zeroed_all = True
        last_bw = None
        for group in opt.param_groups:
            for p in group["params"]:
                rec = params.get(id(p))
                g = p.grad
                if rec is None:
                    if g is not None:
                        all_none = False
                        unchanged = False
                    if p.requires_grad:
                        self._register_params(opt, (p,), orec)
                    continue
                if g is not None:
                    all_none = False
                    if rec.snap_ref is None or rec.snap_ref() is not g or g._version != rec.snap_ver:
                        unchanged = False
                if rec.acc_since_step:
                    touched += 1
                    if pre_all and rec.pre_step != 1:
                        pre_all = False
                    if wiped_all and not (rec.n == 1 and rec.wiped):
                        wiped_all = False
                    if zeroed_all and not (g is not None and self._zeroed_since(rec)):
                        zeroed_all = False
                    if rec.last_bw is not None and (last_bw is None or rec.last_bw.index > last_bw.index):
                        last_bw = rec.last_bw
        if touched == 0:
            no_backward = self.bw_count == orec.bw_at_last_step
            first = orec.steps == 0 and orec.constructed and all_none
            stale = orec.steps > 0 and not all_none and unchanged
            if no_backward and (first or stale):
                self._once(orec, "OPT103", f"`{orec.cls}.step()` ran with no backward since the previous "
                           "step (or since the optimizer was built): it updates with stale or no gradients", loc)
            return
        if all_none or zeroed_all:
            if ("OPT103", self.nodeid) in orec.reported:
                return  # step-before-backward shows as cleared gradients from the 2nd step on
            where = orec.zero_loc or loc
            self._once(orec, "OPT102", f"`{orec.cls}.step()` found every gradient cleared although a "
                       f"backward ran since the last step: the clearing call runs between backward and step", where)
            return
        if pre_all and orec.steps:
            where = last_bw.loc if last_bw is not None and last_bw.loc else loc
            if orec.pending101 is None and orec.sentinel_flag is not None:
                orec.pending101 = True
                self._pending.append((orec, orec.sentinel_flag, where, self.nodeid,
                                      f"at `{orec.cls}.step()` the gradients still held contributions from "
                                      "before the previous step: nothing cleared them (add `optimizer.zero_grad()`)"))
        elif wiped_all:
            where = orec.zero_loc or loc
            self._once(orec, "OPT106", f"at `{orec.cls}.step()` the gradients held one backward although "
                       "several ran since the previous step: they were cleared between the backward passes "
                       "of the accumulation window", where)
        if last_bw is not None:
            if last_bw.scaled and self._in_scaler_step is not opt and orec.unscaled_bw < last_bw.index:
                self._once(orec, "OPT501", f"`{orec.cls}.step()` was called directly after a backward through "
                           "`scaler.scale(loss)`: it steps on scaled, never unscaled gradients "
                           "(use `scaler.step(optimizer)`)", loc)
            if last_bw.in_eval:
                where = last_bw.eval_loc or last_bw.loc or loc
                self._once(orec, "OPT603", "the backward before this step ran through modules in eval mode "
                           "that have trainable parameters: restore `model.train()` before training", where)

    def _on_step_post(self, opt):
        orec = self._opts.get(id(opt))
        if orec is None:
            return
        self.tick += 1
        orec.steps += 1
        self.step_count += 1
        orec.bw_at_last_step = self.bw_count
        if orec.iter_id != self.iter_id:
            orec.iter_id = self.iter_id
            orec.spi = 0
            if self.iter_id:
                orec.epochs += 1
        orec.spi += 1
        if orec.spi > orec.max_spi:
            orec.max_spi = orec.spi
        params = self._params
        smallest = None
        for group in opt.param_groups:
            for p in group["params"]:
                rec = params.get(id(p))
                if rec is None:
                    continue
                g = p.grad
                if g is None:
                    rec.snap_ref = None
                    rec.pre_step = 0
                else:
                    if orec.sentinel is None and (smallest is None or p.numel() < smallest.numel()):
                        smallest = p
                    ref = rec.g_ref
                    if ref is None or ref() is not g:
                        ref = rec.g_ref = weakref.ref(g)
                    rec.snap_ref = ref
                    rec.g_ver = rec.snap_ver = g._version
                    rec.pre_step = 1
                rec.acc_since_step = 0
                rec.wiped = 0
        if orec.sentinel is None and smallest is not None:
            orec.sentinel = weakref.ref(smallest)
            orec.sentinel_handle = smallest.register_hook(functools.partial(self._sentinel_hook, orec))
            self._handles.append(orec.sentinel_handle)
        orec.sentinel_armed = True
        orec.sentinel_flag = None

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
            self._internal_error("sentinel hook", exc)
        return None

    # ------------------------------------------------------------------ schedulers
    def _wrap_sched_step(self, orig):
        mon = self

        @functools.wraps(orig)
        def step(sched, *args, **kwargs):
            if mon._sched_depth:
                return orig(sched, *args, **kwargs)
            mon._guard("scheduler step", mon._before_sched_step, sched)
            mon._sched_depth += 1
            try:
                return _call_attributing_warnings(orig, sched, *args, **kwargs)
            finally:
                mon._sched_depth -= 1

        return step

    def _before_sched_step(self, sched):
        opt = getattr(sched, "optimizer", None)
        orec = self._opts.get(id(opt)) if opt is not None else None
        key = id(sched)
        srec = self._scheds.get(key)
        if srec is None or srec.ref() is not sched:
            srec = SchedRec(sched, orec)
            self._scheds[key] = srec
            self._all_scheds.append(srec)
            weakref.finalize(sched, _drop, self._scheds, key)
        if getattr(sched, "_step_count", None) == 0:
            return  # the scheduler's own initial step, inside its constructor
        loc = _user_location()
        self._site(loc, EventKind.SCHED_STEP)
        srec.steps += 1
        if srec.steps == 1:
            srec.first_loc = loc
            if orec is not None and orec.constructed and orec.steps == 0 and orec.scaler_skipped == 0 \
                    and srec.cls != "ReduceLROnPlateau":
                self._once(orec, "OPT201", f"the first `{srec.cls}.step()` ran before the first "
                           f"`{orec.cls}.step()`: the schedule's first value is skipped", loc)

    # ------------------------------------------------------------------ GradScaler
    def _on_scale(self, scaler, out):
        if not scaler.is_enabled():
            return
        self._site(_user_location(), EventKind.SCALE)
        if isinstance(out, torch.Tensor):
            self._scaled.append(weakref.ref(out))
            del self._scaled[:-4]

    def _on_unscale(self, scaler, optimizer):
        if self._in_scaler_step is None:
            self._site(_user_location(), EventKind.UNSCALE)
        orec = self._opts.get(id(optimizer))
        if orec is not None:
            orec.unscaled_bw = self.bw_count

    def _before_scaler_step(self, scaler, optimizer):
        loc = _user_location()
        self._site(loc, EventKind.SCALER_STEP)
        orec = self._opts.get(id(optimizer))
        if orec is None:
            orec = self._register_optimizer(optimizer, None, constructed=False)
        stepped = self._scalers.setdefault(id(scaler), set())
        if scaler.is_enabled() and id(optimizer) in stepped:
            self._once(orec, "OPT502", f"`scaler.step({orec.cls})` ran twice without `scaler.update()` in "
                       "between (RuntimeError in PyTorch)", loc)
        return orec.steps

    def _after_scaler_step(self, scaler, optimizer, steps_before):
        orec = self._opts.get(id(optimizer))
        if orec is None or steps_before is None:
            return
        orec.scaler_calls += 1
        if scaler.is_enabled():
            self._scalers.setdefault(id(scaler), set()).add(id(optimizer))
            if orec.steps == steps_before:
                orec.scaler_skipped += 1

    def _on_scaler_update(self, scaler):
        self._site(_user_location(), EventKind.SCALER_UPDATE)
        stepped = self._scalers.get(id(scaler))
        if stepped:
            stepped.clear()

    # ------------------------------------------------------------------ clipping
    def _on_clip(self, parameters):
        loc = _user_location()
        self._site(loc, EventKind.CLIP)
        params = [parameters] if isinstance(parameters, torch.Tensor) else parameters
        stale = None  # OPT105: no backward since the owner's last step, gradients untouched
        for p in params:
            rec = self._params.get(id(p)) if isinstance(p, torch.Tensor) else None
            if rec is None or not rec.owners:
                continue
            if stale is None:
                orec = rec.owners[0]
                g = p.grad
                untouched = g is None or (rec.snap_ref is not None and rec.snap_ref() is g
                                          and g._version == rec.snap_ver)
                stale = (orec.steps > 0 or orec.constructed) and not rec.acc_since_step \
                    and self.bw_count == orec.bw_at_last_step and untouched
                if stale:
                    self._once(orec, "OPT105", "gradient clipping ran with no backward since the last "
                               f"`{orec.cls}.step()`: it clips stale (or no) gradients; clip between the "
                               "backward and the step", loc)
                    return
            if not rec.acc_since_step or rec.last_bw is None:
                continue
            if rec.last_bw.scaled and rec.owners and \
                    all(o.unscaled_bw < rec.last_bw.index for o in rec.owners):
                self._once(rec.owners[0], "OPT503", "gradients were clipped while still scaled by GradScaler: "
                           "call `scaler.unscale_(optimizer)` before clipping", loc)
            return

    # ------------------------------------------------------------------ end of run
    def finalize(self) -> RuntimeReport:
        self._guard("finalize: gradients", self._finalize_pending)
        self._guard("finalize: never stepped", self._finalize_never_stepped)
        self._guard("finalize: schedulers", self._finalize_schedulers)
        self._guard("finalize: parameters", self._finalize_missing_params)
        return self.report

    def flush(self) -> None:
        """Confirm OPT101 candidates whose sentinel gradient was not silently zeroed: one host
        read per candidate, done at the end of the run (or of a test), never during a step."""
        self._guard("flush", self._finalize_pending)
        self._guard("flush: parameters", self._finalize_missing_params)

    def _finalize_pending(self):
        saved = self.nodeid
        pending, self._pending = self._pending, []
        try:
            for orec, flag, where, nodeid, message in pending:
                if bool(flag):
                    self.nodeid = nodeid
                    self._once(orec, "OPT101", message, where)
        finally:
            self.nodeid = saved

    def _finalize_never_stepped(self):
        """OPT104: an optimizer built during the run whose parameters received several
        backward passes, and which never stepped."""
        for orec in self._all_opts:
            if orec.steps or orec.scaler_calls or not orec.constructed or orec.backwards < 2:
                continue
            last_bw = orec.last_bw
            where = last_bw.loc if last_bw is not None and last_bw.loc else orec.loc
            self._once(orec, "OPT104", f"{orec.backwards} backward passes reached the parameters of "
                       f"`{orec.cls}` but its `step()` never ran", where)

    def _finalize_schedulers(self):
        for srec in self._all_scheds:
            orec = srec.orec
            if orec is None or srec.steps == 0 or srec.first_loc is None:
                continue
            n_opt = orec.steps - srec.opt_steps_at_create
            n_sched = srec.steps
            spe = orec.max_spi if self.iter_id > 0 else 0
            period = srec.period
            # Epochs are DataLoader iterators in which the optimizer stepped; a single endless
            # iterator (itertools.cycle, infinite samplers) gives no epoch length: no verdict.
            if srec.cls in EPOCH_SCHEDULERS:
                if period and n_opt >= 4 and 2 * n_sched >= n_opt and spe >= 2 and orec.epochs >= 2 \
                        and period < 2 * spe:
                    self._once(orec, "OPT202", f"`{srec.cls}` (period {period}) was stepped {n_sched} times "
                               f"for {n_opt} optimizer steps (~{spe} per epoch): an epoch schedule stepped "
                               "per batch runs through its whole schedule within two epochs", srec.first_loc)
            elif srec.cls in BATCH_SCHEDULERS:
                # A schedule longer than one epoch of optimizer steps, stepped once per epoch,
                # cannot have been sized in epochs (one sized in epochs is shorter than that).
                if period and n_opt >= 4 and 2 * n_sched <= n_opt and spe >= 2 and orec.epochs >= 2 \
                        and period > spe:
                    self._once(orec, "OPT203", f"`{srec.cls}` was stepped {n_sched} times for {n_opt} "
                               "optimizer steps: a per-iteration schedule stepped per epoch barely moves",
                               srec.first_loc)

    def _finalize_missing_params(self):
        orphans = {key: rec for key, rec in self._params.items()
                   if rec.acc_total and not rec.owners and rec.pref is not None and rec.pref() is not None}
        if not orphans:
            return
        optimized: dict[int, OptRec] = {}
        for orec in self._opts.values():
            opt = orec.ref()
            if opt is None:
                continue
            for group in opt.param_groups:
                for p in group["params"]:
                    optimized.setdefault(id(p), orec)
        orphans = {k: r for k, r in orphans.items() if k not in optimized and r.pref().requires_grad}
        if not orphans or not optimized:
            return
        modules = [m for m in (r() for r in list(self._modules.values())) if m is not None]
        children = set()
        for m in modules:
            for c in m.modules():
                if c is not m:
                    children.add(id(c))
        roots = [m for m in modules if id(m) not in children]
        names = _namespace_names(self.namespace, roots)
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
            if marker in self._reported401:
                continue
            self._reported401.add(marker)
            prefix = names.get(id(root)) or type(root).__name__
            shown = ", ".join(f"`{prefix}.{n}`" for n in missing[:5])
            more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            self.observe("OPT401", f"{shown}{more} require grad and received gradients but belong to no "
                         "optimizer's parameter groups: they are never updated", owner.loc)


EPOCH_SCHEDULERS = frozenset({"StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "PolynomialLR",
                              "CosineAnnealingWarmRestarts", "ReduceLROnPlateau"})
BATCH_SCHEDULERS = frozenset({"OneCycleLR", "CyclicLR"})


def _period(sched) -> int | None:
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


def _namespace_names(namespace, roots) -> dict[int, str]:
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


def _drop(table, key, _ref=None):
    table.pop(key, None)


def _subclasses(cls, include_self=True):
    seen = []
    stack = [cls]
    while stack:
        c = stack.pop()
        if c in seen:
            continue
        seen.append(c)
        try:
            stack.extend(type.__subclasses__(c))
        except TypeError:  # pragma: no cover
            pass
    return seen if include_self else seen[1:]


@contextmanager
def watch(namespace: dict | None = None):
    """Watch torch.optim inside a ``with`` block; yields the report (``.findings`` fills in).

    ``namespace`` (default: the caller's globals) is where modules' user names are looked up.
    """
    if namespace is None:
        try:
            namespace = sys._getframe(2).f_globals
        except ValueError:  # pragma: no cover
            namespace = None
    monitor = Monitor(namespace=namespace)
    monitor.install()
    try:
        yield monitor.report
    finally:
        monitor.uninstall()
        monitor.finalize()
