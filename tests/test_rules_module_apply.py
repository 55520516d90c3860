"""``module.apply(fn)`` visits the submodules with ``fn``: where ``fn`` is a function of the
project (or a lambda calling only such functions) whose body clears, steps and backpropagates
nothing (``classifier.apply(lambda m: bn_momentum_adjust(m, momentum))``, ``net.apply(
weights_init)``), the call is no opaque call that might clear or step the optimizer. Exact
(code, row); silent twins where ``fn`` clears, or cannot be read."""

from __future__ import annotations

from tests.conftest import codes_at

LOOP = """\
import torch


def bn_momentum_adjust(m, momentum):
    if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
        m.momentum = momentum


def refresh(m):
    m.momentum = 0.1
    OPTIMIZER.step()


def train(classifier, criterion, optimizer, loader, epochs):
    for epoch in range(epochs):
        momentum = max(0.01, 0.1 * 0.5 ** (epoch // 20))
        classifier = classifier.apply({fn})
        classifier = classifier.train()
        for points, target in loader:
            {clear}loss = criterion(classifier(points), target)
            loss.backward()
            {step}
"""


def src(fn="lambda m: bn_momentum_adjust(m, momentum)", clear="optimizer.zero_grad()\n            ",
        step="optimizer.step()") -> str:
    return LOOP.format(fn=fn, clear=clear, step=step)


def test_a_lost_step_beside_an_apply_that_only_sets_momentum():
    assert codes_at(src(step="pass"), ["OPT1"]) == [("OPT104", 22)]


# ------------------------------------------------------------------ must not fire
def test_the_loop_that_clears_and_steps():
    assert codes_at(src(), ["OPT1"]) == []


def test_an_apply_whose_function_steps_a_global_optimizer():
    assert codes_at(src(fn="refresh", step="pass"), ["OPT104"]) == []


def test_an_apply_of_a_function_that_cannot_be_read():
    text = src(fn="lambda m: adjust(m, momentum)", step="pass").replace(
        "import torch\n", "import torch\nfrom somewhere import adjust\n", 1)
    assert codes_at(text, ["OPT104"]) == []
