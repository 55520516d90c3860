"""OPT201 when the optimizer's step later in the pass is conditional: under an accumulation
window (``if (i + 1) % accum == 0:``) or a setting the loop never changes (``if accum is None:
... elif window: ...``, ``if not use_deepspeed:``). On the first pass the scheduler steps before
any optimizer step whichever way those tests go, so the schedule's first learning rate is lost.
A step under a test the loop itself changes, or the scheduler after the step, stays silent."""

from __future__ import annotations

import pytest

from tests.conftest import codes_at

LOOP = """\
import torch


def train_one_epoch(cfg, model, loader, optimizer, scheduler, accum):
    for i, (x, y) in enumerate(loader):
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        if cfg.scheduler_name == "OneCycleLR":
            scheduler.step()
        if accum is None:
            optimizer.step()
            optimizer.zero_grad()
        elif (i + 1) % accum == 0:
            optimizer.step()
            optimizer.zero_grad()
"""

SCHED = "        if cfg.scheduler_name == \"OneCycleLR\":\n            scheduler.step()\n"


def test_opt201_before_a_step_chosen_by_a_setting_or_a_window():
    assert codes_at(LOOP, ["OPT201"]) == [("OPT201", 9)]


def test_opt201_an_unconditional_scheduler_before_a_windowed_step():
    src = LOOP.replace(SCHED, "        scheduler.step()\n").replace(
        "        if accum is None:\n            optimizer.step()\n            optimizer.zero_grad()\n        elif",
        "        if")
    assert codes_at(src, ["OPT201"]) == [("OPT201", 8)]


def test_opt201_before_a_step_skipped_under_a_setting():
    src = LOOP.replace(
        "        if accum is None:\n            optimizer.step()\n            optimizer.zero_grad()\n"
        "        elif (i + 1) % accum == 0:\n",
        "        if not cfg.use_deepspeed:\n")
    assert codes_at(src, ["OPT201"]) == [("OPT201", 9)]


@pytest.mark.parametrize("old, new", [
    # the scheduler after the steps (the original order)
    (SCHED, ""),
    # the step under a test the loop changes (a finite-loss guard): not the same arm every pass
    ("        if accum is None:\n", "        finite = torch.isfinite(loss)\n        if finite:\n"),
    # both under the same window, the scheduler after the step
    (SCHED + "        if accum is None:\n            optimizer.step()\n            optimizer.zero_grad()\n"
     "        elif (i + 1) % accum == 0:\n            optimizer.step()\n            optimizer.zero_grad()\n",
     "        if (i + 1) % accum == 0:\n            optimizer.step()\n            optimizer.zero_grad()\n"
     "            scheduler.step()\n"),
])
def test_opt201_silent_when_the_step_comes_first_or_may_run_on_a_pass_the_loop_decides(old, new):
    src = LOOP.replace(old, new)
    if old == SCHED:
        src += SCHED
    assert codes_at(src, ["OPT201"]) == []
