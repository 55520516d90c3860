"""OPT104 in a file of algorithm classes whose ``update(batches)`` method is the whole
training step (clear, backward, step on the instance's own optimizer), run by a runner that
picks the class by name. A subclass that overrides ``update`` with a step of its own runs
instead of the base's method, never after it; another algorithm class's ``self.optimizer`` is
another instance's. Neither may stand for the step the base's ``update`` lost. A subclass
whose ``update`` calls ``super().update(...)`` and then steps does complete it."""

from __future__ import annotations

from tests.conftest import codes_at

ALGORITHMS = """\
import torch


class Method:
    def __init__(self, net, lr):
        self.net = net
        self.optimizer = torch.optim.SGD(self.net.parameters(), lr=lr)

    def update(self, batches):
        loss = sum(torch.nn.functional.cross_entropy(self.net(x), y) for x, y in batches)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return float(loss)


class Penalised(Method):
    def update(self, batches):
        loss = sum(torch.nn.functional.cross_entropy(self.net(x), y) for x, y in batches)
        loss = loss + 0.1 * sum(p.pow(2).sum() for p in self.net.parameters())
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return float(loss)


class Adversarial:
    def __init__(self, net, build):
        self.net = net
        self.optimizer = build(net)

    def update(self, batches):
        loss = sum(self.net(x).mean() for x, _ in batches)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return float(loss)
"""


def row(src: str, text: str, nth: int = 0) -> int:
    return [i for i, line in enumerate(src.splitlines(), 1) if text in line][nth]


def test_opt104_the_base_update_that_lost_its_step():
    assert codes_at(ALGORITHMS, ["OPT104"]) == []
    lost = ALGORITHMS.replace("        loss.backward()\n        self.optimizer.step()\n        return float(loss)\n\n\nclass Penalised",
                              "        loss.backward()\n        return float(loss)\n\n\nclass Penalised")
    assert codes_at(lost, ["OPT104"]) == [("OPT104", row(lost, "loss.backward()"))]


def test_opt104_a_subclass_that_completes_the_base_update_through_super():
    src = ALGORITHMS.replace(
        "        loss.backward()\n        self.optimizer.step()\n        return float(loss)\n\n\nclass Penalised",
        "        loss.backward()\n        return float(loss)\n\n\nclass Penalised").replace(
        "class Penalised(Method):\n    def update(self, batches):\n",
        "class Penalised(Method):\n    def update(self, batches):\n        super().update(batches)\n        self.optimizer.step()\n"
        "        return 0.0\n\n    def unused(self, batches):\n")
    # the base class leaves the step to the subclass that calls it: no finding in the base
    assert ("OPT104", row(src, "loss.backward()")) not in codes_at(src, ["OPT104"])
