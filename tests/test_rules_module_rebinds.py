"""A module rebound from a method that hands it back is still that module: RL agents write
``self.critic_target = self.hard_update(self.critic, self.critic_target)`` (copy the weights,
``return target``) and rebind the target the same way after each soft update. Before, the
second assignment made ``self.critic_target`` an object of unknown kind, so its forward in the
update was an opaque call on ``self`` that might step any optimizer of the agent, and a lost
``step()`` went unreported (held-out set 5: a TD3 trainer's update, 3 mutants). A method that
returns anything else, or a parameter it rebinds, leaves the attribute opaque."""

from __future__ import annotations

import pytest

from tests.conftest import codes_at

AGENT = """\
import torch
from torch import nn


class Critic(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(width, 64), nn.ReLU(), nn.Linear(64, 1))

    def forward(self, x):
        return self.body(x)


class Learner:
    def __init__(self, width, tau=0.01):
        self.tau = tau
        self.critic = Critic(width)
        self.critic_target = Critic(width)
        self.critic_target = self.hard_update(self.critic, self.critic_target)
        self.opt = torch.optim.Adam(self.critic.parameters(), lr=3e-4)

    def hard_update(self, net, target):
        target.load_state_dict(net.state_dict())
        return target

    def soft_update(self, net, target, tau):
        for t, p in zip(target.parameters(), net.parameters()):
            t.data.copy_(t.data * (1.0 - tau) + p.data * tau)
        return target

    def update(self, x, reward, next_x, gamma=0.99):
        goal = reward + gamma * self.critic_target(next_x).detach()
        loss = (self.critic(x) - goal).pow(2).mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        self.critic_target = self.soft_update(self.critic, self.critic_target, self.tau)
"""

NO_STEP = AGENT.replace("        self.opt.step()\n", "")


def test_the_complete_learner_is_silent():
    assert codes_at(AGENT, ["OPT1"]) == []


def test_step_deleted_fires_with_a_target_rebound_by_its_methods():
    assert codes_at(NO_STEP, ["OPT1"]) == [("OPT104", 35)]


@pytest.mark.parametrize("old, new", [
    # the method hands back something else: an object that may hold the optimizer
    ("        target.load_state_dict(net.state_dict())\n        return target\n",
     "        target.load_state_dict(net.state_dict())\n        return self.runner\n"),
    # it rebinds the parameter before returning it
    ("        target.load_state_dict(net.state_dict())\n        return target\n",
     "        target = self.runner.wrap(net)\n        return target\n"),
    # the argument handed for the returned parameter is another object
    ("self.hard_update(self.critic, self.critic_target)", "self.hard_update(self.critic, self.runner)"),
])
def test_a_method_that_does_not_hand_the_module_back_stays_opaque(old, new):
    assert old in NO_STEP
    assert codes_at(NO_STEP.replace(old, new), ["OPT1"]) == []
