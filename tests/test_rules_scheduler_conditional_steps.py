"""OPT201 when the optimizer's step later in the pass is conditional: under an accumulation
window (``if (i + 1) % accum == 0:``) or a setting the loop never changes (``if accum is None:
... elif window: ...``, ``if not use_deepspeed:``). On the first pass the scheduler steps before
any optimizer step whichever way those tests go, so the schedule's first learning rate is lost.
A step under a test the loop itself changes stays silent while the scheduler is under a test of
its own (on a pass where only the step's test holds, the step may come first); a scheduler under
no test the step is not under runs first on every pass that steps, whatever the step's own test
(``if not skip_step: scaler.step(opt)``), so the first scheduler step still leads. The scheduler
after the step stays silent."""

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


EPOCHS = """\
import torch


def train(cfg, model, dataset, optimizer, scheduler, epochs):
    dset = dataset["train"]
    for epoch in range(epochs):
        if cfg["SCHEDULER"]["FREQUENCY"] == "epoch":
            scheduler.step()
        model.train()
        for t, (x, y) in enumerate(dset):
            optimizer.zero_grad()
            torch.nn.functional.mse_loss(model(x), y).backward()
            optimizer.step()
"""


def test_opt201_at_the_head_of_the_epoch_before_a_batch_loop_named_anything():
    # the epoch's batch loop is the one that backpropagates, whatever its iterable is called
    assert codes_at(EPOCHS, ["OPT201"]) == [("OPT201", 8)]


def test_opt201_silent_when_the_epoch_scheduler_follows_its_batch_loop():
    src = EPOCHS.replace('        if cfg["SCHEDULER"]["FREQUENCY"] == "epoch":\n            scheduler.step()\n', "")
    src += '        if cfg["SCHEDULER"]["FREQUENCY"] == "epoch":\n            scheduler.step()\n'
    assert codes_at(src, ["OPT201"]) == []


def test_opt201_silent_when_the_inner_loop_only_evaluates():
    src = EPOCHS.replace("            optimizer.zero_grad()\n", "").replace(
        "            torch.nn.functional.mse_loss(model(x), y).backward()\n            optimizer.step()\n",
        "            print(torch.nn.functional.mse_loss(model(x), y).item())\n")
    assert codes_at(src, ["OPT201"]) == []


GUARDED = """\
import torch


def train(model, loader, optimizer, lr_scheduler, scaler, accum):
    for i, (x, y) in enumerate(loader):
        loss = torch.nn.functional.mse_loss(model(x), y)
        scaler.scale(loss / accum).backward()
        skip_step = not torch.isfinite(loss)
        update = (i + 1) % accum == 0
        if update:
{first}            if not skip_step:
                scaler.step(optimizer)
                scaler.update()
{last}            optimizer.zero_grad(set_to_none=True)
"""

SCHED_IN_UPDATE = "            lr_scheduler.step()\n"


def test_opt201_before_a_step_its_own_guard_may_skip():
    """LVSM's shape: under the update window, ``lr_scheduler.step()`` and then a step that a
    non-finite loss skips: every pass that steps ran the scheduler first."""
    assert codes_at(GUARDED.format(first=SCHED_IN_UPDATE, last=""), ["OPT201"]) == [("OPT201", 11)]


def test_opt201_an_unconditional_scheduler_before_a_finite_guarded_step():
    src = GUARDED.format(first="", last="").replace("        if update:\n", "        lr_scheduler.step()\n        if update:\n")
    assert codes_at(src, ["OPT201"]) == [("OPT201", 10)]


@pytest.mark.parametrize("first, last", [
    ("", SCHED_IN_UPDATE),  # after the guarded step
    ("            if i % 100 == 0:\n    " + SCHED_IN_UPDATE, ""),  # under a test of its own the step is not under
], ids=["after", "own-test"])
def test_opt201_silent_after_the_guarded_step_or_under_a_test_of_its_own(first, last):
    assert codes_at(GUARDED.format(first=first, last=last), ["OPT201"]) == []


TWO_OPTIMIZERS = """\
import torch
from torch.optim.lr_scheduler import LambdaLR


def build_scheduler(optimizer, steps_per_epoch, cfg):
    sched = LambdaLR(optimizer, lambda step: min(1.0, step / (cfg["warmup"] * steps_per_epoch)))
    return sched, "warm-up of " + str(cfg["warmup"]) + " epochs"


def main(gen, disc, loader, cfg):
    optimizer = torch.optim.AdamW(gen.parameters(), lr=1e-4)
    disc_optimizer = torch.optim.AdamW(disc.parameters(), lr=1e-4)
    scheduler, msg = build_scheduler({handed}, len(loader), cfg)
    for epoch in range(cfg["epochs"]):
        for x in loader:
            optimizer.zero_grad()
            gen(x).mean().backward()
{first}            optimizer.step()
{last}            disc_optimizer.zero_grad()
            disc(x).mean().backward()
            disc_optimizer.step()
"""

SCHED_STEP = "            scheduler.step()\n"


def test_opt201_a_helper_built_scheduler_knows_the_optimizer_it_was_handed():
    """``scheduler, msg = build_scheduler(optimizer, ...)`` with a discriminator's optimizer
    stepped in the same loop: the scheduler is the generator optimizer's (RAE's stage 1)."""
    src = TWO_OPTIMIZERS.format(handed="optimizer", first=SCHED_STEP, last="")
    assert codes_at(src, ["OPT201"]) == [("OPT201", 18)]


@pytest.mark.parametrize("handed, first, last", [
    ("optimizer", "", SCHED_STEP),  # after its optimizer's step
    ("[optimizer, disc_optimizer]", SCHED_STEP, ""),  # handed both: whose is unknown
], ids=["after", "handed-both"])
def test_opt201_silent_for_a_helper_built_scheduler_after_its_step_or_of_either(handed, first, last):
    assert codes_at(TWO_OPTIMIZERS.format(handed=handed, first=first, last=last), ["OPT201"]) == []
