"""A copy of a module is a module: ``self.critic_target = copy.deepcopy(self.critic)`` (an RL
target network), ``ema = deepcopy(model)`` (an EMA or momentum encoder). Calling the copy is
that module's forward. Before, the copy was an object of unknown kind, so ``self.critic_target
(next_obs)`` in an agent's update was an opaque call on ``self`` that might clear or step any of
the agent's optimizers, and OPT101/OPT103/OPT104 stayed silent on the whole update (held-out
set 5: a SAC agent's ``_update_network``, 6 mutants). A copy of anything that is not used as a
module stays opaque."""

from __future__ import annotations

import pytest

from tests.conftest import codes_at

AGENT = """\
import copy

import torch
from torch import nn


class Agent:
    def __init__(self, obs_dim, act_dim):
        self.critic = nn.Sequential(nn.Linear(obs_dim + act_dim, 64), nn.ReLU(), nn.Linear(64, 1))
        self.critic_target = copy.deepcopy(self.critic)
        self.actor = nn.Sequential(nn.Linear(obs_dim, 64), nn.ReLU(), nn.Linear(64, act_dim))
        self.actor_target = copy.deepcopy(self.actor).requires_grad_(False)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=3e-4)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=3e-4)

    def update(self, obs, act, rew, next_obs, done, gamma=0.99):
        with torch.no_grad():
            next_act = self.actor_target(next_obs)
            goal = rew + gamma * (1 - done) * self.critic_target(torch.cat([next_obs, next_act], 1))
        critic_loss = (self.critic(torch.cat([obs, act], 1)) - goal).pow(2).mean()
        self.critic_opt.zero_grad()
        critic_loss.backward()
        self.critic_opt.step()
        actor_loss = -self.critic(torch.cat([obs, self.actor(obs)], 1)).mean()
        self.actor_opt.zero_grad()
        actor_loss.backward()
        self.actor_opt.step()
"""


def row(src: str, needle: str, nth: int = 1) -> int:
    return [i for i, line in enumerate(src.splitlines(), 1) if needle in line][nth - 1]


def test_the_correct_agent_is_silent():
    assert codes_at(AGENT) == []


def test_actor_step_deleted_fires_opt104():
    src = AGENT.replace("        self.actor_opt.step()\n", "")
    assert codes_at(src, ["OPT1"]) == [("OPT104", row(src, "critic_loss.backward()"))]


def test_actor_step_before_its_backward_fires_opt103():
    src = AGENT.replace("        actor_loss.backward()\n        self.actor_opt.step()\n",
                        "        self.actor_opt.step()\n        actor_loss.backward()\n")
    assert codes_at(src, ["OPT1"]) == [("OPT103", row(src, "self.actor_opt.step()"))]


def test_a_copy_of_a_copy_is_a_module_too():
    src = """\
    import torch
    from copy import deepcopy
    from torch import nn


    class Learner:
        def __init__(self):
            self.online = nn.Linear(8, 8)
            self.momentum = deepcopy(self.online)
            self.teacher = deepcopy(self.momentum).cuda()
            self.optimizer = torch.optim.SGD(self.online.parameters(), lr=0.1)

        def train_step(self, view_a, view_b):
            with torch.no_grad():
                target = self.teacher(view_b)
            loss = (self.online(view_a) - target).pow(2).mean()
            self.optimizer.zero_grad()
            loss.backward()
    """
    assert codes_at(src, ["OPT1"]) == [("OPT104", 18)]


@pytest.mark.parametrize("copied", [
    "self.runner",  # an object of unknown kind: its copy may hold and step the optimizers
    "self.config",
])
def test_a_copy_of_something_not_used_as_a_module_stays_opaque(copied):
    src = AGENT.replace("self.critic_target = copy.deepcopy(self.critic)",
                        f"self.critic_target = copy.deepcopy({copied})")
    src = src.replace("        self.actor_opt.step()\n", "")
    assert codes_at(src, ["OPT1"]) == []
