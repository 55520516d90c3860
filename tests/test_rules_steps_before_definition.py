"""OPT104 where the script steps an optimizer of the same name before it defines the function
whose pass lost its step (issue 13): a notebook whose first lesson trains in a loop of its
own, and whose later lesson defines a runner class, builds a new optimizer under the same
name and hands it over. The first lesson's step ran before the runner was defined: it cannot
be the runner's step. A step the script runs after the definition may still be."""

from __future__ import annotations

from tests.conftest import codes_at

NOTEBOOK = """\
import torch
from torch import nn

net = nn.Linear(8, 2)
optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
for x, y in batches:
    loss = nn.functional.cross_entropy(net(x), y)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()


class Runner:
    def __init__(self, net, optimizer=None):
        self.net = net
        self.optimizer = optimizer

    def update(self, x, y):
        loss = nn.functional.cross_entropy(self.net(x), y)
        loss.backward()
{runner_step}        self.optimizer.zero_grad()
        return loss.item()


def fit(net, optimizer, loader, epochs):
    runner = Runner(net, optimizer)
    for epoch in range(epochs):
        for x, y in loader:
            runner.update(x, y)


optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
fit(net, optimizer, batches, 3)
{later}"""

LATER_LESSON = """
for x, y in batches:
    loss = nn.functional.cross_entropy(net(x), y)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
"""


def test_opt104_the_runner_lost_its_step_and_the_first_lessons_step_ran_before_it():
    assert codes_at(NOTEBOOK.format(runner_step="", later=""), ["OPT104"]) == [("OPT104", 20)]


def test_opt104_silent_when_the_runner_steps():
    source = NOTEBOOK.format(runner_step="        self.optimizer.step()\n", later="")
    assert codes_at(source, ["OPT104"]) == []


def test_opt104_silent_when_the_script_steps_after_the_definition():
    # (a later lesson's loop: the step may be of the object the runner was handed)
    assert codes_at(NOTEBOOK.format(runner_step="", later=LATER_LESSON), ["OPT104"]) == []


# The function defined first, the script's loop after it: that loop may run once the function
# has, and step what it left (the script's own order decides, not the definition's).
DEFINED_FIRST = """\
import torch
from torch import nn

net = nn.Linear(8, 2)
optimizer = torch.optim.SGD(net.parameters(), lr=0.1)


def accumulate(x, y):
    loss = nn.functional.cross_entropy(net(x), y)
    loss.backward()


for x, y in batches:
    accumulate(x, y)
    optimizer.step()
    optimizer.zero_grad()
"""


def test_opt104_silent_when_the_script_steps_after_calling_the_function():
    assert codes_at(DEFINED_FIRST, ["OPT104"]) == []
