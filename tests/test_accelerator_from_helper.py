"""An ``Accelerator`` built by a project helper (``accelerator = setup_utils.make_accelerator(cfg)``,
whose body ends in ``return Accelerator(...)``) is an accelerator in the training script too:
``accelerator.backward(loss)`` is the loop's backward, ``accelerator.clip_grad_norm_`` its clip.
Before, the helper's return was read only for names saying optimizer or scheduler, so the
backward was an opaque call that might do anything and every order rule stayed silent (held-out
set 4: the diffusion fine-tuning scripts of one repository, every operator missed). The helper's
arguments are not read in the script, so the accelerator may divide the loss by its own
accumulation steps: an explicit window's undivided loss is not reported there."""

from __future__ import annotations

import pytest

from tests.test_rules_heldout import lint_project

HELPER = """\
from accelerate import Accelerator


def make_accelerator(cfg):
    accelerator = Accelerator(gradient_accumulation_steps=cfg.accumulation, mixed_precision=cfg.precision)
    print("running on", accelerator.device)
    return accelerator
"""

SETUP = """\
import torch

import setup_utils


def fit(cfg, denoiser, loader):
    accelerator = setup_utils.make_accelerator(cfg)
    optimizer = torch.optim.AdamW(denoiser.parameters(), lr=cfg.lr)
    denoiser, optimizer, loader = accelerator.prepare(denoiser, optimizer, loader)
    for epoch in range(cfg.epochs):
"""

TRAIN = SETUP + """\
        for batch in loader:
            with accelerator.accumulate(denoiser):
                loss = denoiser(batch).pow(2).mean()
                accelerator.backward(loss)
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(denoiser.parameters(), cfg.max_norm)
                optimizer.step()
                optimizer.zero_grad()
"""


def lint(tmp_path, train: str, helper: str = HELPER, select: str = "OPT1") -> list:
    return lint_project(tmp_path, {"setup_utils.py": helper, "train.py": train}, select=select)


def test_the_correct_loop_is_silent(tmp_path):
    assert lint(tmp_path, TRAIN, select="ALL") == []


@pytest.mark.parametrize("old, new, expected", [
    # the clearing deleted: every step applies the sum of all backwards so far
    ("                optimizer.zero_grad()\n", "", [("OPT101", 14)]),
    # the step moved before the backward
    ("                accelerator.backward(loss)\n", "", None),
    # the clip moved after the step
    ("                if accelerator.sync_gradients:\n                    accelerator.clip_grad_norm_(denoiser.parameters(), cfg.max_norm)\n"
     "                optimizer.step()\n",
     "                optimizer.step()\n                accelerator.clip_grad_norm_(denoiser.parameters(), cfg.max_norm)\n",
     [("OPT105", 16)]),
])
def test_mistakes_around_a_helper_built_accelerator_are_reported(tmp_path, old, new, expected):
    assert old in TRAIN
    src = TRAIN.replace(old, new)
    if expected is None:  # the backward written after the step
        src = src.replace("                optimizer.zero_grad()\n",
                          "                optimizer.zero_grad()\n                accelerator.backward(loss)\n")
        expected = [("OPT103", 16)]
    assert lint(tmp_path, src) == expected


@pytest.mark.parametrize("helper", [
    # the helper hands back something else (a device), or an accelerator only on one path
    HELPER.replace("    return accelerator\n", "    return accelerator.device\n"),
    HELPER.replace("    return accelerator\n", "    if cfg.cpu:\n        return None\n    return accelerator\n"),
])
def test_a_helper_that_may_not_return_an_accelerator_leaves_the_backward_unknown(tmp_path, helper):
    src = TRAIN.replace("                optimizer.zero_grad()\n", "")
    assert lint(tmp_path, src, helper=helper) == []


WINDOWED = SETUP + """\
        for i, batch in enumerate(loader):
            loss = denoiser(batch).pow(2).mean()
            accelerator.backward(loss)
            if (i + 1) % cfg.accumulation == 0:
                optimizer.step()
                optimizer.zero_grad()
"""


def test_an_explicit_window_is_left_to_the_helper_built_accelerator(tmp_path):
    # ``Accelerator.backward`` divides by the accumulation steps it was built with, and the
    # helper's arguments are not read here: the undivided loss may be right
    assert lint(tmp_path, WINDOWED) == []


def test_an_explicit_window_with_a_plain_backward_still_reports_the_undivided_loss(tmp_path):
    src = WINDOWED.replace("accelerator.backward(loss)", "loss.backward()")
    assert lint(tmp_path, src) == [("OPT107", 13)]
