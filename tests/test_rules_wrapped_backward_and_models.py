"""Two spellings that used to make a training loop opaque:

- ``optimizer.backward(loss)``: the backward of a wrapping optimizer (apex's FP16_Optimizer,
  fairseq's, ColossalAI's), beside ``loss.backward()`` in the other arm of ``if args.fp16:``;
  it backpropagates and neither clears nor steps.
- ``self.dmodel = distrib.wrap(model)``: a project helper that hands back the model it is given,
  as it is or in ``DistributedDataParallel``; calling the attribute is the model's forward.

Exact (code, row); silent twins where the loop clears, and where the optimizer or the helper
is a project class or function that may do more."""

from __future__ import annotations

from tests.conftest import codes_at
from tests.test_rules_heldout import lint_project

FP16 = """\
import torch
from torch import nn


def train(model, batches, optimizer, args):
    model.train()
    for x, y in batches:
        loss = nn.functional.cross_entropy(model(x), y)
        {clear}if args.fp16:
            optimizer.backward(loss)
        else:
            loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
"""


def test_a_loop_backpropagating_through_the_optimizer_that_never_clears():
    assert codes_at(FP16.format(clear=""), ["OPT1"]) == [("OPT101", 10)]


def test_the_step_before_the_optimizers_backward():
    src = FP16.format(clear="optimizer.zero_grad()\n        ").replace(
        "        nn.utils.clip_grad_norm_(model.parameters(), 1.0)\n        optimizer.step()\n", "").replace(
        "        if args.fp16:", "        optimizer.step()\n        if args.fp16:")
    assert codes_at(src, ["OPT1"]) == [("OPT103", 10)]


def test_the_loop_that_clears_is_right():
    assert codes_at(FP16.format(clear="optimizer.zero_grad()\n        "), ["OPT1"]) == []


def test_a_project_optimizer_class_with_its_own_backward_stays_opaque():
    # its backward may clear and step (``def backward(self, loss): self.zero_grad(); ...``)
    src = FP16.format(clear="").replace("def train(model, batches, optimizer, args):", (
        "class Wrapped(torch.optim.SGD):\n    def backward(self, loss):\n        self.zero_grad()\n"
        "        loss.backward()\n\n\ndef train(model, batches, args):\n"
        "    optimizer = Wrapped(model.parameters(), lr=0.1)"))
    assert codes_at(src, ["OPT101"]) == []


DISTRIB = """\
import torch
from torch.nn.parallel import DistributedDataParallel

world_size = 1


def wrap(model):
    if world_size == 1:
        return model
    return DistributedDataParallel(model, device_ids=[torch.cuda.current_device()])
"""

SOLVER = """\
import torch.nn.functional as F

from . import distrib


class Solver:
    def __init__(self, loader, model, optimizer):
        self.loader = loader
        self.model = model
        self.dmodel = distrib.wrap(model)
        self.optimizer = optimizer

    def train(self, epochs):
        for epoch in range(epochs):
            self.model.train()
            for mix, sources in self.loader:
                {clear}estimate = self.dmodel(mix)
                F.l1_loss(estimate, sources).backward()
                self.optimizer.step()
"""


def test_a_model_wrapped_by_a_project_helper_is_a_forward(tmp_path):
    files = {"sep/__init__.py": "", "sep/distrib.py": DISTRIB, "sep/solver.py": SOLVER.format(clear="")}
    assert lint_project(tmp_path, files, "sep/solver.py", "OPT101") == [("OPT101", 18)]


def test_the_wrapped_model_loop_that_clears_is_right(tmp_path):
    files = {"sep/__init__.py": "", "sep/distrib.py": DISTRIB,
             "sep/solver.py": SOLVER.format(clear="self.optimizer.zero_grad()\n                ")}
    assert lint_project(tmp_path, files, "sep/solver.py", "OPT101") == []


def test_a_helper_handing_back_something_else_stays_opaque(tmp_path):
    # ``Engine(model, ...)`` is no wrapper sharing the model's parameters: its call may step
    distrib = DISTRIB.replace("return DistributedDataParallel(model, device_ids=[torch.cuda.current_device()])",
                              "return Engine(model)") + "\n\nclass Engine:\n    def __init__(self, model):\n" \
        "        self.model = model\n"
    files = {"sep/__init__.py": "", "sep/distrib.py": distrib, "sep/solver.py": SOLVER.format(clear="")}
    assert lint_project(tmp_path, files, "sep/solver.py", "OPT101") == []
