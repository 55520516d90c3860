"""OPT603 in a trainer class handed its model and optimizer by the constructor: the epoch
loop calls a method of the same object that runs ``self.model`` forward, the backward and
the step, then evaluates with ``self.model.eval()``. The optimizer's parameters are unknown,
but the method the loop reaches through ``self`` trains ``self.model`` with grad, so nothing
puts it back in training mode before the next epoch. Its twins stay silent: the method
restores training mode itself, or runs ``self.model`` only under no_grad (a frozen backbone
under a trained head)."""

from __future__ import annotations

import pytest

from tests.conftest import codes_at

TRAINER = """\
import torch


class Runner:
    def __init__(self, loaders, net, optimizer, epochs):
        self.loaders = loaders
        self.net = net
        self.optimizer = optimizer
        self.epochs = epochs

    def fit(self):
        for epoch in range(self.epochs):
            self.one_epoch(epoch)
            self.net.eval()
            with torch.no_grad():
                self.one_epoch(epoch, validation=True)

    def one_epoch(self, epoch, validation=False):
        batches = self.loaders["valid" if validation else "train"]
        running = 0.0
        for inputs, targets in batches:
            loss = torch.nn.functional.l1_loss(self.net(inputs), targets)
            if not validation:
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
            running += loss.item()
        return running
"""


def row(src: str, text: str) -> int:
    return next(i for i, line in enumerate(src.splitlines(), 1) if text in line)


@pytest.mark.parametrize("change", [
    ("", ""),
    # a checkpoint packed by a method of the model: it writes state, it switches no mode
    ("            self.net.eval()\n",
     "            torch.save(self.net.serialize(self.net, self.optimizer, epoch), 'last.pt')\n            self.net.eval()\n"),
])
def test_opt603_a_trainer_method_trains_the_model_the_epoch_loop_evaluates(change):
    src = TRAINER.replace(*change) if change[0] else TRAINER
    assert codes_at(src, ["OPT603"]) == [("OPT603", row(src, "self.net.eval()"))]


@pytest.mark.parametrize("change", [
    # training mode set at the top of each epoch
    ("            self.one_epoch(epoch)\n", "            self.net.train()\n            self.one_epoch(epoch)\n"),
    # the method restores it on the passes that train
    ("        running = 0.0\n", "        running = 0.0\n        if not validation:\n            self.net.train()\n"),
    # the evaluated module is a frozen backbone: the method runs it under no_grad only
    ("            loss = torch.nn.functional.l1_loss(self.net(inputs), targets)\n",
     "            with torch.no_grad():\n                features = self.net(inputs)\n"
     "            loss = torch.nn.functional.l1_loss(self.head(features), targets)\n"),
    # reached through another object's method: its ``self`` is not the loop's
    ("            self.one_epoch(epoch)\n", "            self.helper.one_epoch(epoch)\n"),
])
def test_opt603_trainer_methods_that_restore_or_do_not_train_the_module_stay_silent(change):
    old, new = change
    assert old in TRAINER
    assert codes_at(TRAINER.replace(old, new), ["OPT603"]) == []


SCRIPT = """\
import torch



class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = torch.nn.Linear(8, 8)
        self.head = torch.nn.Linear(8, 2)
        self.stem_params = list(self.stem.parameters())
        self.head_params = list(self.head.parameters())

    def forward(self, x):
        return self.head(torch.nn.functional.dropout(self.stem(x), 0.5, self.training))


net = Net()
optimizer = torch.optim.Adam([{"params": net.stem_params, "weight_decay": 1e-4}, {"params": net.head_params}], lr=1e-2)
inputs, labels = torch.randn(32, 8), torch.randint(0, 2, (32,))


def fit_once():
    optimizer.zero_grad()
    loss = torch.nn.functional.cross_entropy(net(inputs), labels)
    loss.backward()
    optimizer.step()
    return loss.item()


def score():
    net.eval()
    with torch.no_grad():
        return (net(inputs).argmax(1) == labels).float().mean().item()


for epoch in range(100):
    fit_once()
    score()
"""


def test_opt603_a_script_function_trains_the_global_model_its_loop_evaluates():
    assert codes_at(SCRIPT, ["OPT603"]) == [("OPT603", row(SCRIPT, "    net.eval()"))]


@pytest.mark.parametrize("change", [
    # the training function puts the model back in training mode
    ("    optimizer.zero_grad()\n", "    net.train()\n    optimizer.zero_grad()\n"),
    # the training function's ``net`` is its own parameter, not the global the loop evaluates
    ("def fit_once():\n", "def fit_once(net=torch.nn.Linear(8, 2)):\n"),
    # the global model runs under no_grad in the training function (a frozen feature extractor)
    ("    loss = torch.nn.functional.cross_entropy(net(inputs), labels)\n",
     "    with torch.no_grad():\n        features = net(inputs)\n"
     "    loss = torch.nn.functional.cross_entropy(features * 2, labels)\n"),
])
def test_opt603_script_functions_that_restore_or_do_not_train_the_global_stay_silent(change):
    old, new = change
    assert old in SCRIPT
    assert codes_at(SCRIPT.replace(old, new), ["OPT603"]) == []
