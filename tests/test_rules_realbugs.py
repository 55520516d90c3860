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

