"""A step-runner class that keeps the optimizer it is handed (``self.optimizer = optimizer`` in
``__init__``) and whose step method backpropagates and clears, built by a loop of the same file
that hands it the optimizer (a ``fit`` function's epoch loop, the batch loop in another runner
class): that loop is the method's caller, so a step lost from the method is lost (OPT104), not
left to a caller elsewhere. Silent where the file's loop steps the optimizer after the call,
where the runner is only built without an optimizer, and on the correct runner. In the
project's own words."""

from __future__ import annotations

from tests.conftest import codes_at

# The batch runner lost its step; a pass runner loops over the batches and the training
# function builds both runners once per epoch, handing the optimizer by keyword.
KEYWORD_RUNNER = """\
import torch


class BatchRunner:
    def __init__(self, model, criterion, phase="train", optimizer=None):
        self.model, self.criterion, self.phase = model, criterion, phase
        self.optimizer = optimizer

    def run(self, inputs, targets):
        out = self.model(inputs)
        loss = self.criterion(out, targets)
        if self.optimizer is not None and self.phase == "train":
            self.optimizer.zero_grad()
            loss.backward()
        return loss.item()

    def __call__(self, inputs, targets):
        return self.run(inputs, targets)


class PassRunner:
    def __init__(self, batch_runner):
        self.batch_runner = batch_runner

    def __call__(self, loader):
        seen = 0.0
        for inputs, targets in loader:
            seen += self.batch_runner(inputs, targets)
        return seen


def fit(model, optimizer, criterion, loader, epochs):
    for epoch in range(epochs):
        runner = BatchRunner(model, criterion, phase="train", optimizer=optimizer)
        PassRunner(runner)(loader)
        with torch.no_grad():
            PassRunner(BatchRunner(model, criterion, phase="eval"))(loader)
"""

# Handed by position, kept through a tuple assignment, called straight from the loop.
POSITIONAL_RUNNER = """\
import torch


class Trainer:
    def __init__(self, net, loss_fn, opt):
        self.net, self.loss_fn, self.opt = net, loss_fn, opt

    def train_batch(self, x, y):
        loss = self.loss_fn(self.net(x), y)
        loss.backward()
        self.opt.zero_grad()
        return float(loss)


def main(net, loader):
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    loss_fn = torch.nn.MSELoss()
    for epoch in range(3):
        trainer = Trainer(net, loss_fn, opt)
        for x, y in loader:
            trainer.train_batch(x, y)
"""


def test_keyword_runner_built_by_the_epoch_loop_lost_its_step() -> None:
    assert codes_at(KEYWORD_RUNNER, ["OPT104"]) == [("OPT104", 14)]


def test_positional_runner_built_by_the_loop_lost_its_step() -> None:
    assert codes_at(POSITIONAL_RUNNER, ["OPT104"]) == [("OPT104", 10)]


def test_silent_when_the_calling_loop_steps_after_the_call() -> None:
    src = KEYWORD_RUNNER.replace(
        "            seen += self.batch_runner(inputs, targets)\n",
        "            seen += self.batch_runner(inputs, targets)\n"
        "            if self.batch_runner.optimizer is not None:\n"
        "                self.batch_runner.optimizer.step()\n")
    assert codes_at(src, ["OPT104"]) == []


def test_silent_when_the_building_function_steps_after_the_call() -> None:
    src = POSITIONAL_RUNNER.replace("            trainer.train_batch(x, y)\n",
                                    "            trainer.train_batch(x, y)\n            opt.step()\n")
    src = src.replace("        loss.backward()\n        self.opt.zero_grad()\n",
                      "        self.opt.zero_grad()\n        loss.backward()\n")
    assert codes_at(src, ["OPT104"]) == []


def test_silent_when_only_built_without_an_optimizer() -> None:
    src = KEYWORD_RUNNER.replace('phase="train", optimizer=optimizer)', 'phase="train", optimizer=None)')
    assert codes_at(src, ["OPT104"]) == []


def test_silent_when_built_outside_any_loop_of_the_file() -> None:
    # a factory handing the runner back: its user (another file) may step the optimizer
    src = POSITIONAL_RUNNER.split("def main")[0] + (
        "def make_trainer(net, opt):\n    return Trainer(net, torch.nn.MSELoss(), opt)\n")
    assert codes_at(src, ["OPT104"]) == []


def test_silent_on_the_correct_runner() -> None:
    src = KEYWORD_RUNNER.replace("            loss.backward()\n",
                                 "            loss.backward()\n            self.optimizer.step()\n")
    assert codes_at(src, ["OPT104"]) == []
    src = POSITIONAL_RUNNER.replace("        self.opt.zero_grad()\n", "        self.opt.step()\n        self.opt.zero_grad()\n")
    assert codes_at(src, ["OPT104"]) == []
