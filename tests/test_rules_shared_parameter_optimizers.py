"""OPT101 on an optimizer whose parameters other optimizers also hold: a joint optimizer over
``itertools.chain(gen.parameters(), disc.parameters())`` (an InfoGAN's mutual-information
term) is cleared on every pass when the generator's and the discriminator's optimizers both
clear before their own steps; nothing accumulates across passes. When one of its modules is
never cleared, its gradients do accumulate and OPT101 names it."""

from __future__ import annotations

import pytest

from tests.conftest import codes_at, lint

JOINT = """\
import itertools
import torch
from torch import nn, optim


class InfoGan:
    def __init__(self):
        self.gen = nn.Linear(4, 4)
        self.disc = nn.Linear(4, 1)
        self.gen_opt = optim.Adam(self.gen.parameters())
        self.disc_opt = optim.Adam(self.disc.parameters())
        self.joint_opt = optim.Adam(itertools.chain(self.gen.parameters(), self.disc.parameters()))

    def fit(self, loader):
        for x in loader:
            self.disc_opt.zero_grad()
            self.disc(x).mean().backward(retain_graph=True)
            self.disc_opt.step()
            self.gen_opt.zero_grad()
            self.disc(self.gen(x)).mean().backward(retain_graph=True)
            self.gen_opt.step()
            self.disc(self.gen(x)).pow(2).mean().backward()
            self.joint_opt.step()
"""


@pytest.mark.parametrize("old, new", [
    ("", ""),
    # ``from itertools import chain``
    ("import itertools\n", "from itertools import chain\n"),
    # the modules cleared directly
    ("            self.gen_opt.zero_grad()\n", "            self.gen.zero_grad()\n"),
])
def test_opt101_silent_when_other_optimizers_clear_every_module_of_a_joint_one(old, new):
    src = JOINT.replace(old, new)
    if old.startswith("import"):
        src = src.replace("itertools.chain(", "chain(")
    assert codes_at(src, ["OPT101"]) == []


def _named(src):
    return [(d.location.row, d.message.split("`")[1]) for d in lint(src, ["OPT101"])]


def test_opt101_names_a_joint_optimizer_when_one_of_its_modules_is_never_cleared():
    # the generator's own optimizer is gone: nothing clears the generator's gradients
    src = JOINT.replace("            self.gen_opt.zero_grad()\n", "").replace("            self.gen_opt.step()\n", "")
    assert _named(src) == [(17, "self.joint_opt")]


def test_opt101_a_joint_optimizer_over_an_unknown_iterable_is_not_excused():
    src = JOINT.replace("itertools.chain(self.gen.parameters(), self.disc.parameters())", "self.all_params")
    assert _named(src) == [(17, "self.joint_opt")]
