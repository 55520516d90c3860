"""OPT104 in a script's (or a notebook's) module-level code and functions.

- A gradient read earlier in the file, by straight-line code that has run before a loop starts
  (a hand-written gradient descent shown before ``torch.optim``), cannot be what the loop's
  gradients are for. A read that may run once the loop has started (after it, in a loop around
  it, in a function called after it or used otherwise) still makes the gradients the result.
- The script's own optimizer (built by the module's body, used by its functions under the same
  name) stepped in another function after that function's own clear never uses what this one
  left: that step excuses nothing (a GAN chapter's ``d_train`` / ``d_train_wgan``). A caller
  stepping after the call, a step with no clear first, a handed optimizer stay excused.
- A training step written out once, with no loop, after the optimizer's own clear."""

from __future__ import annotations

import textwrap

import pytest

from tests.conftest import codes_at

HAND_THEN_OPTIM = """\
import torch

x = torch.randn(32, 3)
y = torch.randn(32, 1)

# by hand first
w = torch.zeros(3, 1, requires_grad=True)
for epoch in range(20):
    loss = ((x @ w - y) ** 2).mean()
    loss.backward()
    with torch.no_grad():
        w -= 0.1 * w.grad
        w.grad.zero_()

# then with torch.optim
model = torch.nn.Linear(3, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for epoch in range(20):
    loss = torch.nn.functional.mse_loss(model(x), y)
    optimizer.zero_grad()
    loss.backward()
"""


def test_opt104_a_gradient_read_before_the_loop_is_not_its_result():
    assert codes_at(HAND_THEN_OPTIM, ["OPT104"]) == [("OPT104", 21)]


def test_opt104_a_helper_reading_gradients_called_only_before_the_loop():
    src = HAND_THEN_OPTIM.replace(
        "        w -= 0.1 * w.grad\n        w.grad.zero_()\n",
        "        descend(w)\n").replace("# by hand first\n", "def descend(t):\n    t -= 0.1 * t.grad\n    t.grad.zero_()\n\n\n")
    assert codes_at(src, ["OPT104"]) == [("OPT104", 24)]


@pytest.mark.parametrize("tail", [
    "    optimizer.step()\n",  # the step is there
    "saliency = model.weight.grad.abs()\n",  # the gradients read after the loop: they are its result
])
def test_opt104_a_step_or_a_read_after_the_loop_is_silent(tail):
    assert codes_at(HAND_THEN_OPTIM + tail, ["OPT104"]) == []


def test_opt104_a_read_in_a_loop_around_both_runs_after_the_loop():
    head, rest = HAND_THEN_OPTIM.split("# by hand first\n")
    src = head + "for trial in range(3):\n" + textwrap.indent(rest, "    ")
    assert codes_at(src, ["OPT104"]) == []
    assert codes_at(src.replace("w.grad.zero_()", "pass"), ["OPT104"]) == []


def test_opt104_a_helper_reading_gradients_called_after_the_loop_is_silent():
    src = HAND_THEN_OPTIM.replace(
        "        w -= 0.1 * w.grad\n        w.grad.zero_()\n", "        pass\n").replace(
        "# by hand first\n", "def grad_norm(net):\n    return sum(p.grad.norm() for p in net.parameters())\n\n\n")
    assert codes_at(src, ["OPT104"]) == [("OPT104", 23)]
    assert codes_at(src + "print(grad_norm(model))\n", ["OPT104"]) == []
    # handed on (a callback), not called here: it may run at any time
    assert codes_at(src + "hooks = [grad_norm]\n", ["OPT104"]) == []


# ------------------------------------- a script's optimizer stepped by another of its functions

TWO_TRAINERS = """\
import torch

disc = torch.nn.Linear(8, 1)
gen = torch.nn.Linear(4, 8)
d_opt = torch.optim.Adam(disc.parameters(), lr=2e-4)


def d_step(x):
    disc.zero_grad()
    fake = gen(torch.randn(x.shape[0], 4)).detach()
    d_loss = -disc(x).mean() + disc(fake).mean()
    d_loss.backward()
    d_opt.step()
    return d_loss.item()


def d_step_penalized(x):
    disc.zero_grad()
    fake = gen(torch.randn(x.shape[0], 4)).detach()
    d_loss = -disc(x).mean() + disc(fake).mean() + disc.weight.pow(2).sum()
    d_loss.backward()
    d_opt.step()
    return d_loss.item()


for epoch in range(5):
    for x in torch.randn(10, 16, 8):
        d_step(x)
for epoch in range(5):
    for x in torch.randn(10, 16, 8):
        d_step_penalized(x)
"""


def test_opt104_a_scripts_step_in_another_function_after_its_own_clear_excuses_nothing():
    src = TWO_TRAINERS.replace("    d_opt.step()\n    return d_loss.item()\n\n\ndef d_step_penalized",
                               "    return d_loss.item()\n\n\ndef d_step_penalized")
    assert codes_at(src, ["OPT104"]) == [("OPT104", 12)]


def test_opt104_both_functions_stepping_is_silent():
    assert codes_at(TWO_TRAINERS, ["OPT104"]) == []


def test_opt104_a_caller_stepping_after_the_call_uses_its_gradients():
    # ``d_step`` clears and backpropagates; its loop steps after the call: nothing is lost,
    # though ``d_step_penalized`` steps after a clear of its own
    src = TWO_TRAINERS.replace("    d_opt.step()\n    return d_loss.item()\n\n\ndef d_step_penalized",
                               "    return d_loss.item()\n\n\ndef d_step_penalized").replace(
        "        d_step(x)\n", "        d_step(x)\n        d_opt.step()\n")
    assert codes_at(src, ["OPT104"]) == []


def test_opt104_a_step_elsewhere_with_no_clear_first_may_use_the_gradients():
    src = TWO_TRAINERS.replace("    d_opt.step()\n    return d_loss.item()\n\n\ndef d_step_penalized",
                               "    return d_loss.item()\n\n\ndef d_step_penalized").replace(
        "def d_step_penalized(x):\n    disc.zero_grad()\n", "def d_step_penalized(x):\n")
    assert codes_at(src, ["OPT104"]) == []


def test_opt104_an_optimizer_handed_to_the_function_may_be_stepped_by_its_caller():
    src = TWO_TRAINERS.replace("    d_opt.step()\n    return d_loss.item()\n\n\ndef d_step_penalized",
                               "    return d_loss.item()\n\n\ndef d_step_penalized").replace(
        "def d_step(x):\n    disc.zero_grad()\n", "def d_step(x, d_opt):\n    d_opt.zero_grad()\n").replace(
        "        d_step(x)\n", "        d_step(x, d_opt)\n        d_opt.step()\n")
    assert codes_at(src, ["OPT104"]) == []


# ------------------------------------------------------- a script's training step written out once
# (a tutorial's cell: build the optimizer, clear, forward, backward, step; no loop). Before, a
# backward outside any loop was never this optimizer's: it may be a check. After the optimizer's
# own clear it is a training step; gradients printed after it are what a demonstration shows.

DEMO = """\
import torch

net = torch.nn.Linear(4, 1)
x, y = torch.randn(8, 4), torch.randn(8, 1)
print(net.weight.grad)

optimizer = torch.optim.SGD(net.parameters(), lr=0.01)
optimizer.zero_grad()
loss = torch.nn.functional.mse_loss(net(x), y)
loss.backward()
"""


def test_opt104_a_scripts_one_step_written_out_without_the_step():
    assert codes_at(DEMO, ["OPT104"]) == [("OPT104", 7)]


@pytest.mark.parametrize("tail", [
    "optimizer.step()\n",
    "print(net.weight.grad)\n",  # the gradients are what the demonstration shows
])
def test_opt104_a_scripts_one_step_stepped_or_showing_the_gradients_is_silent(tail):
    assert codes_at(DEMO + tail, ["OPT104"]) == []


def test_opt104_a_single_backward_with_no_clear_may_be_a_check():
    assert codes_at(DEMO.replace("optimizer.zero_grad()\n", ""), ["OPT104"]) == []
