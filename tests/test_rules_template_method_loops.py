"""A training step implemented by a subclass and looped over by its base class (the template
method: ``Epoch.run`` iterates the batches and calls ``self.batch_update(x, y)``, which
``TrainEpoch`` implements with a backward and a step). OPT101 needs a loop that calls the step
and never clears: here it is the base class's, in the same file or another project file. The
loss function the instance holds (``self.loss = loss``) is a loss, not a call that may clear.
Exact (code, row); silent twins where the loop clears, the subclass replaces the loop, or the
loop calls something of the instance that cannot be read."""

from __future__ import annotations

from tests.conftest import codes_at
from tests.test_rules_heldout import lint_project

BASE = """\
import torch


class Epoch:
    def __init__(self, model, loss, device="cpu"):
        self.model = model
        self.loss = loss
        self.device = device

    def batch_update(self, x, y):
        raise NotImplementedError

    def on_epoch_start(self):
        pass

    def run(self, loader):
        self.on_epoch_start()
        total = 0.0
        for x, y in loader:
            x, y = x.to(self.device), y.to(self.device)
            {between}loss, _ = self.batch_update(x, y)
            total += loss.item()
        return total / len(loader)
"""

TRAIN = """\
class TrainEpoch(Epoch):
    def __init__(self, model, loss, optimizer, device="cpu"):
        super().__init__(model, loss, device)
        self.optimizer = optimizer

    def on_epoch_start(self):
        self.model.train()

    def batch_update(self, x, y):
        {clear}prediction = self.model(x)
        loss = self.loss(prediction, y)
        loss.backward()
        self.optimizer.step()
        return loss, prediction
"""


def same_file(clear: str = "", between: str = "", extra: str = "") -> str:
    return BASE.format(between=between) + "\n\n" + TRAIN.format(clear=clear) + extra


def test_a_step_the_base_class_loops_over_without_clearing(tmp_path):
    # TrainEpoch.batch_update's backward: row 37 of the file
    assert codes_at(same_file(), ["OPT101"]) == [("OPT101", 37)]


def test_the_base_class_of_another_project_file(tmp_path):
    files = {"epochs/__init__.py": "", "epochs/base.py": BASE.format(between=""),
             "epochs/train.py": "from .base import Epoch\n\n\n" + TRAIN.format(clear="")}
    assert lint_project(tmp_path, files, "epochs/train.py", "OPT101") == [("OPT101", 15)]


def test_an_optimizer_held_in_a_dunder_attribute_is_one(tmp_path):
    src = same_file().replace("self.optimizer", "self.__optimizer__")
    assert codes_at(src, ["OPT101"]) == [("OPT101", 37)]


# ------------------------------------------------------------------ must not fire
def test_the_step_clears_before_its_backward():
    assert codes_at(same_file(clear="self.optimizer.zero_grad()\n        "), ["OPT101"]) == []


def test_the_base_loop_clears():
    assert codes_at(same_file(between="self.model.zero_grad()\n            "), ["OPT101"]) == []


def test_the_subclass_replaces_the_loop():
    extra = ("\n    def run(self, loader):\n        for x, y in loader:\n"
             "            self.optimizer.zero_grad()\n            self.batch_update(x, y)\n")
    assert codes_at(same_file(extra=extra), ["OPT101"]) == []


def test_the_base_loop_calls_a_method_the_subclass_may_clear_in():
    # ``self.on_batch_end()`` is no method of the hierarchy we can read: it may clear
    assert codes_at(same_file(between="self.on_batch_end()\n            "), ["OPT101"]) == []


def test_a_loss_method_of_the_base_class_is_read_not_taken_for_a_loss_function():
    # ``self.loss`` is a method of ``Epoch`` here, one that clears: nothing is missing
    src = same_file().replace("        self.loss = loss\n", "").replace(
        "    def on_epoch_start(self):\n        pass\n",
        "    def on_epoch_start(self):\n        pass\n\n    def loss(self, prediction, y):\n"
        "        self.model.zero_grad()\n        return torch.nn.functional.mse_loss(prediction, y)\n", 1)
    assert "def loss(self" in src
    assert codes_at(src, ["OPT101"]) == []


def test_a_step_the_base_class_loops_over_that_lost_its_step():
    src = same_file(clear="self.optimizer.zero_grad()\n        ").replace("        self.optimizer.step()\n", "")
    assert codes_at(src, ["OPT104"]) == [("OPT104", 38)]


def test_a_lost_step_the_base_loop_takes_after_the_call_is_no_loss():
    src = same_file(clear="self.optimizer.zero_grad()\n        ",
                    between="").replace("        self.optimizer.step()\n", "").replace(
        "            total += loss.item()\n", "            total += loss.item()\n            self.after_update()\n") + (
        "\n    def after_update(self):\n        self.optimizer.step()\n")
    assert codes_at(src, ["OPT104"]) == []
