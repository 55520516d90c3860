"""One epoch helper for training and evaluation, handed stand-ins (``FrozenOptimizer()``,
``ConstantScheduler()``) by its evaluation calls, whose constant ``mode="eval"`` rules out the
branch that steps them: the training calls decide what the helper's parameters hold, so its
scheduler stepped before its optimizer is OPT201 (the evaluation calls' class with a ``step``
method no longer makes the parameter "maybe something else"). Exact (code, row); silent twins
where the order is right, and where a stand-in does reach the step."""

from __future__ import annotations

import libcst as cst
import pytest

from optimlint.analysis.unreached_params import unused_under
from tests.conftest import codes_at

STAND_INS = """\
import torch
from torch.optim.lr_scheduler import LambdaLR


class FrozenOptimizer(torch.optim.Optimizer):
    \"\"\"Evaluation's stand-in: nothing to update.\"\"\"

    def __init__(self):
        self.param_groups = []

    def step(self, closure=None):
        return None

    def zero_grad(self, set_to_none=True):
        return None


class ConstantScheduler:
    def step(self):
        return None


"""

HELPER = """\
def run_epoch(batches, model, loss_compute, optimizer, scheduler, mode="train", accum_iter=1):
    total = 0
    for i, batch in enumerate(batches):
        out = model.forward(batch.src, batch.tgt)
        loss, loss_node = loss_compute(out, batch.tgt_y)
        if mode == "train" or mode == "train+log":
            loss_node.backward()
{order}
        total += loss
    return total


"""

SCHEDULER_FIRST = """\
            scheduler.step()
            if i % accum_iter == 0:
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)"""

SCHEDULER_AFTER = """\
            if i % accum_iter == 0:
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
            scheduler.step()"""

ONE_TRAINING_CALL = """\
def main(model, criterion, train_data, valid_data):
    optimizer = torch.optim.Adam(model.parameters(), lr=0.5)
    lr_scheduler = LambdaLR(optimizer=optimizer, lr_lambda=lambda step: 1.0)
    for epoch in range(20):
        model.train()
        run_epoch(train_data, model, criterion, optimizer, lr_scheduler, mode="train")
        model.eval()
        run_epoch(valid_data, model, criterion, FrozenOptimizer(), ConstantScheduler(), mode="eval")
"""

TWO_TRAINING_SETUPS = """\
def toy_example(model, criterion, data):
    optimizer = torch.optim.Adam(model.parameters(), lr=0.5)
    lr_scheduler = LambdaLR(optimizer=optimizer, lr_lambda=lambda step: 1.0)
    for epoch in range(20):
        run_epoch(data, model, criterion, optimizer, lr_scheduler, mode="train")
        run_epoch(data, model, criterion, FrozenOptimizer(), ConstantScheduler(), mode="eval")


def train_worker(model, criterion, train_data, valid_data, config):
    optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"])
    lr_scheduler = LambdaLR(optimizer=optimizer, lr_lambda=lambda step: 0.5)
    for epoch in range(config["epochs"]):
        run_epoch(train_data, model, criterion, optimizer, lr_scheduler, mode="train+log",
                  accum_iter=config["accum_iter"])
        run_epoch(valid_data, model, criterion, FrozenOptimizer(), ConstantScheduler(), mode="eval")
"""

ROW = len((STAND_INS + HELPER).split("{order}")[0].splitlines()) + 1  # the scheduler step's row


def program(order: str, callers: str) -> str:
    return STAND_INS + HELPER.format(order=order) + callers


@pytest.mark.parametrize("callers", [ONE_TRAINING_CALL, TWO_TRAINING_SETUPS], ids=["one", "two"])
def test_a_scheduler_stepped_before_the_optimizer_in_a_helper_given_stand_ins_for_evaluation(callers):
    assert codes_at(program(SCHEDULER_FIRST, callers), ["OPT201"]) == [("OPT201", ROW)]


# ------------------------------------------------------------------ must not fire
@pytest.mark.parametrize("callers", [ONE_TRAINING_CALL, TWO_TRAINING_SETUPS], ids=["one", "two"])
def test_the_scheduler_after_the_optimizer(callers):
    assert codes_at(program(SCHEDULER_AFTER, callers), ["OPT201"]) == []


def test_a_stand_in_that_reaches_the_step_keeps_the_parameter_unknown():
    """``mode="train"`` with ``ConstantScheduler()``: the stand-in is what the helper steps there,
    a class of the file with its own ``step``: the parameter may hold either."""
    callers = ONE_TRAINING_CALL.replace('ConstantScheduler(), mode="eval"', 'ConstantScheduler(), mode="train"')
    assert codes_at(program(SCHEDULER_FIRST, callers), ["OPT201"]) == []


def test_an_evaluation_call_through_keyword_arguments_rules_nothing_out():
    callers = ONE_TRAINING_CALL.replace('FrozenOptimizer(), ConstantScheduler(), mode="eval")',
                                        'FrozenOptimizer(), ConstantScheduler(), **eval_options)')
    assert codes_at(program(SCHEDULER_FIRST, callers), ["OPT201"]) == []


# ------------------------------------------------------------------ unused_under itself
def _helper_and_call(helper: str, call: str):
    fn = cst.parse_module(helper).body[0]
    return fn, cst.parse_expression(call)


@pytest.mark.parametrize("helper, call, unused", [
    # the use under a test the constant rules out, in a loop
    ("def f(x, sched, mode='train'):\n    for b in x:\n        if mode == 'train':\n            sched.step()\n",
     "f(x, s, mode='eval')", True),
    ("def f(x, sched, mode='train'):\n    for b in x:\n        if mode == 'train':\n            sched.step()\n",
     "f(x, s)", False),  # the default runs it
    # the else arm of a test the constant makes true
    ("def f(sched, train=True):\n    if train:\n        pass\n    else:\n        sched.step()\n", "f(s, True)", True),
    ("def f(sched, train=True):\n    if train:\n        pass\n    else:\n        sched.step()\n", "f(s, flag)", False),
    # a use outside any test, or in the test itself
    ("def f(sched, mode):\n    sched.step()\n    if mode == 'train':\n        pass\n", "f(s, 'eval')", False),
    ("def f(sched, mode):\n    if sched is not None and mode == 'train':\n        sched.step()\n", "f(s, 'eval')", False),
    # a parameter the helper rebinds is no constant
    ("def f(sched, mode):\n    mode = mode.lower()\n    if mode == 'train':\n        sched.step()\n", "f(s, 'eval')", False),
    # in a with block and a try body, under the test
    ("def f(sched, mode):\n    with ctx():\n        try:\n            if mode == 'train':\n                sched.step()\n"
     "        finally:\n            pass\n", "f(s, 'eval')", True),
    # a nested def reads it: as written
    ("def f(sched, mode):\n    def g():\n        sched.step()\n    if mode == 'train':\n        g()\n", "f(s, 'eval')", False),
    # ``*args`` at the call: nothing is known
    ("def f(sched, mode):\n    if mode == 'train':\n        sched.step()\n", "f(*args)", False),
])
def test_a_call_rules_out_the_uses_of_a_parameter(helper, call, unused):
    fn, c = _helper_and_call(helper, call)
    assert unused_under(fn, "sched", c, 0) is unused
