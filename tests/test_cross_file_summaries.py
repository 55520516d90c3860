"""A call into another file of the project is read, not guessed (issue 13, shape 3): a project
function that only clips or adjusts the learning rate cannot clear the gradients, so a loop that
never clears is still reported; one that may clear (directly or through another call) keeps
the loop silent. Runs the real CLI on a small project written to a temporary folder."""

from __future__ import annotations

import json
import os

import pytest

from tests.conftest import cli_codes, invoke

UTILS = '''\
from torch import nn

from registry import build_anything


def clip_gradient(optimizer, grad_clip):
    """Clamp every gradient of the optimizer's parameters."""
    for group in optimizer.param_groups:
        for param in group["params"]:
            if param.grad is not None:
                param.grad.data.clamp_(-grad_clip, grad_clip)


def adjust_learning_rate(optimizer, factor):
    for group in optimizer.param_groups:
        group["lr"] = group["lr"] * factor


def drop_gradients(optimizer):
    for group in optimizer.param_groups:
        for param in group["params"]:
            param.grad = None


def finish_step(optimizer):
    drop_gradients(optimizer)


def clear_all(optimizer):
    optimizer.zero_grad(set_to_none=True)


def Class_Weighted_Loss(logits, target, weights):
    """A loss helper handed the class weights (a name that reads like parameters)."""
    return nn.CrossEntropyLoss(weight=weights)(logits, target.long())


def Factory_Loss(logits, target, weights):
    return make_criterion(weights)(logits, target.long())


def make_criterion(weights):
    return build_anything(weights)
'''

TRAIN = """\
import torch
from torch import nn

{imports}


def main():
    model = nn.Linear(4, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loader = [(torch.randn(8, 4), torch.randn(8, 2)) for _ in range(4)]
    for epoch in range(30):
        {prefix}adjust_learning_rate(optimizer, 0.9)
        for x, y in loader:
            loss = nn.functional.mse_loss(model(x), y)
            loss.backward()
            {prefix}{call}
            optimizer.step()
"""
CALLS = {"clip_gradient": "clip_gradient(optimizer, 5.0)",
         "Class_Weighted_Loss": "Class_Weighted_Loss(model(x), y, weights)",
         "Factory_Loss": "Factory_Loss(model(x), y, weights)"}


def lint(tmp_path, name: str, style: str = "from") -> list[tuple[str, int]]:
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "__init__.py").write_text("")
    (tmp_path / "tools" / "grad_utils.py").write_text(UTILS)
    if style == "from":
        imports, prefix = f"from tools.grad_utils import adjust_learning_rate, {name}", ""
    else:
        imports, prefix = "import tools.grad_utils as gu", "gu."
    call = CALLS.get(name, f"{name}(optimizer)")
    (tmp_path / "train.py").write_text(TRAIN.format(imports=imports, prefix=prefix, call=call))
    return cli_codes(tmp_path, "train.py", "OPT101")


@pytest.mark.parametrize("style", ["from", "module"])
def test_a_project_function_that_only_clips_does_not_hide_a_missing_clear(tmp_path, style):
    assert lint(tmp_path, "clip_gradient", style) == [("OPT101", 15)]


def test_a_loss_helper_calling_a_torch_loss_it_builds_does_not_hide_a_missing_clear(tmp_path):
    assert lint(tmp_path, "Class_Weighted_Loss") == [("OPT101", 15)]


@pytest.mark.parametrize("call", ["drop_gradients", "finish_step", "clear_all", "Factory_Loss"])
def test_a_project_function_that_may_clear_keeps_the_loop_silent(tmp_path, call):
    assert lint(tmp_path, call) == []


def test_a_project_file_created_between_two_lints_is_read_by_the_second(tmp_path):
    # Module lookups are remembered during one lint only: a long-lived process (the language
    # server, --watch) finds a file written since its last lint.
    (tmp_path / "train.py").write_text(TRAIN.format(imports="from tools.grad_utils import adjust_learning_rate, "
                                                            "clip_gradient", prefix="",
                                                    call=CALLS["clip_gradient"]))
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        def found():
            result = invoke(["check", "--no-cache", "--select", "OPT101", "--output-format", "json", "train.py"])
            return [(d["code"], d["location"]["row"]) for d in json.loads(result.stdout)]

        assert found() == []  # clip_gradient unknown: an opaque call may clear
        (tmp_path / "tools").mkdir()
        (tmp_path / "tools" / "__init__.py").write_text("")
        (tmp_path / "tools" / "grad_utils.py").write_text(UTILS)
        assert found() == [("OPT101", 15)]
    finally:
        os.chdir(cwd)


LOST_STEP = """\
import torch
from torch import nn

from data import *
from tools import *


def main(loader):
    model = nn.Linear(4, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for step, (x, y) in enumerate(loader):
        adjust_learning_rate(optimizer, 0.1 * 0.99 ** step)
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
"""


@pytest.mark.parametrize("helper, codes", [
    # read through the package's re-export: it only sets the learning rate
    ("adjust_learning_rate", [("OPT104", 15)]),
    # ... or steps: the loop's step is there after all
    ("step_with_rate", []),
])
def test_a_helper_re_exported_by_a_package_star_import_is_read(tmp_path, helper, codes):
    # ``from tools import *`` of a package whose ``__init__`` says ``from .grad_utils import *``,
    # beside another star import (which of them defines the name is looked up)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "__init__.py").write_text("from .reader import *\n")
    (tmp_path / "data" / "reader.py").write_text("def read_rows(path):\n    return open(path).read().split()\n")
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "__init__.py").write_text("from .grad_utils import *\n")
    (tmp_path / "tools" / "grad_utils.py").write_text(
        UTILS + "\n\ndef step_with_rate(optimizer, lr):\n    adjust_learning_rate(optimizer, lr)\n    optimizer.step()\n")
    (tmp_path / "train.py").write_text(LOST_STEP.replace("adjust_learning_rate(", f"{helper}("))
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        result = invoke(["check", "--no-cache", "--select", "OPT104", "--output-format", "json", "train.py"])
    finally:
        os.chdir(cwd)
    assert [(d["code"], d["location"]["row"]) for d in json.loads(result.stdout)] == codes
