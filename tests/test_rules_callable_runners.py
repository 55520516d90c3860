"""OPT101 for a callable step runner (issue 13): a class whose ``__call__`` runs one batch's
update (backward, step) without clearing, called on every batch by the loop of another class
that keeps the runner it is handed (``self.steprunner(*batch)``), or by a loop that builds it
(``runner = StepRunner(...)`` then ``runner(x, y)``). The loop is the caller: nothing clears
between the calls, so each step applies the sum of every backward so far."""

from __future__ import annotations

import pytest

from tests.conftest import codes_at

RUNNERS = """\
import torch
from torch import nn


class StepRunner:
    def __init__(self, net, loss_fn, optimizer=None):
        self.net = net
        self.loss_fn = loss_fn
        self.optimizer = optimizer

    def step(self, features, labels):
        loss = self.loss_fn(self.net(features), labels)
        loss.backward()
        self.optimizer.step()
{clear}        return loss.item()

    def __call__(self, features, labels):
        self.net.train()
        return self.step(features, labels)


class EpochRunner:
    def __init__(self, steprunner):
        self.steprunner = steprunner

    def __call__(self, dataloader):
        total = 0.0
        for features, labels in dataloader:
{loop_clear}            total += self.steprunner(features, labels)
        return total


def train_model(net, optimizer, loss_fn, train_data, epochs=10):
    for epoch in range(epochs):
        epoch_runner = EpochRunner({runner})
        epoch_runner(train_data)
"""

INLINE = "StepRunner(net, loss_fn, optimizer=optimizer)"


def test_opt101_the_epoch_runners_loop_calls_a_step_runner_that_never_clears():
    found = codes_at(RUNNERS.format(clear="", loop_clear="", runner=INLINE), ["OPT101"])
    assert found == [("OPT101", 13)]


def test_opt101_the_step_runner_built_under_a_name_first():
    source = RUNNERS.format(clear="", loop_clear="", runner="step_runner").replace(
        "        epoch_runner = EpochRunner(step_runner)\n",
        f"        step_runner = {INLINE}\n        epoch_runner = EpochRunner(step_runner)\n")
    assert codes_at(source, ["OPT101"]) == [("OPT101", 13)]


def test_opt101_a_loop_calling_the_runner_it_built():
    source = RUNNERS.format(clear="", loop_clear="", runner=INLINE) + """

def fit(net, optimizer, loss_fn, loader):
    runner = StepRunner(net, loss_fn, optimizer)
    for features, labels in loader:
        runner(features, labels)
"""
    assert ("OPT101", 13) in codes_at(source, ["OPT101"])


@pytest.mark.parametrize("clear, loop_clear", [
    ("        self.optimizer.zero_grad()\n", ""),  # the runner clears after its step
    ("", "            self.steprunner.optimizer.zero_grad()\n"),  # the loop clears before each call
])
def test_opt101_silent_when_something_clears(clear, loop_clear):
    assert codes_at(RUNNERS.format(clear=clear, loop_clear=loop_clear, runner=INLINE), ["OPT101"]) == []


def test_opt101_silent_when_the_epoch_runner_is_handed_another_class():
    # (the runner the loop calls is not the step runner: its own ``__call__`` may clear)
    source = RUNNERS.format(clear="", loop_clear="", runner="ClearingRunner(net, optimizer)") + """

class ClearingRunner:
    def __init__(self, net, optimizer):
        self.net, self.optimizer = net, optimizer

    def __call__(self, features, labels):
        self.optimizer.zero_grad()
        return 0.0
"""
    assert codes_at(source, ["OPT101"]) == []
