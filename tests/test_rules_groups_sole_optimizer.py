"""OPT401 on role-named parts (``value_head``, ``critic``, ``G2``, ``fc_q``): reported only where
the training file proves that the optimizer leaving them out is the only one that can reach
the model (optimlint/analysis/sole_optimizer.py)."""

from __future__ import annotations

import textwrap

import pytest

from optimlint.config import Settings
from optimlint.lint import lint_source

SETTINGS = Settings(select=["OPT401"])

# An actor-critic script: one model with a shared trunk, an actor head and a critic head,
# trained by one optimizer in the loop below. ``OPTIMIZER`` and ``EXTRA`` are filled per test.
SCRIPT = textwrap.dedent("""\
    import torch
    import torch.nn as nn
    import torch.nn.functional as F


    class TwoHeads(nn.Module):
        def __init__(self):
            super().__init__()
            self.trunk = nn.Linear(4, 64)
            self.move_head = nn.Linear(64, 2)
            self.value_head = nn.Linear(64, 1)
            self.episode_rewards = []

        def forward(self, obs):
            h = F.relu(self.trunk(obs))
            return F.softmax(self.move_head(h), dim=-1), self.value_head(h)


    net = TwoHeads()
    OPTIMIZER
    EXTRA


    def finish_episode(returns, log_probs, values):
        loss = sum(-lp * (r - v.item()) + F.smooth_l1_loss(v, r) for lp, r, v in zip(log_probs, returns, values))
        opt.zero_grad()
        loss.backward()
        opt.step()
        del net.episode_rewards[:]


    for episode in range(100):
        probs, value = net(torch.randn(4))
        finish_episode(torch.ones(1), [probs[0].log()], [value])
    """)

ONE_OPTIMIZER = 'opt = torch.optim.Adam([{"params": net.trunk.parameters()}, {"params": net.move_head.parameters()}], lr=3e-2)'
OPT_ROW = 20


def findings(optimizer: str = ONE_OPTIMIZER, extra: str = "", script: str = SCRIPT) -> list[tuple[str, int, str]]:
    src = script.replace("OPTIMIZER", optimizer).replace("EXTRA", extra)
    return [(d.code, d.location.row, d.message) for d in lint_source("train_ac.py", src, SETTINGS)]


def test_a_critic_head_left_out_of_the_only_optimizer_is_reported():
    [(code, row, message)] = findings()
    assert (code, row) == ("OPT401", OPT_ROW)
    assert "leave out `net.value_head`" in message


def test_emptying_a_list_attribute_does_not_hide_the_model():
    # ``del net.episode_rewards[:]`` clears a Python list: the model's modules are unchanged
    assert [c for c, _, _ in findings()] == ["OPT401"]
    # deleting a module attribute does change the model: the analysis stays silent
    script = SCRIPT.replace("del net.episode_rewards[:]", "del net.value_head")
    assert findings(script=script) == []


@pytest.mark.parametrize("extra", [
    # a second optimizer for the critic (the usual actor-critic split)
    "critic_opt = torch.optim.SGD(net.value_head.parameters(), lr=1e-3)",
    # ... through a variable
    "critic_params = list(net.value_head.parameters())\ncritic_opt = torch.optim.SGD(critic_params, lr=1e-3)",
    # the model handed to code of another module, which may build the critic's optimizer
    "from agents import CriticTrainer\ncritic = CriticTrainer(net)",
    # an alias: what the other name is given to is not followed
    "shared = net",
    # stored in a container
    "models = {'ac': net}",
    # an optimizer built by a function of this file from whatever it is given
    "def make_critic_opt(m):\n    return torch.optim.SGD(m.value_head.parameters(), lr=1e-3)",
    # an optimizer built over a name whose origin is unknown
    "from setup import critic_params\ncritic_opt = torch.optim.SGD(critic_params, lr=1e-3)",
    # the critic frozen on purpose
    "net.value_head.requires_grad_(False)",
])
def test_the_critic_head_is_not_reported_when_something_else_may_train_it(extra):
    assert findings(extra=extra) == []


def test_a_module_that_does_not_train_is_not_proof():
    # a models file that builds the networks and the actor's optimizer: the training script
    # that imports it may build the critic's optimizer
    script = SCRIPT[:SCRIPT.index("def finish_episode")]
    assert findings(script=script) == []


def test_a_builder_function_that_returns_the_model_is_not_proof():
    script = SCRIPT.replace("net = TwoHeads()\nOPTIMIZER", "def build():\n    net = TwoHeads()\n    OPTIMIZER\n    return net, opt")
    optimizer = ONE_OPTIMIZER
    assert findings(optimizer=optimizer, script=script) == []


def test_helpers_of_this_file_and_harmless_calls_receiving_the_model_keep_the_proof():
    extra = "def count(m):\n    return sum(p.numel() for p in m.parameters())\nprint(count(net), net)\ntorch.save(net, 'ac.pt')"
    assert [c for c, _, _ in findings(extra=extra)] == ["OPT401"]


def test_other_optimizers_over_other_models_keep_the_proof():
    # a GAN whose two networks each have their classes here: G's optimizer leaves out G's
    # second branch; D's optimizer holds another object
    extra = "other = TwoHeads()\nother_opt = torch.optim.SGD(other.parameters(), lr=1e-3)"
    [(code, row, message)] = findings(extra=extra)
    assert (code, row) == ("OPT401", OPT_ROW)
    assert "`net.value_head`" in message


def test_plain_named_parts_are_reported_as_before_whatever_the_evidence():
    script = SCRIPT.replace("value_head", "scorer")
    [(code, row, message)] = findings(script=script, extra="from agents import CriticTrainer\ncritic = CriticTrainer(net)")
    assert (code, row) == ("OPT401", OPT_ROW)
