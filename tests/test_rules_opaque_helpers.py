"""Project helpers read, not guessed, although their bodies hold what once made them unknown
(issue 13, shape 13: only a call that can reach the optimizer or the gradients may silence a
rule). Runs the real CLI on a small project written to a temporary folder.

- A function with a ``global`` statement whose names say no optimizer (``global _kept``,
  keeping a multi-device forward's outputs referenced) cannot clear or step: a loop that never
  clears (OPT101) or steps before the backward (OPT103) is still reported. One whose
  ``global`` names an optimizer stays unknown.
- A method of the project's model that scales gradients in place by a number other than zero
  (``self.scale.grad *= 0.01``, then a clip) cannot clear them: OPT101 is still reported. A
  method multiplying a gradient by zero, or by a value it does not spell, may clear."""

from __future__ import annotations

import json

import pytest

from tests.conftest import invoke, write

HELPERS = '''\
import torch

_kept = None
optimizer = None


def forward_on_devices(model, *inputs):
    """The forward over every device, its outputs kept referenced between calls."""
    global _kept
    devices = list(range(torch.cuda.device_count()))
    copies = torch.nn.parallel.replicate(model, devices)
    outputs = torch.nn.parallel.parallel_apply(copies, torch.nn.parallel.scatter(inputs, devices))
    _kept = outputs
    return torch.nn.parallel.gather(outputs, devices[0])


def forward_and_renew(model, *inputs):
    """A forward that also rebinds the module's optimizer."""
    global optimizer
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    return model(*inputs)
'''

MODELS = '''\
import torch
from torch import nn
from torch.nn.utils import clip_grad_norm_


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)
        self.scale = nn.Parameter(torch.tensor([10.0]))

    def forward(self, x):
        return self.fc(x) * self.scale

    def tame_gradients(self):
        self.scale.grad *= 0.01
        self.fc.weight.grad /= 2
        clip_grad_norm_(self.parameters(), 3, norm_type=2)

    def silence_scale(self):
        self.scale.grad *= 0

    def scale_by(self, factor):
        self.scale.grad *= factor
'''

# {clear} opens the iteration, {before} and {after} surround the backward.
TRAIN = """\
import torch
from torch import nn

from tools.multi_gpu import forward_on_devices, forward_and_renew
from models import Encoder


def main():
    model = Encoder()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loader = [(torch.randn(8, 4), torch.randn(8, 2)) for _ in range(4)]
    for x, y in loader:
        {clear}
        loss = nn.functional.mse_loss({forward}, y)
        {before}
        loss.backward()
        {after}
"""
NEVER_CLEARED = {"clear": "pass", "before": "pass", "after": "optimizer.step()"}
STEP_FIRST = {"clear": "optimizer.zero_grad()", "before": "optimizer.step()", "after": "pass"}


def lint(tmp_path, monkeypatch, forward: str = "model(x)", **lines: str) -> list[tuple[str, int]]:
    write(tmp_path / "tools" / "__init__.py", "")
    write(tmp_path / "tools" / "multi_gpu.py", HELPERS)
    write(tmp_path / "models.py", MODELS)
    write(tmp_path / "train.py", TRAIN.format(forward=forward, **lines))
    monkeypatch.chdir(tmp_path)
    result = invoke(["check", "--no-cache", "--select", "OPT101,OPT103", "--output-format", "json", "train.py"])
    return [(d["code"], d["location"]["row"]) for d in json.loads(result.stdout)]


def test_a_helper_keeping_its_outputs_in_a_global_does_not_hide_a_missing_clear(tmp_path, monkeypatch):
    assert lint(tmp_path, monkeypatch, "forward_on_devices(model, x)", **NEVER_CLEARED) == [("OPT101", 16)]


def test_a_helper_keeping_its_outputs_in_a_global_does_not_hide_a_step_before_the_backward(tmp_path, monkeypatch):
    assert lint(tmp_path, monkeypatch, "forward_on_devices(model, x)", **STEP_FIRST) == [("OPT103", 15)]


@pytest.mark.parametrize("lines", [NEVER_CLEARED, STEP_FIRST])
def test_a_helper_whose_global_names_an_optimizer_keeps_the_loop_silent(tmp_path, monkeypatch, lines):
    assert lint(tmp_path, monkeypatch, "forward_and_renew(model, x)", **lines) == []


def test_a_method_scaling_gradients_by_a_number_does_not_hide_a_missing_clear(tmp_path, monkeypatch):
    lines = {**NEVER_CLEARED, "after": "model.tame_gradients(); optimizer.step()"}
    assert lint(tmp_path, monkeypatch, **lines) == [("OPT101", 16)]


@pytest.mark.parametrize("call", ["silence_scale()", "scale_by(0.5)"])
def test_a_method_that_may_zero_a_gradient_keeps_the_loop_silent(tmp_path, monkeypatch, call):
    assert lint(tmp_path, monkeypatch, **{**NEVER_CLEARED, "after": f"model.{call}; optimizer.step()"}) == []
