"""Shapes of real bug-fix commits (benchmarks/realbugs/manifest.tsv) optimlint was silent on:
each a must-fire case and a tricky must-not-fire twin, written here in the project's own words."""

from __future__ import annotations

from tests.conftest import codes_at

# --------------------------------------------------------------------------- OPT503
# A learner whose update first asks a world model, fetched through a callback attribute, to
# imagine a rollout of the policy (a call on an object the analysis cannot see into), then
# backpropagates through the GradScaler and clips without unscaling. A call *before* the scaled
# backward cannot have unscaled the gradients that backward writes.
IMAGINED_ROLLOUT = """\
import torch
from torch import nn, optim


class Learner:
    def __init__(self, policy, make_world):
        self.policy = policy
        self.make_world = make_world
        self.scaler = torch.cuda.amp.GradScaler()
        self.policy_optimizer = optim.Adam(policy.parameters(), lr=3e-4)

    def update(self, batch):
        world = self.make_world()
        with torch.autocast("cuda"):
            dreams = world.imagine(self.policy, batch)
            loss = -dreams.mean()
        self.policy_optimizer.zero_grad()
        self.scaler.scale(loss).backward()
        nn.utils.clip_grad_norm_(self.policy.parameters(), 1.0)
        self.scaler.step(self.policy_optimizer)
        self.scaler.update()
"""


def test_opt503_clip_after_an_unseen_call_that_precedes_the_backward():
    assert ("OPT503", 19) in codes_at(IMAGINED_ROLLOUT, ["OPT5"])


def test_opt503_not_when_the_unseen_call_sits_between_backward_and_clip():
    # the same callback after the backward may be the one that unscales: say nothing
    source = IMAGINED_ROLLOUT.replace(
        "        self.scaler.scale(loss).backward()\n",
        "        self.scaler.scale(loss).backward()\n        self.make_world()\n")
    assert not [c for c in codes_at(source, ["OPT5"]) if c[0] == "OPT503"]



# --------------------------------------------------------------------------- OPT101
# A training-step factory whose networks carry their own optimizers (``critic.optim``): the
# critic is cleared once, before its loop of several updates, so each update after the first
# applies the sum of every backward so far.
CRITIC_CARRIES_ITS_OPTIMIZER = """\
import torch


def make_train_step(generator, critic, settings):
    def train_step(real, noise):
        generator.optim.zero_grad()
        critic.optim.zero_grad()
        for _ in range(settings["critic_updates"]):
            for part in range(settings["micro_batches"]):
                fake = generator(noise[part]).detach()
                critic_loss = (critic(fake).mean() - critic(real[part]).mean()) / settings["micro_batches"]
                critic_loss.backward()
            critic.optim.step()
        generator.optim.zero_grad()
        generator_loss = -critic(generator(noise[0])).mean()
        generator_loss.backward()
        generator.optim.step()

    return train_step
"""


def test_opt101_optimizer_carried_by_a_parameter_cleared_once_before_its_loop():
    assert ("OPT101", 12) in codes_at(CRITIC_CARRIES_ITS_OPTIMIZER, ["OPT1"])


def test_opt101_not_when_the_carried_optimizer_is_cleared_in_its_loop():
    source = CRITIC_CARRIES_ITS_OPTIMIZER.replace(
        "        for _ in range(settings[\"critic_updates\"]):\n",
        "        for _ in range(settings[\"critic_updates\"]):\n            critic.optim.zero_grad()\n")
    assert codes_at(source, ["OPT1"]) == []


def test_opt101_not_when_the_attribute_is_not_named_like_an_optimizer():
    # ``critic.updater`` could be anything (an EMA, a logger): no name, no optimizer
    source = CRITIC_CARRIES_ITS_OPTIMIZER.replace("critic.optim.", "critic.updater.")
    assert codes_at(source, ["OPT1"]) == []
