"""An Accelerator or Fabric the unit does not build itself (held-out set 6, group L): a ``fabric``
built in ``setup()`` and handed down ``main(fabric, ...)`` -> ``train(fabric, ...)``; an
``accelerator = (Accelerator(log_with=...) if tracking else Accelerator())`` chosen between two
constructions; ``self.accelerator`` of a step runner handed it by a trainer of another package.
Before, ``fabric.backward(loss)`` / ``self.accelerator.backward(loss)`` were opaque calls that
might do anything, and every order rule stayed silent on those loops."""

from __future__ import annotations

import pytest

from tests.test_rules_heldout import lint_project

FABRIC = """\
import lightning as L
import torch


def setup(devices):
    fabric = L.Fabric(devices=devices, precision="bf16-mixed")
    main(fabric, devices)


def main(fabric, devices):
    model = fabric.setup(torch.nn.Linear(8, 8))
    optimizer = fabric.setup_optimizers(torch.optim.AdamW(model.parameters(), lr=1e-4))
    state = {"model": model, "optimizer": optimizer, "iter_num": 0}
    train(fabric, state, fabric.setup_dataloaders(make_loader()))


def train(fabric, state, loader):
    model = state["model"]
    optimizer = state["optimizer"]
    for batch in loader:
        is_accumulating = (state["iter_num"] + 1) % 4 != 0
        with fabric.no_backward_sync(model, enabled=is_accumulating):
            loss = model(batch).pow(2).mean()
            fabric.backward(loss / 4)
        if not is_accumulating:
            fabric.clip_gradients(model, optimizer, max_norm=1.0)
            optimizer.step()
            optimizer.zero_grad()
        state["iter_num"] += 1
"""

EITHER = """\
import torch
from accelerate import Accelerator


def main(args, model, loader):
    accelerator = (
        Accelerator(log_with=args.report_to, project_dir=args.output_dir) if args.with_tracking else Accelerator()
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    for epoch in range(args.epochs):
        model.train()
        for step, batch in enumerate(loader):
            loss = model(**batch).loss / args.accumulation
            accelerator.backward(loss)
            if step % args.accumulation == 0 or step == len(loader) - 1:
                optimizer.step()
                optimizer.zero_grad()
"""

RUNNER = """\
from torchkeras import KerasModel


class StepRunner:
    def __init__(self, net, loss_fn, accelerator=None, stage="train", optimizer=None, lr_scheduler=None):
        self.net, self.loss_fn, self.stage = net, loss_fn, stage
        self.optimizer, self.lr_scheduler = optimizer, lr_scheduler
        self.accelerator = accelerator

    def __call__(self, batch):
        with self.accelerator.autocast():
            loss = self.loss_fn(self.net(batch), batch["label"])
        if self.stage == "train" and self.optimizer is not None:
            self.accelerator.backward(loss)
            if self.accelerator.sync_gradients:
                self.accelerator.clip_grad_norm_(self.net.parameters(), 1.0)
            self.optimizer.step()
            if self.lr_scheduler is not None:
                self.lr_scheduler.step()
            self.optimizer.zero_grad()
        return self.accelerator.gather(loss).sum().item()


KerasModel.StepRunner = StepRunner
"""


def lint(tmp_path, src: str, select: str = "OPT1") -> list:
    return lint_project(tmp_path, {"train.py": src}, select=select)


@pytest.mark.parametrize("src", [FABRIC, EITHER, RUNNER], ids=["fabric-handed-down", "either-arm", "runner-attribute"])
def test_the_correct_loops_are_silent(tmp_path, src):
    assert lint(tmp_path, src, select="ALL") == []


BAD = [
    ("fabric-clear-deleted", FABRIC, "            optimizer.zero_grad()\n", "", [("OPT101", 24)]),
    ("fabric-step-deleted", FABRIC, "            optimizer.step()\n", "", [("OPT104", 24)]),
    ("fabric-clear-per-micro-batch", FABRIC, "        is_accumulating = (",
     "        optimizer.zero_grad()\n        is_accumulating = (", [("OPT106", 21)]),
    ("either-clear-deleted", EITHER, "                optimizer.zero_grad()\n", "", [("OPT101", 15)]),
    ("either-step-before-backward", EITHER,
     "            accelerator.backward(loss)\n            if step % args.accumulation == 0 or step == len(loader) - 1:\n"
     "                optimizer.step()\n",
     "            optimizer.step()\n            accelerator.backward(loss)\n"
     "            if step % args.accumulation == 0 or step == len(loader) - 1:\n", [("OPT103", 15)]),
    ("runner-step-before-backward", RUNNER,
     "            self.accelerator.backward(loss)\n            if self.accelerator.sync_gradients:\n"
     "                self.accelerator.clip_grad_norm_(self.net.parameters(), 1.0)\n            self.optimizer.step()\n",
     "            self.optimizer.step()\n            self.accelerator.backward(loss)\n"
     "            if self.accelerator.sync_gradients:\n"
     "                self.accelerator.clip_grad_norm_(self.net.parameters(), 1.0)\n", [("OPT103", 14)]),
    ("runner-clip-after-step", RUNNER,
     "            if self.accelerator.sync_gradients:\n                self.accelerator.clip_grad_norm_(self.net.parameters(), 1.0)\n            self.optimizer.step()\n",
     "            self.optimizer.step()\n            if self.accelerator.sync_gradients:\n                self.accelerator.clip_grad_norm_(self.net.parameters(), 1.0)\n",
     [("OPT105", 17)]),
]


@pytest.mark.parametrize(("src", "old", "new", "expected"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_mistakes_around_an_accelerator_built_elsewhere_are_reported(tmp_path, src, old, new, expected):
    assert old in src
    assert lint(tmp_path, src.replace(old, new, 1)) == expected


def test_two_arms_with_different_windows_leave_the_accelerator_unknown(tmp_path):
    # one arm divides the loss by its own accumulation window: which one runs is not known here,
    # so the backward stays opaque (nothing is said of the loop)
    src = EITHER.replace("else Accelerator()", "else Accelerator(gradient_accumulation_steps=8)").replace(
        "                optimizer.zero_grad()\n", "")
    assert "gradient_accumulation_steps=8" in src
    assert lint(tmp_path, src) == []


def test_a_receiver_named_otherwise_stays_opaque(tmp_path):
    # ``self.engine.backward(loss)`` (a DeepSpeed engine, or anything) is not an accelerator by name
    src = RUNNER.replace("self.accelerator.backward(loss)", "self.engine.backward(loss)").replace(
        "            self.optimizer.zero_grad()\n", "")
    assert lint(tmp_path, src) == []
