"""OPT603 and an evaluation helper of another project file. The training model drops a call
of another file's function that never clears, steps or backpropagates, so a helper that
puts the model back in training mode (``validate(model, loader)`` ending with
``model.train()``) must still count as a restore; a helper that only runs the model's
forward restores nothing, and the ``.eval()`` before it is reported."""

from __future__ import annotations

import pytest

from tests.test_rules_heldout import lint_project

FIT = """\
import torch
from evaluation import check


def fit(model, optimizer, loss_fn, train_batches, val_batches, epochs):
    for epoch in range(epochs):
        for inputs, targets in train_batches:
            optimizer.zero_grad()
            loss = loss_fn(model(inputs), targets)
            loss.backward()
            optimizer.step()
        if epoch % 2 == 1:
            model.eval()
            with torch.no_grad():
                check(model, val_batches)
"""

RESTORES = """\
def check(net, batches):
    scores = [float(net(x).mean()) for x, _ in batches]
    net.train()
    return scores
"""

RESTORES_BY_FLAG = """\
def check(net, batches):
    scores = [float(net(x).mean()) for x, _ in batches]
    net.train(True)
    return scores
"""

FORWARD_ONLY = """\
def check(net, batches):
    return [float(net(x).mean()) for x, _ in batches]
"""

EVAL_ONLY = """\
def check(net, batches):
    net.eval()
    scores = [float(net(x).mean()) for x, _ in batches]
    net.train(False)
    return scores
"""

# Copies its data and flushes output through imported modules, runs a method of the model:
# nothing it calls is handed the model's mode.
WITH_UTILITIES = """\
import copy
import sys


def check(net, batches):
    rows = copy.deepcopy(batches)
    sys.stdout.flush()
    return [float(net.predict(x).mean()) for x, _ in rows]
"""

# Hands the model on to a module of the project that may restore it.
HANDS_ON = """\
import modes


def check(net, batches):
    scores = [float(net(x).mean()) for x, _ in batches]
    modes.restore(net)
    return scores
"""


@pytest.mark.parametrize("helper", [RESTORES, RESTORES_BY_FLAG, HANDS_ON], ids=["train()", "train(True)", "handed-on"])
def test_opt603_a_helper_of_another_file_that_restores_training_mode_is_silent(tmp_path, helper):
    assert lint_project(tmp_path, {"train.py": FIT, "evaluation.py": helper}, select="OPT603") == []


@pytest.mark.parametrize("helper", [FORWARD_ONLY, EVAL_ONLY, WITH_UTILITIES], ids=["forward", "eval()", "utilities"])
def test_opt603_a_helper_of_another_file_that_only_evaluates_restores_nothing(tmp_path, helper):
    assert lint_project(tmp_path, {"train.py": FIT, "evaluation.py": helper},
                        select="OPT603") == [("OPT603", 13)]


def test_opt603_a_restoring_helper_handed_another_module_restores_nothing(tmp_path):
    fit = FIT.replace("def fit(model,", "def fit(model, probe,").replace("check(model, val_batches)",
                                                                          "check(probe, val_batches)")
    assert lint_project(tmp_path, {"train.py": fit, "evaluation.py": RESTORES},
                        select="OPT603") == [("OPT603", 13)]
