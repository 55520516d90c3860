"""The shared vocabulary of a training iteration: the events every rule speaks about.

Static analysis (``analysis.iteration``) and the runtime companion (``runtime.monitor``)
both describe a training step as an ordered sequence of these events, so joining a
static finding with a runtime observation is a lookup, not a second implementation.

This module is deliberately import-light (stdlib only: no libcst, no torch) and
stable: new kinds may be added, existing ones are never renamed or removed.

Usage::

    from optimlint.analysis.events import EventKind, Event

    kind = EventKind.STEP            # optimizer.step()
    kind.value                       # "step"  (stable string, safe for JSON / reports)
    EventKind("zero_grad")           # EventKind.ZERO_GRAD
    ev = Event(EventKind.BACKWARD, row=12, column=9)
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class EventKind(str, enum.Enum):
    """One kind of thing that happens in a training iteration."""

    BACKWARD = "backward"            # loss.backward(), scaler.scale(l).backward(), accelerator.backward(l)
    ZERO_GRAD = "zero_grad"          # clearing: opt.zero_grad(), module.zero_grad(), p.grad = None
    STEP = "step"                    # opt.step() without a closure
    STEP_CLOSURE = "step_closure"    # opt.step(closure)
    SCHED_STEP = "sched_step"        # scheduler.step(...)
    CLIP = "clip"                    # clip_grad_norm_ / clip_grad_value_
    SCALE = "scale"                  # scaler.scale(loss)
    UNSCALE = "unscale"              # scaler.unscale_(opt)
    SCALER_STEP = "scaler_step"      # scaler.step(opt)
    SCALER_UPDATE = "scaler_update"  # scaler.update()
    TRAIN_MODE = "train_mode"        # model.train() / model.train(True)
    EVAL_MODE = "eval_mode"          # model.eval() / model.train(False)

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.value


#: Events that end an update for an optimizer (a plain step, a closure step, or GradScaler's).
STEP_KINDS = frozenset({EventKind.STEP, EventKind.STEP_CLOSURE, EventKind.SCALER_STEP})


@dataclass(frozen=True)
class Event:
    """A source-located event (1-based row and column, Ruff's convention)."""

    kind: EventKind
    row: int
    column: int = 1
