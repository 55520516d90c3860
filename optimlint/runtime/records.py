"""What the monitor remembers about each optimizer, scheduler and backward pass.

Small slot classes that outlive the objects they describe (weak references only), so the
end-of-run checks still work when an optimizer was a local of a function that returned.
"""

from __future__ import annotations

import weakref
from operator import itemgetter


class BackwardInfo(tuple):
    """One call of ``torch.autograd.backward`` (``loss.backward()``): ``(index, loc, scaled,
    create_graph)``. A tuple built in C (``BackwardInfo.make((...))``, no Python ``__init__``):
    one is made at every backward, on the hot path."""

    __slots__ = ()

    index = property(itemgetter(0))
    loc = property(itemgetter(1))
    scaled = property(itemgetter(2))
    create_graph = property(itemgetter(3))

    def __new__(cls, index, loc, scaled, create_graph):
        return tuple.__new__(cls, (index, loc, scaled, create_graph))

    #: ``BackwardInfo.make((index, loc, scaled, create_graph))``: the constructor without a Python frame
    make = classmethod(tuple.__new__)


class OptRec:
    """One optimizer: its steps, clearings, scaler calls, epochs and the sentinel flag."""

    __slots__ = ("ref", "cls", "name", "loc", "constructed", "steps", "bw_at_last_step", "zero_tick",
                 "zero_loc", "unscaled_bw", "scaler_calls", "scaler_skipped", "iter_id",
                 "epoch_start", "spi_max", "reported", "sentinel", "sentinel_handle", "sentinel_armed",
                 "sentinel_flag", "pending101", "epochs", "backwards", "last_bw_index", "last_bw",
                 "wiped_steps", "stepped_elsewhere", "nodeid", "shapes", "next_check", "param_ids",
                 "watched_by", "hooked", "suspect", "fast", "armed", "no_arm", "pre_hook", "pre_handle",
                 "monitor", "silenced", "pattern")

    def __init__(self, opt, loc, constructed, name=None):
        self.ref = weakref.ref(opt)
        self.cls = type(opt).__name__
        self.name = name   # the user's variable (``optimizer_d``), read from the construction line
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
        self.epoch_start = 0  # its steps before the current epoch (spi: the steps within it)
        self.spi_max = 0   # the most steps in one finished epoch (max_spi: with the current one)
        self.reported = set()
        # OPT101 is verified on one small "sentinel" parameter (see gradients.py).
        self.sentinel = None
        self.sentinel_handle = None
        self.sentinel_armed = False
        self.sentinel_flag = None
        self.pending101 = None
        self.suspect = False   # its latest step found the gradients still holding the previous step's
        self.epochs = 0    # epochs in which this optimizer stepped
        self.backwards = 0  # backward passes that reached this optimizer's parameters
        self.last_bw_index = -1
        self.last_bw = None
        self.wiped_steps = 0        # steps that saw backward passes cleared away (OPT106)
        self.stepped_elsewhere = False  # another optimizer over the same parameters stepped
        self.nodeid = None          # the test during which it was built
        self.shapes = None          # its parameters' shapes at construction (OPT305)
        self.next_check = 2         # the step at which OPT305/OPT401/OPT601 look next
        self.param_ids = frozenset()
        # after a few steps with the same pattern, one parameter's accumulate hook stands for
        # all (gradients.Gradients.thin): that parameter's record, else None (every one hooked)
        self.watched_by = None
        self.hooked = ()   # while thinned: the records of its parameters that kept their hooks
        self.fast = False  # its current step is settled (hotpath's pre-hook to its post-hook)
        # its own step pre-hook (hotpath.step_hooks) and that hook's handle; *armed*: the hook
        # is off, the post-hook checks the step after the fact (see ``arm``)
        self.pre_hook = None
        self.pre_handle = None
        self.armed = False
        self.no_arm = False  # a closure, or a gradient gone at a step: never armed again
        # while armed, its representative's accumulate hook is off too: ``silenced`` is that
        # record (its hook in ``ParamRec.hook``), and the monitor's ``armed`` tuple lists the
        # optimizer, whose representative the backward wrapper reads after each backward
        self.monitor = None
        self.silenced = None
        # its representative's gradient at the step that put the monitor to sleep, against
        # the snapshot before it (sampling.pattern): what each sampled-out step must show
        self.pattern = None

    def arm(self) -> None:
        """Take the step pre-hook off (after a settled step): nothing but its representative's
        accumulation can make the next step unsettled, and every event that does (an unclean
        accumulation, a clearing after it, a module in eval, new parameters, hooks back on
        every parameter) calls ``disarm`` before the step; what no event shows (no fresh
        backward, the gradient set to None by hand, a closure) the post-hook reads after it.

        The representative's accumulate hook comes off as well: after each backward the
        backward wrapper runs that same hook on the representative if its gradient moved
        (``hotpath.backward_wrapper``), one Python call fewer per backward, with the same
        classification (a backward classifies before it returns, as the hook did)."""
        handle = self.pre_handle
        hooks = handle.hooks_dict_ref() if handle is not None else None
        if hooks is not None and handle.id in hooks:
            del hooks[handle.id]
            self.armed = True
            rec = self.watched_by
            acc = rec.handle if rec is not None else None
            acc_hooks = acc.hooks_dict_ref() if acc is not None else None
            if acc_hooks is not None and acc.id in acc_hooks and self.monitor is not None:
                rec.hook = acc_hooks.pop(acc.id)
                self.silenced = rec
                self.monitor.armed = (*self.monitor.armed, self)

    def disarm(self) -> None:
        """The step pre-hook back on: the next step is judged before it runs (and the
        representative's accumulate hook back on its parameter)."""
        if self.armed:
            self.armed = False
            if self.monitor is not None:
                self.monitor.calm = 0  # a step that may not be settled: the run is not calm
            hooks = self.pre_handle.hooks_dict_ref()
            if hooks is not None:
                hooks[self.pre_handle.id] = self.pre_hook
            rec, self.silenced = self.silenced, None
            if rec is not None:
                self.monitor.armed = tuple(o for o in self.monitor.armed if o is not self)
                acc = rec.handle
                acc_hooks = acc.hooks_dict_ref() if acc is not None else None
                if acc_hooks is not None:
                    acc_hooks[acc.id] = rec.hook

    def count_step(self, mon) -> None:
        """Count a step of this optimizer (and the monitor's), the epoch it opens if any."""
        self.steps += 1
        mon.step_count += 1
        self.bw_at_last_step = mon.bw_count
        if self.iter_id != mon.iter_id:
            self.new_epoch(mon.iter_id)

    def new_epoch(self, iter_id) -> None:
        """Its first step in a new epoch (a new DataLoader iterator or epoch marker) is being counted."""
        if self.steps - 1 - self.epoch_start > self.spi_max:
            self.spi_max = self.steps - 1 - self.epoch_start
        self.iter_id = iter_id
        self.epoch_start = self.steps - 1
        if iter_id:
            self.epochs += 1

    @property
    def spi(self) -> int:
        """Its steps within the current epoch."""
        return self.steps - self.epoch_start

    @property
    def max_spi(self) -> int:
        """The most optimizer steps in one epoch so far (the current epoch's included)."""
        return max(self.spi_max, self.spi)

    @property
    def label(self) -> str:
        """How messages name it: ``optimizer_d`` (its variable), else its class."""
        return self.name or self.cls


class SchedRec:
    """What the end-of-run checks need, kept after the scheduler itself is gone."""

    __slots__ = ("ref", "orec", "cls", "period", "opt_steps_at_create", "steps", "first_loc", "loc",
                 "marker", "epochs", "nodeid", "via_library", "with_epoch_arg")

    def __init__(self, sched, orec, period, loc=None):
        self.ref = weakref.ref(sched)
        self.orec = orec
        self.cls = type(sched).__name__
        self.period = period
        self.opt_steps_at_create = orec.steps if orec is not None else 0
        self.steps = 0
        self.first_loc = None
        self.loc = loc          # its construction
        self.marker = None      # the epoch (epochs.epoch_marker) of its latest step
        self.epochs = 0         # epochs (of the user's epoch loop) in which it stepped
        self.nodeid = None
        self.via_library = False
        self.with_epoch_arg = False  # stepped as step(epoch + i / iters): CAWR's documented use


def drop(table, key, _ref=None):
    """A weakref callback: forget ``table[key]``."""
    table.pop(key, None)
