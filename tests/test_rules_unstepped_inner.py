"""OPT104 where the lost step belongs to a function nested in the training function: an
actor-critic's ``def update(batch):`` clears each optimizer, backpropagates and (should) step
it, while the optimizers are built by the enclosing function and the loop that calls
``update`` is there too. The finding is at the nested function's backward, where the step is
missing, not at the optimizer's construction. The construction is still the place when
nothing nested clears the optimizer."""

from __future__ import annotations

import textwrap

from tests.conftest import codes_at

AGENT = """\
import torch


def learn(make_policy, make_value, buffer, steps, batch_size):
    policy, value = make_policy(), make_value()
    policy_opt = torch.optim.Adam(policy.parameters(), lr=3e-4)
    value_opt = torch.optim.Adam(value.parameters(), lr=1e-3)

    def update(batch):
        value_opt.zero_grad()
        value_loss = (value(batch.obs) - batch.ret).pow(2).mean()
        value_loss.backward()
        value_opt.step()

        policy_opt.zero_grad()
        policy_loss = -(policy(batch.obs).log_prob(batch.act) * batch.adv).mean()
        policy_loss.backward()
        policy_opt.step()

    for t in range(steps):
        buffer.collect(policy)
        if t % 50 == 0:
            for _ in range(10):
                update(buffer.sample(batch_size))
"""


def row(src: str, text: str) -> int:
    return next(i for i, line in enumerate(src.splitlines(), 1) if text in line)


def test_opt104_an_update_closure_that_lost_one_step_is_reported_at_its_backward():
    assert codes_at(AGENT, ["OPT104"]) == []
    for opt, loss in (("value_opt", "value_loss"), ("policy_opt", "policy_loss")):
        lost = AGENT.replace(f"        {opt}.step()\n", "")
        assert codes_at(lost, ["OPT104"]) == [("OPT104", row(lost, f"{loss}.backward()"))]


def test_opt104_an_optimizer_cleared_in_the_training_function_itself_stays_at_its_construction():
    src = """\
    import torch


    def learn(make_policy, batches, epochs):
        policy = make_policy()
        opt = torch.optim.Adam(policy.parameters(), lr=3e-4)
        other = torch.optim.SGD(policy.head.parameters(), lr=0.1)
        for epoch in range(epochs):
            for batch in batches:
                opt.zero_grad()
                other.zero_grad()
                policy(batch).mean().backward()
                other.step()
    """
    src = textwrap.dedent(src)
    assert codes_at(src, ["OPT104"]) == [("OPT104", row(src, "opt = torch.optim.Adam("))]
