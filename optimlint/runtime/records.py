"""What the monitor remembers about each optimizer, scheduler and backward pass.

Small slot classes that outlive the objects they describe (weak references only), so the
end-of-run checks still work when an optimizer was a local of a function that returned.
"""

from __future__ import annotations

import weakref


class BackwardInfo:
    """One call of ``torch.autograd.backward`` (``loss.backward()``)."""

    __slots__ = ("index", "loc", "scaled", "create_graph", "eval_loc", "in_eval")

    def __init__(self, index, loc, scaled, create_graph):
        self.index = index
        self.loc = loc
        self.scaled = scaled
        self.create_graph = create_graph
        self.eval_loc = None
        self.in_eval = False


class OptRec:
    """One optimizer: its steps, clearings, scaler calls, epochs and the sentinel flag."""

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
        self.spi = 0       # optimizer steps within the current epoch
        self.max_spi = 0
        self.reported = set()
        # OPT101 is verified on one small "sentinel" parameter (see gradients.py).
        self.sentinel = None
        self.sentinel_handle = None
        self.sentinel_armed = False
        self.sentinel_flag = None
        self.pending101 = None
        self.epochs = 0    # epochs in which this optimizer stepped
        self.backwards = 0  # backward passes that reached this optimizer's parameters
        self.last_bw_index = -1
        self.last_bw = None


class SchedRec:
    """What the end-of-run checks need, kept after the scheduler itself is gone."""

    __slots__ = ("ref", "orec", "cls", "period", "opt_steps_at_create", "steps", "first_loc")

    def __init__(self, sched, orec, period):
        self.ref = weakref.ref(sched)
        self.orec = orec
        self.cls = type(sched).__name__
        self.period = period
        self.opt_steps_at_create = orec.steps if orec is not None else 0
        self.steps = 0
        self.first_loc = None


def drop(table, key, _ref=None):
    """A weakref callback: forget ``table[key]``."""
    table.pop(key, None)
