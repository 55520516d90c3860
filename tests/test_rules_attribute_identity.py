"""OPT104 where an agent class holds several optimizers, each built once by a call of its own
from the run's configuration (``self.opt = cfg.make_optimizer(...)``): attributes so built are
distinct objects, so a step of one is no step of another. Issue 13: reinforcement-learning
agents whose joint update lost its step while the split update (one optimizer for the
policy, one for the value) still steps its own."""

from __future__ import annotations

import pytest

from tests.conftest import codes_at

AGENT = """\
import torch
from torch import nn


class Agent:
    def __init__(self, cfg):
        self.cfg = cfg
        self.net = cfg.build_network()
        if cfg.joint_update:
            self.opt = cfg.make_optimizer(self.net.parameters())
        else:
            self.policy_opt = cfg.make_policy_optimizer(self.net.policy_parameters)
            self.value_opt = cfg.make_value_optimizer(self.net.value_parameters)

    def learn(self, rollouts):
        for batch in rollouts:
            out = self.net(batch.obs, batch.actions)
            policy_loss = -(out.log_prob * batch.advantage).mean()
            value_loss = (out.value - batch.returns).pow(2).mean()
            if self.cfg.joint_update:
                self.opt.zero_grad()
                (policy_loss + value_loss).backward()
                nn.utils.clip_grad_norm_(self.net.parameters(), 0.5)
{joint_step}            else:
                self.policy_opt.zero_grad()
                policy_loss.backward()
                self.policy_opt.step()
                self.value_opt.zero_grad()
                value_loss.backward()
                self.value_opt.step()
"""


def test_opt104_the_joint_update_lost_its_step():
    assert codes_at(AGENT.format(joint_step=""), ["OPT104"]) == [("OPT104", 22)]


def test_opt104_silent_when_the_joint_update_steps():
    assert codes_at(AGENT.format(joint_step="                self.opt.step()\n"), ["OPT104"]) == []


# The optimizer attribute is the object another attribute holds, handed back by a wrapper:
# a step through either name is the step of both.
PREPARED = """\
import torch


class Trainer:
    def __init__(self, cfg, accelerator):
        self.net = cfg.build_network()
        self.optimizer = cfg.make_optimizer(self.net.parameters())
        self.opt = accelerator.prepare(self.optimizer)

    def fit(self, loader):
        for batch in loader:
            self.opt.zero_grad()
            self.net(batch).mean().backward()
            self.optimizer.step()
"""


def test_opt104_silent_when_an_attribute_wraps_the_other_attributes_optimizer():
    assert codes_at(PREPARED, ["OPT104"]) == []


# One attribute assigned in two places (a base class's default and a subclass's choice): not
# known to be built once, so not known to be another object than the one that steps.
@pytest.mark.parametrize("second", [
    "        self.opt = cfg.make_other_optimizer(self.net.parameters())\n",
    "        self.opt = self.policy_opt\n",
])
def test_opt104_silent_when_the_attribute_is_assigned_more_than_once(second):
    source = AGENT.format(joint_step="").replace(
        "        self.cfg = cfg\n", "        self.cfg = cfg\n        self.policy_opt = None\n") \
        .replace("    def learn(self, rollouts):\n",
                 "    def rebuild(self, cfg):\n" + second + "\n    def learn(self, rollouts):\n")
    assert codes_at(source, ["OPT104"]) == []
