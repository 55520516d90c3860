"""Parameters bound by their callers: a training function or a trainer class that receives its
optimizer and scheduler from the one place that calls it is linted with what it receives
(issue 13, shape 2). Exact (code, row); silence wherever the callers do not agree."""

from __future__ import annotations

import pytest

from tests.conftest import codes_at

FUNCTION = """\
import torch
from torch import nn


def train(model, loader, optimizer, scheduler, epochs):
    for epoch in range(epochs):
        for x, y in loader:
            optimizer.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            optimizer.step()
        scheduler.step()


def main():
    model = nn.Linear(4, 2)
    loader = [(torch.randn(8, 4), torch.randn(8, 2)) for _ in range(4)]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=len(loader))
    train(model, loader, optimizer, scheduler, 10)
"""

TRAINER = """\
import torch
from torch import nn


class Trainer:
    def __init__(self, model, optimizer, scheduler, loader):
        self.model = model
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.loader = loader

    def fit(self, epochs):
        for epoch in range(epochs):
            self.train_epoch()
            self.scheduler.step()

    def train_epoch(self):
        for x, y in self.loader:
            self.optimizer.zero_grad()
            nn.functional.mse_loss(self.model(x), y).backward()
            self.optimizer.step()


def main():
    model = nn.Linear(4, 2)
    loader = [(torch.randn(8, 4), torch.randn(8, 2)) for _ in range(4)]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=len(loader))
    Trainer(model, optimizer, scheduler, loader).fit(10)
"""


def test_a_function_is_linted_with_the_scheduler_its_caller_builds():
    assert codes_at(FUNCTION, ["OPT2"]) == [("OPT203", 11)]


def test_keyword_arguments_bind_too():
    src = FUNCTION.replace("train(model, loader, optimizer, scheduler, 10)",
                           "train(model, loader, epochs=10, scheduler=scheduler, optimizer=optimizer)")
    assert codes_at(src, ["OPT2"]) == [("OPT203", 11)]


def test_a_trainer_class_is_linted_with_what_its_constructor_receives():
    assert codes_at(TRAINER, ["OPT2"]) == [("OPT203", 15)]


def test_an_epoch_scheduler_passed_the_same_way_is_right():
    src = FUNCTION.replace("CosineAnnealingLR(optimizer, T_max=len(loader))", "StepLR(optimizer, 30)")
    assert codes_at(src, ["OPT2"]) == []
    src = TRAINER.replace("CosineAnnealingLR(optimizer, T_max=len(loader))", "StepLR(optimizer, 30)")
    assert codes_at(src, ["OPT2"]) == []


SILENT = {
    "two callers with different schedulers": FUNCTION + """

def finetune(model, loader):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    train(model, loader, optimizer, torch.optim.lr_scheduler.StepLR(optimizer, 5), 3)
""",
    "the function is handed around, its callers unseen": FUNCTION + """

def spawn_all(pool, jobs):
    pool.map(train, jobs)
""",
    "the parameter is rebound inside": FUNCTION.replace(
        "    for epoch in range(epochs):\n",
        "    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 30)\n    for epoch in range(epochs):\n", 1),
    "called through *args": FUNCTION.replace("train(model, loader, optimizer, scheduler, 10)",
                                             "train(*[model, loader, optimizer, scheduler, 10])"),
    "an attribute assigned again elsewhere": TRAINER.replace(
        "    def train_epoch(self):",
        "    def use(self, scheduler):\n        self.scheduler = scheduler\n\n    def train_epoch(self):"),
}


@pytest.mark.parametrize("name", sorted(SILENT))
def test_silent_unless_every_caller_agrees(name):
    assert codes_at(SILENT[name], ["OPT2"]) == []
