"""OPT603 when one helper runs both training and evaluation, switched by a phase argument
(``run_epoch("train")`` then ``run_epoch("val")`` in the epoch loop). A constant passed for
the phase decides the helper's ``if phase == ...:`` for that call, so the training call's
``model.train()`` runs on every pass, and so does the evaluation call's ``model.eval()``.
The helper may be nested in the training function, module-level, or a closure that a factory
builds and returns (``loop = make_loop(model, opt)``)."""

from __future__ import annotations

import textwrap

import pytest

from tests.conftest import codes_at

NESTED = """\
import torch
import torch.nn.functional as F


def fit(model, opt, loaders, epochs):
    def run_epoch(phase):
        if phase == "train":
            model.train()
        else:
            model.eval()
        for x, y in loaders[phase]:
            with torch.set_grad_enabled(phase == "train"):
                loss = F.cross_entropy(model(x), y)
            if phase == "train":
                opt.zero_grad()
                loss.backward()
                opt.step()

    for epoch in range(epochs):
        run_epoch("train")
        run_epoch("val")
"""


def row(src: str, text: str) -> int:
    return next(i for i, line in enumerate(src.splitlines(), 1) if text in line)


def test_opt603_a_phase_helper_that_sets_eval_mode_only_for_validation():
    assert codes_at(NESTED, ["OPT603"]) == []
    lost = NESTED.replace('        if phase == "train":\n            model.train()\n        else:\n            model.eval()\n',
                          '        if phase == "val":\n            model.eval()\n')
    assert codes_at(lost, ["OPT603"]) == [("OPT603", row(lost, "model.eval()"))]


@pytest.mark.parametrize("change", [
    # the phase is a loop variable: each call's arm is unknown, and the pair covers every pass
    ('        run_epoch("train")\n        run_epoch("val")\n',
     '        for phase in ("train", "val"):\n            run_epoch(phase)\n'),
    # a flag handed to ``.train()``: True for the training call
    ('        if phase == "train":\n            model.train()\n        else:\n            model.eval()\n',
     '        model.train(phase == "train")\n'),
    # training mode restored by the loop itself
    ('        run_epoch("val")\n', '        run_epoch("val")\n        model.train()\n'),
])
def test_opt603_phase_helpers_that_restore_stay_silent(change):
    old, new = change
    assert old in NESTED
    assert codes_at(NESTED.replace(old, new), ["OPT603"]) == []


def test_opt603_a_boolean_training_flag_with_a_default():
    src = """\
    import torch


    def one_pass(model, opt, batches, training=True):
        model.train(training)
        for x in batches:
            with torch.set_grad_enabled(training):
                loss = model(x).mean()
            if training:
                opt.zero_grad()
                loss.backward()
                opt.step()


    def fit(model, opt, train_batches, val_batches, epochs):
        for epoch in range(epochs):
            one_pass(model, opt, train_batches)
            one_pass(model, opt, val_batches, training=False)
    """
    assert codes_at(src, ["OPT603"]) == []
    lost = src.replace("        model.train(training)\n", "        if not training:\n            model.eval()\n")
    assert codes_at(lost, ["OPT603"]) == [("OPT603", row(textwrap.dedent(lost), "model.eval()"))]


FACTORY = """\
import enum

import torch


class Stage(enum.Enum):
    FIT = 0
    CHECK = 1


def make_epoch_runner(net, opt, data):
    def run(stage, epoch=0):
        if stage == Stage.FIT:
            net.train()
        else:
            net.eval()
        loss = torch.nn.functional.nll_loss(net(data.x)[data.masks[stage]], data.y[data.masks[stage]])
        if stage == Stage.FIT:
            opt.zero_grad()
            loss.backward()
            opt.step()
        return float(loss)

    return run


def train(cfg, net, data):
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    run = make_epoch_runner(net, opt, data)
    for epoch in range(cfg.epochs):
        run(stage=Stage.FIT, epoch=epoch)
        with torch.no_grad():
            print(run(stage=Stage.CHECK, epoch=epoch))
"""


def test_opt603_a_phase_closure_built_by_a_factory():
    assert codes_at(FACTORY, ["OPT603"]) == []
    lost = FACTORY.replace("        if stage == Stage.FIT:\n            net.train()\n        else:\n            net.eval()\n",
                           "        if stage != Stage.FIT:\n            net.eval()\n")
    assert codes_at(lost, ["OPT603"]) == [("OPT603", row(lost, "net.eval()"))]


def test_opt104_a_factory_closure_that_never_steps():
    lost = FACTORY.replace("            opt.step()\n", "")
    assert ("OPT104", row(lost, "loss.backward()")) in codes_at(lost, ["OPT104"])


TUTORIAL = """\
import torch


def train_model(model, criterion, optimizer, dataloaders, num_epochs):
    for epoch in range(num_epochs):
        for phase in ["train", "val"]:
            if phase == "train":
                model.train()
            else:
                model.eval()
            for inputs, labels in dataloaders[phase]:
                optimizer.zero_grad()
                with torch.set_grad_enabled(phase == "train"):
                    loss = criterion(model(inputs), labels)
                    if phase == "train":
                        loss.backward()
                        optimizer.step()
"""


def test_opt603_one_phase_test_written_twice_is_one_condition():
    # the training arm of ``if phase == "train":`` restores training mode, and the backward runs
    # under the same test: every pass that trains was restored (a false alarm before)
    assert codes_at(TUTORIAL, ["OPT603"]) == []
    lost = TUTORIAL.replace("            if phase == \"train\":\n                model.train()\n            else:\n",
                            "            if phase != \"train\":\n")
    assert codes_at(lost, ["OPT603"]) == [("OPT603", row(lost, "model.eval()"))]
