"""A project learning-rate schedule called as an object with the optimizer
(``self.scheduler(self.optimizer, i, epoch)``: pytorch-deeplab-xception's ``LR_Scheduler``,
held-out set 2, issue 13) is read through its class's ``__call__``: one that only writes each
group's rate cannot clear the gradients, so a loop that never clears is still reported; one
whose ``__call__`` clears keeps the loop silent. Runs the real CLI on a small project; written
in the project's own words."""

from __future__ import annotations

import json
import os

import pytest

from tests.conftest import cli_codes, invoke

SCHEDULES = '''\
class PolySchedule:
    def __init__(self, base_lr, total):
        self.base_lr, self.total = base_lr, total

    def __call__(self, optimizer, it):
        lr = self.base_lr * (1 - it / self.total) ** 0.9
        for group in optimizer.param_groups:
            group["lr"] = lr


class ResettingSchedule(PolySchedule):
    def __call__(self, optimizer, it):
        super().__call__(optimizer, it)
        optimizer.zero_grad()
'''

TRAINER = """\
import torch
from torch import nn

from sched_utils import {cls}


class Trainer:
    def __init__(self, loader):
        self.model = nn.Linear(4, 2)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.1)
        self.scheduler = {cls}(0.1, 1000)
        self.loader = loader

    def epoch(self):
        self.model.train()
        for i, (x, y) in enumerate(self.loader):
            self.scheduler(self.optimizer, i)
            loss = nn.functional.mse_loss(self.model(x), y)
            loss.backward()
            self.optimizer.step()
"""


def lint(tmp_path, cls: str) -> list[tuple[str, int]]:
    (tmp_path / "sched_utils.py").write_text(SCHEDULES)
    (tmp_path / "train.py").write_text(TRAINER.format(cls=cls))
    return cli_codes(tmp_path, "train.py", "OPT1")


def test_opt101_a_schedule_object_that_only_sets_rates_does_not_hide_a_missing_clear(tmp_path):
    assert lint(tmp_path, "PolySchedule") == [("OPT101", 19)]


def test_a_schedule_object_whose_call_clears_keeps_the_loop_silent(tmp_path):
    assert lint(tmp_path, "ResettingSchedule") == []


@pytest.mark.parametrize("cls", ["PolySchedule"])
def test_the_loop_with_its_clear_is_silent(tmp_path, cls):
    (tmp_path / "sched_utils.py").write_text(SCHEDULES)
    (tmp_path / "train.py").write_text(TRAINER.format(cls=cls).replace(
        "            loss = nn", "            self.optimizer.zero_grad()\n            loss = nn"))
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        result = invoke(["check", "--no-cache", "--output-format", "json", "train.py"])
    finally:
        os.chdir(cwd)
    assert json.loads(result.stdout) == []
