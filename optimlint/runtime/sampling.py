"""Sampled-out steps: on a long calm run the per-event wrappers come off between observed steps.

Why: on a step of microseconds (a tiny model on CPU) the wrappers of ``zero_grad`` and
``torch.autograd.backward`` and their bookkeeping cost ~8% of the step even when every step is
settled (``hotpath``: armed optimizers). Once a run has been *calm* for ``CALM`` steps (every
optimizer armed: its steps settled, its step pre-hook and its representative's accumulate
hook off; no event of another kind in between), the monitor *sleeps* for ``SLEEP`` steps:
the backward wrapper is taken off, the ``zero_grad`` wrapper returns at once, and only the
step post-hook does any work (counts, epochs, the
representative's snapshot, the periodic looks of OPT305/OPT401/OPT601). The wrappers come
back for the next step, which is observed as before; if it is settled the monitor sleeps
again. One step in ``SLEEP + 1`` is observed.

What a sampled-out step still shows, and what it does not:

- the post-hook compares the representative's gradient with the calm steps' pattern (a new
  gradient object at each step, or the same object moved by the same number of versions): a
  step that departs from it (nothing cleared: OPT101; the gradient gone: OPT102; no backward
  at all: OPT103; a closure) wakes the monitor, and from then on every event is observed
  again for ``CALM`` steps, so a mistake that repeats is judged at its next step;
- any other event that reads the gradient records (a clip, ``GradScaler`` calls,
  ``Module.zero_grad``, eval mode, a new optimizer or parameter group, the end of a test or
  of the run) wakes the monitor before it is handled; the representative's hook is then run
  once on what the unobserved backward left (``wake``), as it would have run late;
- a mistake that changes nothing in that pattern (a clear between two micro-batches'
  backwards, OPT106) is seen at the next observed step, and a mistake that *repeats* is
  therefore confirmed; a one-off mistake that falls entirely within sampled-out steps (a
  single extra step, a single misplaced clear) is not judged, and a clearing or backward line
  that runs only in sampled-out steps is not recorded as reached.
"""

from __future__ import annotations

#: consecutive settled steps with every optimizer armed (and nothing else happening) before
#: the monitor first sleeps; a departure starts the count again
CALM = 64
#: steps taken with the wrappers off between two observed steps
SLEEP = 31


def install(mon, hot) -> None:
    """Remember the hot wrappers: ``(owner, name, wrapper, original)`` each."""
    mon.hot = tuple(hot)


def sleep(mon) -> None:
    """Take the hot wrappers off for the next ``SLEEP`` steps. A module's attribute
    (``torch.autograd.backward``) is put back to the original; a class's (``zero_grad``) is
    left alone and its wrapper returns at once while ``mon.asleep``: assigning a class
    attribute invalidates the interpreter's caches of every lookup on that class and its
    subclasses, which costs more, twice per sleep, than the wrapper's call."""
    for owner, name, _wrapper, original in mon.hot:
        if not isinstance(owner, type):
            setattr(owner, name, original)
    mon.asleep = SLEEP


def wake(mon) -> None:
    """The hot wrappers back on; each armed representative whose gradient moved since its
    last snapshot gets its accumulate hook run now (what an unobserved backward left)."""
    mon.asleep = 0
    # observed again: one settled step of each optimizer before the next sleep
    mon.calm = min(mon.calm, CALM - len(mon.opts))
    for owner, name, wrapper, _original in mon.hot:
        if not isinstance(owner, type):
            setattr(owner, name, wrapper)
    moved = False
    for orec in mon.armed:
        rec = orec.silenced
        if rec is None:
            continue
        p = rec.pref()
        g = p.grad if p is not None else None
        if g is not None:
            r = rec.g_ref
            if r is None or r() is not g or g._version != rec.g_ver:
                if not moved:
                    moved = True
                    mon.bw_count += 1  # at least one backward ran unseen
                rec.hook(p)


def pattern(rec, g) -> int:
    """The representative's gradient ``g`` against its snapshot after the last step: -1 for a
    new object, else how many versions it moved."""
    r = rec.snap_ref
    return -1 if r is None or r() is not g else g._version - rec.snap_ver
