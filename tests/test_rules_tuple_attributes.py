"""A trainer class keeping what its constructor is handed in one tuple assignment (``self.net,
self.optimizer = net, optimizer``) holds the callers' optimizer in each attribute, as one
assignment per attribute does (issue 13): the rules know its construction. OPT104 on a runner
whose update lost its step, silent where it steps or where an element is not a parameter."""

from __future__ import annotations

import pytest

from tests.conftest import codes_at

RUNNER = """\
import torch
from torch import nn


class Runner:
    def __init__(self, net, optimizer):
        self.net, self.optimizer = {values}

    def __call__(self, x, y):
        loss = nn.functional.cross_entropy(self.net(x), y)
        self.optimizer.zero_grad()
        loss.backward()
{step}        return loss.item()


def fit(net, optimizer, loader, epochs):
    runner = Runner(net, optimizer)
    for epoch in range(epochs):
        for x, y in loader:
            runner(x, y)


net = nn.Linear(8, 2)
optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
fit(net, optimizer, batches, 3)
"""


def test_opt104_a_runner_keeping_its_optimizer_in_a_tuple_assignment_lost_its_step():
    assert codes_at(RUNNER.format(values="net, optimizer", step=""), ["OPT104"]) == [("OPT104", 12)]


@pytest.mark.parametrize("values, step", [
    ("net, optimizer", "        self.optimizer.step()\n"),  # it steps
    ("net, wrap(optimizer)", ""),  # not the parameter itself: a wrapper may step
])
def test_opt104_silent(values, step):
    assert codes_at(RUNNER.format(values=values, step=step), ["OPT104"]) == []
