"""OPT104 on shapes of the held-out sets: an agent's step method over the optimizer it builds
from its config's factory (``config.optimizer_fn(self.network.parameters())``) stays silent when
no loop of the file runs it (its runner may step it, a subclass may replace it: see
test_rules_class_hierarchy), as a handed optimizer does; gradients that are only tested for existence
(``p.grad is None``) or cleared by hand (``p.grad.data.zero_()``): neither makes them the loop's
result, as a kept value does."""

from __future__ import annotations

import pytest

from tests.conftest import codes_at

FACTORY_AGENT = """\
import torch
from torch import nn


class Agent:
    def __init__(self, config):
        self.config = config
        self.network = config.network_fn()
        self.optimizer = config.optimizer_fn(self.network.parameters())

    def step(self, batch):
        loss = self.network(batch).pow(2).mean()
        self.optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(self.network.parameters(), self.config.gradient_clip)
        self.optimizer.step()
"""


@pytest.mark.parametrize("old, new", [
    ("", ""),  # the step is there
    # handed in: the caller may step it after the call
    ("        self.optimizer = config.optimizer_fn(self.network.parameters())\n",
     "        self.optimizer = config.optimizer\n"),
    # a factory of unknown parameters: nothing says it is an optimizer built for this network
    ("config.optimizer_fn(self.network.parameters())", "config.optimizer_fn()"),
])
def test_opt104_a_factory_optimizer_stepped_or_not_the_agents_own_is_silent(old, new):
    src = FACTORY_AGENT.replace(old, new)
    if old:
        src = src.replace("        self.optimizer.step()\n", "")
    assert codes_at(src, ["OPT104"]) == []


CHECKED = """\
import torch

model = torch.nn.Linear(4, 1)
emb = torch.nn.Parameter(torch.zeros(4))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for x, y in [(torch.randn(8, 4), torch.randn(8, 1))] * 10:
    optimizer.zero_grad()
    loss = torch.nn.functional.mse_loss(model(x + emb), y)
    loss.backward()
    if model.weight.grad is None:
        raise RuntimeError("no gradient reached the model")
    emb.grad.data.zero_()
"""


def test_opt104_a_gradient_tested_for_existence_or_cleared_by_hand_is_no_result():
    assert codes_at(CHECKED, ["OPT104"]) == [("OPT104", 9)]


def test_opt104_a_gradient_whose_values_are_kept_is_the_result():
    src = CHECKED.replace("    emb.grad.data.zero_()\n", "    saliency = emb.grad.abs()\n")
    assert codes_at(src, ["OPT104"]) == []


def test_opt104_a_gradient_asserted_is_a_unit_tests_result():
    src = CHECKED.replace("    if model.weight.grad is None:\n        raise RuntimeError(\"no gradient reached the model\")\n",
                          "    assert model.weight.grad is not None\n")
    assert "assert model.weight.grad" in src
    assert codes_at(src, ["OPT104"]) == []
