"""A step method reads what its class inherits (issue 13, held-out set 2's algorithm classes):
``self.optimizer`` built in a base class's ``__init__`` of the same file is that optimizer in a
subclass's ``update``, a base's helper method called through ``self`` is read, and a step
written in an overridden base method, or in an unrelated class over its own list of
optimizers, is no step of this instance. Runs the real CLI on a file in a temporary folder."""

from __future__ import annotations


from tests.conftest import cli_codes

HEAD = '''\
import torch
import torch.nn.functional as F


class Algorithm(torch.nn.Module):
    def update(self, batch):
        raise NotImplementedError


class ERM(Algorithm):
    def __init__(self, net, lr):
        super().__init__()
        self.network = net
        self.optimizer = torch.optim.Adam(self.network.parameters(), lr=lr)

    def update(self, batch):
        x, y = batch
        loss = F.cross_entropy(self.predict(x), y)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return loss.item()

    def predict(self, x):
        return self.network(x)


class Ensemble(Algorithm):
    def __init__(self, nets):
        super().__init__()
        self.nets = nets
        self.olist = [torch.optim.SGD(n.parameters(), lr=0.1) for n in nets]

    def update(self, batch):
        x, y = batch
        loss = sum(F.cross_entropy(n(x), y) for n in self.nets)
        for opt in self.olist:
            opt.zero_grad()
        loss.backward()
        for opt in self.olist:
            opt.step()
        return loss.item()

'''

# a subclass of ERM whose update lost its step (row 51: the backward)
MIXUP = '''
class Mixup(ERM):
    def update(self, batch):
        x, y = batch
        lam = 0.5
        loss = lam * F.cross_entropy(self.predict(x), y) + (1 - lam) * F.cross_entropy(self.predict(x.flip(0)), y)
        self.optimizer.zero_grad()
        loss.backward()
        return loss.item()
'''


def lint(tmp_path, text: str) -> list[tuple[str, int]]:
    (tmp_path / "algorithms.py").write_text(text)
    return cli_codes(tmp_path, "algorithms.py", "OPT104")


def test_a_subclass_update_that_never_steps_the_inherited_optimizer(tmp_path):
    text = HEAD + MIXUP
    assert text.splitlines()[50].strip() == "loss.backward()"
    assert lint(tmp_path, text) == [("OPT104", 51)]


def test_the_base_update_that_never_steps_despite_a_list_stepped_elsewhere(tmp_path):
    # ERM's own update loses its step; Ensemble (another class) steps each of its own optimizers
    text = HEAD.replace("        loss.backward()\n        self.optimizer.step()\n", "        loss.backward()\n")
    assert text.splitlines()[19].strip() == "loss.backward()"
    assert lint(tmp_path, text) == [("OPT104", 20)]


def test_a_subclass_that_steps_is_silent(tmp_path):
    text = HEAD + MIXUP.replace("        loss.backward()\n", "        loss.backward()\n        self.optimizer.step()\n")
    assert lint(tmp_path, text) == []


def test_a_subclass_that_replaces_the_optimizer_with_an_unknown_one_is_silent(tmp_path):
    # its own ``self.optimizer`` (from a factory the analysis cannot read) replaces the base's:
    # the caller may own and step it
    replaced = MIXUP.replace("class Mixup(ERM):\n", "class Mixup(ERM):\n    def __init__(self, net, lr, make_optimizer):\n"
                             "        super().__init__(net, lr)\n"
                             "        self.optimizer = make_optimizer(self.network.parameters())\n\n")
    assert lint(tmp_path, HEAD + replaced) == []


def test_a_subclass_that_calls_the_base_update_is_silent(tmp_path):
    # ``super().update(batch)`` steps the optimizer after this update's own backward
    calls_super = MIXUP.replace("        return loss.item()\n", "        return super().update(batch)\n")
    assert lint(tmp_path, HEAD + calls_super) == []


def test_a_base_helper_that_may_step_keeps_the_subclass_silent(tmp_path):
    # ``self.finish()`` is ERM's, and it steps the optimizer
    helper = HEAD.replace("    def predict(self, x):\n", "    def finish(self):\n        self.optimizer.step()\n\n"
                          "    def predict(self, x):\n")
    text = helper + MIXUP.replace("        return loss.item()\n", "        self.finish()\n        return loss.item()\n")
    assert lint(tmp_path, text) == []


def test_a_list_of_optimizers_stepped_by_the_same_class_is_still_a_step(tmp_path):
    # the list is this instance's: a step through it may be of ``self.optimizer``
    text = HEAD.replace("        loss.backward()\n        self.optimizer.step()\n",
                        "        loss.backward()\n        for opt in self.olist:\n            opt.step()\n")
    text = text.replace("        self.optimizer = torch.optim.Adam(self.network.parameters(), lr=lr)\n",
                        "        self.optimizer = torch.optim.Adam(self.network.parameters(), lr=lr)\n"
                        "        self.olist = [self.optimizer]\n")
    assert lint(tmp_path, text) == []
