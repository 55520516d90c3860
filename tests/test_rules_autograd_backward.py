"""``torch.autograd.backward(tensors, grad_tensors)`` is a backward, spelled through the module
as well as imported: ``torch.autograd.backward(...)``, ``autograd.backward(...)`` after ``from
torch import autograd`` or ``import torch.autograd as autograd``. Before, only the imported
name (``backward(...)``) was read as one; the module spelling went the way of
``engine.backward(loss)``, an opaque call that might clear or step anything, so a policy-gradient
update written with it (held-out set 5: a REINFORCE-with-baseline tutorial, script and notebook)
was silent on every order mistake."""

from __future__ import annotations

import pytest

from tests.conftest import codes_at

UPDATE = """\
import torch
{imports}

policy = nn.Linear(4, 2)
optimizer = optim.Adam(policy.parameters(), lr=1e-3)


def finish_episode(values, returns):
    value_loss = sum((v - r) ** 2 for v, r in zip(values, returns))
    optimizer.zero_grad()
    {call}([value_loss], [torch.ones(1)])
    optimizer.step()


for episode in range(100):
    values = [policy(torch.randn(4)).sum() for _ in range(5)]
    finish_episode(values, [1.0] * 5)
"""

SPELLINGS = [
    ("from torch import autograd, nn, optim", "autograd.backward"),
    ("import torch.autograd as autograd\nfrom torch import nn, optim", "autograd.backward"),
    ("from torch import nn, optim", "torch.autograd.backward"),
    ("from torch import nn, optim\nfrom torch.autograd import backward", "backward"),
]


def src_of(imports: str, call: str) -> str:
    return UPDATE.format(imports=imports, call=call)


def row(src: str, needle: str) -> int:
    return next(i for i, line in enumerate(src.splitlines(), 1) if needle in line)


@pytest.mark.parametrize("imports, call", SPELLINGS)
def test_the_correct_update_is_silent(imports, call):
    assert codes_at(src_of(imports, call)) == []


@pytest.mark.parametrize("imports, call", SPELLINGS)
def test_step_deleted_fires_opt104(imports, call):
    src = src_of(imports, call).replace("    optimizer.step()\n", "")
    assert codes_at(src, ["OPT1"]) == [("OPT104", row(src, "[value_loss]"))]


@pytest.mark.parametrize("imports, call", SPELLINGS)
def test_step_before_the_backward_fires_opt103(imports, call):
    src = src_of(imports, call).replace("    optimizer.step()\n", "")
    src = src.replace("    optimizer.zero_grad()\n", "    optimizer.zero_grad()\n    optimizer.step()\n")
    assert codes_at(src, ["OPT1"]) == [("OPT103", row(src, "optimizer.step()"))]


def test_a_backward_method_of_another_object_stays_opaque():
    src = src_of("from torch import nn, optim", "engine.backward").replace("    optimizer.step()\n", "")
    assert codes_at(src, ["OPT1"]) == []
