"""``self.update_target = self.soft_update if tau else self.hard_update`` in ``__init__``, then
``self.update_target()`` in the step method: a call of one of the class's own methods, read as
those methods are (here: they copy weights, never clear or step), not an opaque call on
``self`` that might step the optimizer. Exact (code, row); silent twins where an aliased
method may step, and where the attribute is assigned something else too."""

from __future__ import annotations

from tests.test_rules_heldout import lint_project

AGENT = """\
import copy

import torch
import torch.nn.functional as F


class Agent:
    def __init__(self, net, tau=0.0):
        self.q = net
        self.q_target = copy.deepcopy(net)
        self.q_optimizer = torch.optim.Adam(self.q.parameters(), lr=1e-3)
        self.tau = tau
        self.update_target = self.soft_update if tau else {other}

    def soft_update(self):
        for p, t in zip(self.q.parameters(), self.q_target.parameters()):
            t.data.copy_(self.tau * p.data + (1 - self.tau) * t.data)

{extra}    def learn(self, batch):
        state, target = batch
        loss = F.smooth_l1_loss(self.q(state), target)
        self.q_optimizer.zero_grad()
        loss.backward()
        self.update_target()
"""

RUN = """\
from agent import Agent


def run(net, batches):
    agent = Agent(net, tau=0.005)
    for batch in batches:
        agent.learn(batch)
"""


def files(other: str = "self.soft_update", extra: str = "") -> dict[str, str]:
    return {"agent.py": AGENT.format(other=other, extra=extra), "run.py": RUN}


def test_a_lost_step_beside_an_aliased_weight_copy(tmp_path):
    assert lint_project(tmp_path, files(), "agent.py", "OPT104") == [("OPT104", 23)]


# ------------------------------------------------------------------ must not fire
def test_an_aliased_method_that_steps(tmp_path):
    refresh = "    def refresh(self):\n        self.q_optimizer.step()\n\n"
    assert lint_project(tmp_path, files(other="self.refresh", extra=refresh), "agent.py", "OPT104") == []


def test_an_attribute_that_may_hold_something_else(tmp_path):
    assert lint_project(tmp_path, files(other="copy_weights"), "agent.py", "OPT104") == []
