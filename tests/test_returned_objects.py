"""Objects a project helper hands back (issue 13, swap-scheduler-optimizer misses): a scheduler
built in ``setup()`` of a sibling module (or of the same file) and unpacked with the model and
the optimizer is a scheduler to the order rule. Runs the real CLI on a small project."""

from __future__ import annotations


import pytest

from tests.conftest import cli_codes

SETUP = '''\
import torch
from torch import nn
from torch.optim.lr_scheduler import StepLR


def build(width{extra_params}):
    model = nn.Linear(width, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    {scheduler_line}
    return model, optimizer, {returned}
'''

TRAIN = '''\
import torch
from torch import nn

{import_line}


def train(loader):
    model, optimizer, scheduler = build(4)
    for x, y in loader:
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        {first}
        {second}
'''

SCHED = "scheduler.step()"
OPT = "optimizer.step()"


def lint(tmp_path, *, same_file=False, scheduler_line="scheduler = StepLR(optimizer, step_size=30)",
         returned="scheduler", first=SCHED, second=OPT, extra_params=""):
    setup = SETUP.format(scheduler_line=scheduler_line, returned=returned, extra_params=extra_params)
    if same_file:
        body = TRAIN.format(import_line="", first=first, second=second)
        (tmp_path / "train.py").write_text(setup + "\n\n" + body)
    else:
        (tmp_path / "setup_utils.py").write_text(setup)
        (tmp_path / "train.py").write_text(TRAIN.format(import_line="from setup_utils import build",
                                                        first=first, second=second))
    return cli_codes(tmp_path, "train.py", "OPT201")


@pytest.mark.parametrize("same_file", [False, True])
def test_scheduler_from_a_helper_stepped_before_the_optimizer(tmp_path, same_file):
    found = lint(tmp_path, same_file=same_file)
    lines = (tmp_path / "train.py").read_text().splitlines()
    assert found == [("OPT201", lines.index("        scheduler.step()") + 1)]


@pytest.mark.parametrize("same_file", [False, True])
def test_scheduler_from_a_helper_stepped_after_the_optimizer_is_silent(tmp_path, same_file):
    assert lint(tmp_path, same_file=same_file, first=OPT, second=SCHED) == []


def test_returned_through_a_name_assigned_twice_is_unknown(tmp_path):
    line = "scheduler = StepLR(optimizer, step_size=30)\n    scheduler = make_other(optimizer)"
    assert lint(tmp_path, scheduler_line=line) == []


def test_a_position_that_is_not_a_scheduler_is_unknown(tmp_path):
    # the helper returns its third argument, whatever the caller gave: nothing to follow
    assert lint(tmp_path, scheduler_line="pass", returned="sched", extra_params=", sched=None") == []
