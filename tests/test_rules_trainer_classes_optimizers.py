"""A step of ``self.optim`` in another trainer class of the file is another instance's: a loop
of one trainer that clears and backpropagates but lost its step is reported (OPT104), as a step
function of it already was. Exact (code, row); silent twins where both step, and where the other
class is a subclass (its ``self.optim`` is this one's)."""

from __future__ import annotations

from tests.conftest import codes_at

TWO_TRAINERS = """\
from helpers import make_optimizer


class FirstTrainer:
    def __init__(self, net, lr):
        self.net = net
        self.optim = make_optimizer(self.net.parameters(), lr)

    def train(self, batches):
        for batch in batches:
            self.optim.zero_grad()
            self.net(batch).mean().backward()
            {first_step}


class SecondTrainer:
    def __init__(self, net, lr):
        self.net = net
        self.optim = make_optimizer(self.net.parameters(), lr)

    def train(self, batches):
        for batch in batches:
            self.optim.zero_grad()
            self.net(batch).mean().backward()
            self.optim.step()
"""


def test_another_trainer_classes_step_is_another_instances():
    assert codes_at(TWO_TRAINERS.format(first_step="pass"), ["OPT104"]) == [("OPT104", 12)]


# ------------------------------------------------------------------ must not fire
def test_both_steps_present():
    assert codes_at(TWO_TRAINERS.format(first_step="self.optim.step()"), ["OPT104"]) == []


def test_a_subclass_stepping_its_bases_optimizer_steps_the_same_object():
    src = TWO_TRAINERS.format(first_step="pass").replace("class SecondTrainer:", "class SecondTrainer(FirstTrainer):")
    assert codes_at(src, ["OPT104"]) == []
