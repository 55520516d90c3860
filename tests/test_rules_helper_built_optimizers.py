"""An optimizer a project helper builds and returns (``optimizer = get_optimizer(model, lr)``
with ``return torch.optim.SGD(model.parameters(), lr=lr)``; a trainer's
``self._select_optimizer()`` over ``self.model``) holds the parameters of the module the caller
hands it: ``model.zero_grad()`` clears it, and a loop that clears and backpropagates but never
steps it loses every update (OPT104), as it would with the construction written inline. A helper
that builds over a module of its own, or whose returns disagree, says nothing of the caller's
modules and stays silent."""

from __future__ import annotations

import pytest

from tests.conftest import codes_at

SCRIPT = """\
import torch
from torch import nn


def get_optimizer(name, net, lr):
    return torch.optim.SGD(net.parameters(), lr=lr)


def main(batches):
    model = nn.Linear(4, 1)
    optimizer = get_optimizer("sgd", model, 0.1)
    for x, y in batches:
        model.zero_grad()
        loss = (model(x) - y).pow(2).mean()
        loss.backward()
        optimizer.step()
"""

TRAINER = """\
from torch import nn, optim


class Trainer:
    def __init__(self):
        self.model = nn.Linear(4, 1)

    def _select_optimizer(self):
        model_optim = optim.Adam(self.model.parameters(), lr=1e-3)
        return model_optim

    def train(self, batches):
        model_optim = self._select_optimizer()
        for x, y in batches:
            self.model.zero_grad()
            loss = (self.model(x) - y).abs().mean()
            loss.backward()
            model_optim.step()
"""

STEP = "        optimizer.step()\n"
TRAINER_STEP = "            model_optim.step()\n"


def test_opt104_a_helper_built_optimizer_cleared_through_its_module_and_never_stepped():
    assert codes_at(SCRIPT.replace(STEP, ""), ["OPT104"]) == [("OPT104", 15)]


def test_opt104_a_trainer_method_builds_the_optimizer_over_its_own_model():
    assert codes_at(TRAINER.replace(TRAINER_STEP, ""), ["OPT104"]) == [("OPT104", 17)]


def test_opt104_a_keyword_argument_hands_the_module():
    src = SCRIPT.replace(STEP, "").replace('get_optimizer("sgd", model, 0.1)', 'get_optimizer("sgd", lr=0.1, net=model)')
    assert codes_at(src, ["OPT104"]) == [("OPT104", 15)]


@pytest.mark.parametrize("old, new", [
    ("", ""),  # stepped
    # the helper builds over a module of its own: nothing says it is the caller's model
    ("return torch.optim.SGD(net.parameters(), lr=lr)", "return torch.optim.SGD(nn.Linear(4, 1).parameters(), lr=lr)"),
    # its returns disagree about the modules
    ("    return torch.optim.SGD(net.parameters(), lr=lr)\n",
     "    if name == 'head':\n        return torch.optim.SGD(net.bias, lr=lr)\n"
     "    return torch.optim.SGD(net.parameters(), lr=lr)\n"),
    # another module is handed: model's clear is not this optimizer's
    ('get_optimizer("sgd", model, 0.1)', 'get_optimizer("sgd", nn.Linear(4, 1), 0.1)'),
    # a factory of unknown make
    ("    return torch.optim.SGD(net.parameters(), lr=lr)\n", "    return make(name, net.parameters(), lr)\n"),
])
def test_opt104_silent_where_the_helper_does_not_say_whose_parameters(old, new):
    src = SCRIPT.replace(old, new)
    if old:
        src = src.replace(STEP, "")
    assert codes_at(src, ["OPT104"]) == []


def test_opt104_silent_when_the_trainer_steps_or_the_helper_builds_over_another_model():
    assert codes_at(TRAINER, ["OPT104"]) == []
    src = TRAINER.replace("optim.Adam(self.model.parameters()", "optim.Adam(self.critic.parameters()")
    assert codes_at(src.replace(TRAINER_STEP, ""), ["OPT104"]) == []
