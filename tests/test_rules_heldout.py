"""Shapes found by the mutation harness and the precision sweep on held-out repositories
(benchmarks/mutation/heldout.tsv): each a must-fire case and its must-not-fire twin, written
here in the project's own words."""

from __future__ import annotations

import json
import os

from optimlint.config import Settings
from optimlint.fixing import fix_text
from tests.conftest import codes_at, invoke


def lint_project(tmp_path, files: dict[str, str], target: str = "train.py", select: str = "OPT1") -> list:
    """(code, row) of the real CLI's findings on `target`, the other files beside it."""
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        result = invoke(["check", "--no-cache", "--select", select, "--output-format", "json", target])
    finally:
        os.chdir(cwd)
    return [(f["code"], f["location"]["row"]) for f in json.loads(result.output)]

# --------------------------------------------------------------------------- OPT105
# An agent with two optimizers (a policy and a value net), each clipped in its own arm.
ACTOR_CRITIC = """\
import torch
from torch import nn, optim


class Agent:
    def __init__(self):
        self.policy = nn.Linear(4, 2)
        self.value = nn.Linear(4, 1)
        self.policy_opt = optim.Adam(self.policy.parameters(), lr=1e-3)
        self.value_opt = optim.Adam(self.value.parameters(), lr=1e-3)

    def update(self, states, returns):
        for _ in range(10):
            for start in range(0, len(states), 8):
                s = states[start:start + 8]
                policy_loss = -self.policy(s).mean()
                self.policy_opt.zero_grad()
                policy_loss.backward()
                nn.utils.clip_grad_norm_(self.policy.parameters(), 0.5)
                self.policy_opt.step()

                value_loss = (self.value(s) - returns[start:start + 8]).pow(2).mean()
                self.value_opt.zero_grad()
                value_loss.backward()
                nn.utils.clip_grad_norm_(self.value.parameters(), 0.5)
                self.value_opt.step()
"""
POLICY_CLIP = "                nn.utils.clip_grad_norm_(self.policy.parameters(), 0.5)\n"
POLICY_STEP = "                self.policy_opt.step()\n"
CLIP_AFTER_POLICY_STEP = ACTOR_CRITIC.replace(POLICY_CLIP + POLICY_STEP, POLICY_STEP + POLICY_CLIP)


def test_opt105_clip_after_its_own_step_among_several_optimizers():
    assert codes_at(ACTOR_CRITIC, ["OPT105"]) == []
    assert codes_at(CLIP_AFTER_POLICY_STEP, ["OPT105"]) == [("OPT105", 20)]
    out = fix_text("agent.py", CLIP_AFTER_POLICY_STEP, Settings(select=["OPT105"]), False)
    assert out.text == ACTOR_CRITIC


def test_opt105_clip_after_the_last_arm_among_several_optimizers():
    value_clip = "                nn.utils.clip_grad_norm_(self.value.parameters(), 0.5)\n"
    value_step = "                self.value_opt.step()\n"
    src = ACTOR_CRITIC.replace(value_clip + value_step, value_step + value_clip)
    assert codes_at(src, ["OPT105"]) == [("OPT105", 26)]


def test_opt105_silent_when_a_later_optimizer_holds_the_clipped_parameters():
    # the joint optimizer over both nets steps after the clip: the clip bounds what it uses
    src = CLIP_AFTER_POLICY_STEP.replace(
        "        self.value_opt = optim.Adam(self.value.parameters(), lr=1e-3)\n",
        "        self.value_opt = optim.Adam([*self.policy.parameters(), *self.value.parameters()], lr=1e-3)\n")
    assert codes_at(src, ["OPT105"]) == []


def test_opt105_silent_when_the_clipped_optimizer_steps_again_later():
    src = CLIP_AFTER_POLICY_STEP.replace(
        "                self.value_opt.step()\n",
        "                self.value_opt.step()\n                self.policy_opt.step()\n")
    assert codes_at(src, ["OPT105"]) == []


# --------------------------------------------------------------------------- OPT101
# A weight-averaging helper of the project, called after every step with the averaged copy and
# the model: a method named for a step that copies the weights in (`load_state_dict`) before
# averaging them. Copying weights never clears a gradient.
AVERAGER = """\
class Averager:
    def __init__(self, beta):
        self.beta = beta
        self.count = 0

    def blend(self, avg_model, model):
        for p_avg, p in zip(avg_model.parameters(), model.parameters()):
            p_avg.data = p_avg.data * self.beta + (1 - self.beta) * p.data

    def step_average(self, avg_model, model, warmup=1000):
        if self.count < warmup:
            avg_model.load_state_dict(model.state_dict())
            self.count += 1
            return
        self.blend(avg_model, model)
        self.count += 1
"""
TRAIN_WITH_AVERAGE = """\
import copy

import torch
from torch import nn

from averaging import Averager


def train(loader, epochs):
    model = nn.Linear(4, 1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)
    averager = Averager(0.999)
    avg_model = copy.deepcopy(model).eval().requires_grad_(False)
    for epoch in range(epochs):
        for x, y in loader:
            loss = (model(x) - y).pow(2).mean()
            loss.backward()
            optimizer.step()
            averager.step_average(avg_model, model)
"""


def test_opt101_weight_average_helper_that_loads_a_state_dict_never_clears(tmp_path):
    files = {"averaging.py": AVERAGER, "train.py": TRAIN_WITH_AVERAGE}
    assert lint_project(tmp_path, files) == [("OPT101", 17)]


def test_opt101_silent_when_the_step_named_helper_clears_the_model(tmp_path):
    clearing = AVERAGER.replace("        self.blend(avg_model, model)\n",
                                "        self.blend(avg_model, model)\n        model.zero_grad()\n")
    files = {"averaging.py": clearing, "train.py": TRAIN_WITH_AVERAGE}
    assert lint_project(tmp_path, files) == []


def test_opt101_silent_when_the_helper_loads_an_optimizer_state(tmp_path):
    # an optimizer's `load_state_dict` is not a module's: the helper stays unknown
    restoring = AVERAGER.replace("    def step_average(self, avg_model, model, warmup=1000):\n",
                                 "    def step_average(self, avg_model, model, opt=None, warmup=1000):\n"
                                 ).replace("            self.count += 1\n            return\n",
                                           "            self.count += 1\n            opt.load_state_dict({})\n"
                                           "            return\n")
    files = {"averaging.py": restoring,
             "train.py": TRAIN_WITH_AVERAGE.replace("step_average(avg_model, model)",
                                                    "step_average(avg_model, model, optimizer)")}
    assert lint_project(tmp_path, files) == []


# An experiment class whose training method gets its optimizer from another method of the
# class; the local's name (`net_optim`) is not one the name rule knows, so only what the
# method returns says it is an optimizer.
EXPERIMENT = """\
import torch
from torch import nn, optim


class Experiment:
    def __init__(self, lr):
        self.lr = lr
        self.net = nn.Linear(8, 1)

    def _make_optimizer(self):
        return optim.Adam(self.net.parameters(), lr=self.lr)

    def fit(self, loader, epochs):
        net_optim = self._make_optimizer()
        for epoch in range(epochs):
            for x, y in loader:
                net_optim.zero_grad()
                loss = (self.net(x) - y).abs().mean()
                loss.backward()
                net_optim.step()
"""


def test_opt101_optimizer_handed_back_by_a_method_of_the_class():
    assert codes_at(EXPERIMENT, ["OPT1"]) == []
    never_clears = EXPERIMENT.replace("                net_optim.zero_grad()\n", "")
    assert codes_at(never_clears, ["OPT1"]) == [("OPT101", 18)]


def test_opt101_optimizer_handed_back_by_a_function_of_the_file():
    src = EXPERIMENT.replace("    def _make_optimizer(self):\n        return optim.Adam(self.net.parameters(), lr=self.lr)\n\n",
                             "").replace("self._make_optimizer()", "make_optimizer(self.net)")
    src = src.replace("class Experiment:", "def make_optimizer(net):\n    return optim.SGD(net.parameters(), lr=0.1)\n\n\n"
                      "class Experiment:")
    never_clears = src.replace("                net_optim.zero_grad()\n", "")
    assert codes_at(src, ["OPT1"]) == []
    assert codes_at(never_clears, ["OPT1"]) == [("OPT101", 19)]


def test_opt101_silent_when_the_method_may_hand_back_something_else():
    # one return builds an optimizer, the other hands back whatever it was given
    src = EXPERIMENT.replace(
        "    def _make_optimizer(self):\n        return optim.Adam(",
        "    def _make_optimizer(self, given=None):\n        if given is not None:\n            return given\n"
        "        return optim.Adam(").replace("                net_optim.zero_grad()\n", "")
    assert codes_at(src, ["OPT1"]) == []


# A helper of the project's own package, reached through the package's `__init__`, which
# re-exports its modules with star imports; it only measures the weights, under no_grad.
WEIGHT_STATS = """\
import torch


@torch.no_grad()
def weight_drift(model):
    drift = {}
    for name, param in model.named_parameters():
        drift[name] = param.detach().abs().mean().item()
    return drift
"""
TRAIN_WITH_STATS = """\
import torch
from torch import nn

from tools import weight_drift


def train(loader, epochs):
    model = nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for epoch in range(epochs):
        for x, y in loader:
            loss = (model(x) - y).pow(2).mean()
            loss.backward()
            optimizer.step()
            print(weight_drift(model))
"""


def test_opt101_helper_reexported_by_a_package_star_import_is_read(tmp_path):
    files = {"tools/__init__.py": "from .stats import *\n", "tools/stats.py": WEIGHT_STATS,
             "train.py": TRAIN_WITH_STATS}
    assert lint_project(tmp_path, files) == [("OPT101", 13)]


def test_opt101_helper_reexported_by_name_is_read(tmp_path):
    files = {"tools/__init__.py": "from .stats import weight_drift\n", "tools/stats.py": WEIGHT_STATS,
             "train.py": TRAIN_WITH_STATS}
    assert lint_project(tmp_path, files) == [("OPT101", 13)]


def test_opt101_silent_when_the_reexported_helper_clears(tmp_path):
    clearing = WEIGHT_STATS.replace("    return drift\n", "    model.zero_grad()\n    return drift\n")
    files = {"tools/__init__.py": "from .stats import *\n", "tools/stats.py": clearing,
             "train.py": TRAIN_WITH_STATS}
    assert lint_project(tmp_path, files) == []


def test_opt101_silent_when_the_package_defines_the_name_itself(tmp_path):
    # the package's own (clearing) function wins over what its star import would bring
    init = "from .stats import *\n\n\ndef weight_drift(model):\n    model.zero_grad()\n    return {}\n"
    files = {"tools/__init__.py": init, "tools/stats.py": WEIGHT_STATS, "train.py": TRAIN_WITH_STATS}
    assert lint_project(tmp_path, files) == []


def test_opt101_silent_when_the_helper_has_an_unknown_decorator(tmp_path):
    # a decorator of the project may do anything with the model it is handed
    wrapped = WEIGHT_STATS.replace("@torch.no_grad()", "@registry.track()").replace(
        "import torch\n", "import torch\n\nfrom registry_lib import registry\n")
    files = {"tools/__init__.py": "from .stats import *\n", "tools/stats.py": wrapped, "train.py": TRAIN_WITH_STATS}
    assert lint_project(tmp_path, files) == []


# --------------------------------------------------------------------------- OPT000
def _notebook(*cells: tuple[str, str]) -> str:
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": kind, "metadata": {}, "source": text, **({"outputs": [], "execution_count": None}
                                                               if kind == "code" else {})}
        for kind, text in cells]})


def test_opt000_line_named_in_a_notebook_syntax_error_is_the_cells_own(tmp_path):
    # a cell that shows a fragment: the `with` has no body; CPython names the `with`'s line
    nb = _notebook(("code", "import torch\nx = torch.ones(2)\n"), ("markdown", "Mixed precision:"),
                   ("code", "# the forward\nwith torch.autocast('cpu'):\n\n# the backward\nloss.backward()\n"))
    (tmp_path / "notes.ipynb").write_text(nb)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        result = invoke(["check", "--no-cache", "--output-format", "concise", "notes.ipynb"])
    finally:
        os.chdir(cwd)
    assert result.output.splitlines()[0] == (
        "notes.ipynb:cell 3:5:1: OPT000 SyntaxError: expected an indented block after 'with' statement on line 2")
