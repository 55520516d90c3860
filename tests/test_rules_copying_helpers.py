"""A project helper that works on copies of what it is handed (issue 13): an adversarial-example
helper starting with ``model = deepcopy(model)`` backpropagates and clears gradients of the
copy and of fresh input tensors only, so its call in a training loop is no opaque call that
might clear the caller's optimizer. A loop that lost its clear is reported through it; a
helper that touches the caller's model, or reads a global, keeps the loop silent. Runs the
real CLI on a small project written to a temporary folder."""

from __future__ import annotations


import pytest

from tests.conftest import cli_codes

ATTACK = '''\
import copy
from copy import deepcopy

import torch
from torch.autograd import Variable


def perturb(model, images, steps=5, epsilon=0.01):
    {first}
    model.eval()
    inputs = Variable(images.clone(), requires_grad=True)
    for _ in range(steps):
        model.zero_grad()
        loss = model(inputs).norm()
        loss.backward()
        inputs = Variable(clamp_batch(inputs + epsilon * torch.sign(inputs.grad)), requires_grad=True)
    return inputs.detach()


def clamp_batch(x):
    return x.clamp(-1.0, 1.0)
'''

TRAIN = """\
import torch
from torch import nn

from attack import perturb


def main():
    model = nn.Linear(4, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loader = [(torch.randn(8, 4), torch.randn(8, 2)) for _ in range(4)]
    for epoch in range(30):
        for x, y in loader:
            adversarial = perturb(model, x)
            loss = nn.functional.mse_loss(model(x), y) + nn.functional.mse_loss(model(adversarial), y)
            loss.backward()
            optimizer.step()
"""


def lint(tmp_path, first: str) -> list[tuple[str, int]]:
    (tmp_path / "attack.py").write_text(ATTACK.replace("{first}", first))
    (tmp_path / "train.py").write_text(TRAIN)
    return cli_codes(tmp_path, "train.py", "OPT101")


@pytest.mark.parametrize("first", ["model = deepcopy(model)", "model = copy.deepcopy(model)"])
def test_opt101_a_loop_calling_a_helper_that_works_on_a_copy_of_the_model(tmp_path, first):
    assert lint(tmp_path, first) == [("OPT101", 15)]


@pytest.mark.parametrize("first", [
    "pass",  # the caller's own model: its zero_grad clears the caller's gradients
    "model = deepcopy(images)",  # not a copy of itself: the model is still the caller's
    "model = deepcopy(model); GLOBAL_MODEL.zero_grad()",  # a global of the helper's file
])
def test_opt101_silent_when_the_helper_may_touch_the_callers_objects(tmp_path, first):
    assert lint(tmp_path, first) == []
