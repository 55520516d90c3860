"""OPT603: training through modules left in eval mode."""

from __future__ import annotations


def at_step(mon, orec, view, loc) -> None:
    last_bw = view.last_bw
    if last_bw is not None and last_bw.in_eval:
        where = last_bw.eval_loc or last_bw.loc or loc
        mon.once(orec, "OPT603", "the backward before this step ran through modules in eval mode "
                 "that have trainable parameters: restore `model.train()` before training", where)
