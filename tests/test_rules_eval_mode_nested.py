"""OPT603 through two shapes of real training scripts whose lost ``.train()`` went unseen:

- evaluation functions nested in ``main`` beside the training one, decorated with
  ``@torch.no_grad()`` (which only turns gradients off: the walk still reads them), defined
  after the training function that calls them or before it;
- a trainer class handed the model and the optimizer by its constructor, whose
  ``self.validate()`` in the iteration loop switches ``self.model`` to eval mode.

Twins: the restore after the evaluation, a restore of the mode saved before it
(``was_training = self.model.training``), and held modules kept in eval mode on purpose."""

from __future__ import annotations

import pytest

from tests.conftest import codes_at

NESTED = """\
import torch


def main(cfg, model, optim, batches, held_out):
    def fit_one_epoch():
        model.train()
        for step, batch in enumerate(batches):
            optim.zero_grad()
            model(batch).mean().backward()
            optim.step()
            if step % cfg.eval_every == 0:
                check()
                model.train()

    @torch.no_grad()
    def check():
        model.eval()
        print(sum(float(model(b).mean()) for b in held_out))

    for _ in range(cfg.epochs):
        fit_one_epoch()
"""


def row(src: str, text: str) -> int:
    return next(i for i, line in enumerate(src.splitlines(), 1) if text in line)


def test_opt603_a_decorated_evaluation_function_defined_after_the_training_one():
    assert codes_at(NESTED, ["OPT603"]) == []
    lost = NESTED.replace("                check()\n                model.train()\n", "                check()\n")
    assert codes_at(lost, ["OPT603"]) == [("OPT603", row(lost, "model.eval()"))]


def test_opt603_a_decorated_evaluation_function_defined_before_the_training_one():
    check = "    @torch.no_grad()\n    def check():\n        model.eval()\n" \
            "        print(sum(float(model(b).mean()) for b in held_out))\n\n"
    moved = NESTED.replace(check, "").replace("    def fit_one_epoch():\n", check + "    def fit_one_epoch():\n")
    assert codes_at(moved, ["OPT603"]) == []
    lost = moved.replace("                check()\n                model.train()\n", "                check()\n")
    assert codes_at(lost, ["OPT603"]) == [("OPT603", row(lost, "model.eval()"))]


def test_opt603_a_decorator_that_wraps_the_function_keeps_it_unknown():
    src = NESTED.replace("    @torch.no_grad()\n", "    @cfg.timed\n") \
        .replace("                check()\n                model.train()\n", "                check()\n")
    assert codes_at(src, ["OPT603"]) == []


TRAINER = """\
import torch


class Trainer:
    def __init__(self, model, optimizer, train_loader, val_loader, max_iter, every):
        self.model = model
        self.optimizer = optimizer
        self.train_loader = train_loader
        self.val_loader = val_loader
        self.max_iter = max_iter
        self.every = every
        self.iteration = 0

    def validate(self):
        self.model.eval()
        with torch.no_grad():
            total = sum(float(self.model(x).argmax(1).eq(y).sum()) for x, y in self.val_loader)
        self.model.train()
        return total

    def train_epoch(self):
        self.model.train()
        for x, y in self.train_loader:
            self.iteration += 1
            if self.iteration % self.every == 0:
                self.validate()
            self.optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(self.model(x), y)
            loss.backward()
            self.optimizer.step()
"""


def test_opt603_a_trainer_whose_validate_does_not_restore():
    assert codes_at(TRAINER, ["OPT603"]) == []
    lost = TRAINER.replace("        self.model.train()\n        return total\n", "        return total\n")
    assert codes_at(lost, ["OPT603"]) == [("OPT603", row(lost, "self.model.eval()"))]


def test_opt603_a_trainer_that_restores_the_mode_it_saved():
    src = TRAINER.replace("    def validate(self):\n        self.model.eval()\n",
                          "    def validate(self):\n        was_training = self.model.training\n"
                          "        self.model.eval()\n") \
        .replace("        self.model.train()\n        return total\n",
                 "        if was_training:\n            self.model.train()\n        return total\n")
    assert codes_at(src, ["OPT603"]) == []


@pytest.mark.parametrize("held", ["self.teacher", "self.ema_model"])
def test_opt603_a_held_module_kept_in_eval_mode_on_purpose(held):
    src = TRAINER.replace("        self.model.train()\n        return total\n", "        return total\n") \
        .replace("self.model", held)
    assert codes_at(src, ["OPT603"]) == []


def test_opt603_a_trainer_that_freezes_part_of_what_it_holds():
    src = TRAINER.replace("        self.model.train()\n        return total\n", "        return total\n") \
        .replace("        self.iteration = 0\n",
                 "        self.iteration = 0\n        for p in model.backbone.parameters():\n"
                 "            p.requires_grad = False\n")
    assert codes_at(src, ["OPT603"]) == []
