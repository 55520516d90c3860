"""Calls in a training loop that are read instead of guessed (issue 13, shapes 2, 3 and 6): a
loop that never clears is reported when everything else it calls provably leaves the gradients
alone, and stays silent when one of those calls may clear them.

- a project scheduler class (``class WarmUp(_LRScheduler)`` in another file) is a scheduler:
  its ``step()`` is not an unknown object's step that might be an optimizer's;
- a method of a project class called on the model (``model.init_hidden(...)``) is summarised
  like a project function; one that calls ``self.zero_grad()`` keeps the loop silent;
- ``self.fc(x)`` inside a class that holds ``fc = nn.Linear(...)`` is that submodule's forward;
- ``model.generate(...)`` / ``model.save_pretrained(...)`` of a module read it, never clear it;
- a function nested in the one whose loop calls it (``def update(batch): ...`` then
  ``update(batch)`` in the loop) is inlined like a module-level helper;
- a recursive helper (``repackage_hidden``) is summarised instead of being opaque.

Runs the real CLI on files written to a temporary folder.
"""

from __future__ import annotations

import json
import os

import pytest

from tests.conftest import invoke
from tests.test_rules_scheduler_conditional_steps import TWO_OPTIMIZERS


def lint(tmp_path, files: dict[str, str], target: str = "train.py", select: str = "OPT101") -> list[tuple[str, int]]:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        result = invoke(["check", "--no-cache", "--select", select, "--output-format", "json", target])
    finally:
        os.chdir(cwd)
    return [(f["code"], f["location"]["row"]) for f in json.loads(result.output)]


WARMUP = '''\
from torch.optim.lr_scheduler import _LRScheduler


class LinearWarmup(_LRScheduler):
    def __init__(self, optimizer, total, last_epoch=-1):
        self.total = total
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [lr * min(1.0, self.last_epoch / self.total) for lr in self.base_lrs]
'''

NOT_A_SCHEDULER = '''\
class LinearWarmup:
    def __init__(self, optimizer, total):
        self.optimizer = optimizer

    def step(self):
        self.optimizer.zero_grad()
'''

TRAIN_WITH_WARMUP = '''\
import torch
from torch import nn

from schedules import LinearWarmup


def train(model, optimizer, warmup, batches):
    for inputs, targets in batches:
        loss = nn.functional.mse_loss(model(inputs), targets)
        loss.backward()
        optimizer.step()
        warmup.step()


def main():
    model = nn.Linear(4, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    warmup = LinearWarmup(optimizer, 100)
    train(model, optimizer, warmup, [(torch.randn(8, 4), torch.randn(8, 2))] * 5)
'''


def test_a_project_scheduler_class_in_another_file_is_a_scheduler(tmp_path):
    assert lint(tmp_path, {"schedules.py": WARMUP, "train.py": TRAIN_WITH_WARMUP}) == [("OPT101", 10)]


def test_a_project_class_that_is_no_scheduler_keeps_its_step_opaque(tmp_path):
    # its step() clears the optimizer it holds: the loop is correct
    assert lint(tmp_path, {"schedules.py": NOT_A_SCHEDULER, "train.py": TRAIN_WITH_WARMUP}) == []


def test_a_scheduler_subclass_of_the_same_file_stepped_before_the_optimizer(tmp_path):
    source = WARMUP + TRAIN_WITH_WARMUP.replace("from schedules import LinearWarmup\n", "").replace(
        "        optimizer.step()\n        warmup.step()\n", "        warmup.step()\n        optimizer.step()\n")
    source = source.replace("        loss.backward()\n", "        optimizer.zero_grad()\n        loss.backward()\n")
    found = lint(tmp_path, {"train.py": source}, select="OPT101,OPT201")
    assert found == [("OPT201", source.splitlines().index("        warmup.step()") + 1)]


RNN_MODEL = '''\
import torch
from torch import nn


class CharModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(8, 16, batch_first=True)
        self.head = nn.Linear(16, 8)

    def forward(self, x, hidden):
        out, hidden = self.rnn(x, hidden)
        return self.head(out), hidden

    def init_hidden(self, batch_size):
        return torch.zeros(1, batch_size, 16)

    def restart(self, batch_size):
        self.zero_grad()
        return self.init_hidden(batch_size)
'''

RNN_TRAIN = '''\
import torch
from torch import nn

from model import CharModel

model = CharModel()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
for epoch in range(10):
    hidden = model.{method}(4)
    inputs, targets = torch.randn(4, 5, 8), torch.randn(4, 5, 8)
    output, hidden = model(inputs, hidden)
    loss = nn.functional.mse_loss(output, targets)
    loss.backward()
    optimizer.step()
'''


def test_a_method_of_the_models_project_class_that_never_touches_gradients(tmp_path):
    files = {"model.py": RNN_MODEL, "train.py": RNN_TRAIN.format(method="init_hidden")}
    assert lint(tmp_path, files) == [("OPT101", 13)]


def test_a_method_of_the_models_class_that_clears_keeps_the_loop_silent(tmp_path):
    files = {"model.py": RNN_MODEL, "train.py": RNN_TRAIN.format(method="restart")}
    assert lint(tmp_path, files) == []


AGENT = '''\
import torch
from torch import nn


class Agent(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(4, 16)
        self.value = nn.Linear(16, 1)
        self.optimizer = torch.optim.Adam(self.parameters(), lr=3e-4)

    def estimate(self, states):
        return self.value(torch.relu(self.body(states)))

    def learn(self, states, returns, epochs):
        for _ in range(epochs):
            loss = (self.estimate(states) - returns).pow(2).mean()
{clear}            loss.backward()
            self.optimizer.step()
'''


def test_submodule_forwards_of_a_class_holding_its_optimizer(tmp_path):
    assert lint(tmp_path, {"agent.py": AGENT.format(clear="")}, target="agent.py") == [("OPT101", 18)]


def test_submodule_forwards_with_a_clear_are_silent(tmp_path):
    source = AGENT.format(clear="            self.optimizer.zero_grad()\n")
    assert lint(tmp_path, {"agent.py": source}, target="agent.py") == []


GENERATE = '''\
import torch

from lm import TinyLM

model = TinyLM()
optim = torch.optim.AdamW(model.parameters(), lr=1e-4)
for step in range(100):
    tokens = torch.randint(0, 50, (4, 32))
    loss = model(tokens)
    loss.backward()
    optim.step()
{clear}    if step % 10 == 0:
        sample = model.generate(tokens[:1], 16)
        model.save_pretrained("checkpoints")
'''


def test_generation_and_saving_in_the_loop_never_clear(tmp_path):
    assert lint(tmp_path, {"train.py": GENERATE.format(clear="")}) == [("OPT101", 10)]
    assert lint(tmp_path, {"train.py": GENERATE.format(clear="    optim.zero_grad()\n")}) == []


def test_generation_handed_the_optimizer_stays_opaque(tmp_path):
    source = GENERATE.format(clear="").replace("model.generate(tokens[:1], 16)", "model.generate(tokens[:1], optim)")
    assert lint(tmp_path, {"train.py": source}) == []


NESTED = '''\
import torch
from torch import nn


def run(steps):
    critic = nn.Linear(6, 1)
    critic_opt = torch.optim.Adam(critic.parameters(), lr=1e-3)

    def update(batch):
{clear}        loss = critic(batch).pow(2).mean()
        loss.backward()
        critic_opt.step()

    for t in range(steps):
        batch = torch.randn(32, 6)
        if t % 4 == 0:
            for _ in range(4):
                update(batch)
'''


def test_a_nested_update_function_called_in_the_loop(tmp_path):
    assert lint(tmp_path, {"train.py": NESTED.format(clear="")}) == [("OPT101", 11)]


def test_a_nested_update_function_that_clears(tmp_path):
    assert lint(tmp_path, {"train.py": NESTED.format(clear="        critic_opt.zero_grad()\n")}) == []


RECURSIVE = '''\
import torch
from torch import nn


def detach_state(h):
{body}


model = nn.LSTM(8, 8)
optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
state = None
for chunk in torch.randn(10, 5, 1, 8):
    if state is not None:
        state = detach_state(state)
    out, state = model(chunk, state)
    loss = out.pow(2).mean()
    loss.backward()
    optimizer.step()
'''

DETACH = '''\
    if isinstance(h, torch.Tensor):
        return h.detach()
    return tuple(detach_state(v) for v in h)'''

DETACH_AND_CLEAR = '''\
    if isinstance(h, torch.Tensor):
        optimizer.zero_grad()
        return h.detach()
    return tuple(detach_state(v) for v in h)'''


@pytest.mark.parametrize(("body", "expected"), [(DETACH, [("OPT101", 19)]), (DETACH_AND_CLEAR, [])])
def test_a_recursive_helper_is_summarised(tmp_path, body, expected):
    assert lint(tmp_path, {"train.py": RECURSIVE.format(body=body)}) == expected


HANDS_ON = '''\
def run_epoch(trainer):
    trainer.fit_one()
'''

CALLER = '''\
import torch
from torch import nn

from helpers import run_epoch

model = nn.Linear(4, 2)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for x in torch.randn(10, 8, 4):
    model(x).sum().backward()
    run_epoch(model)
    optimizer.step()
'''


def test_a_project_function_calling_a_method_of_its_argument_stays_opaque(tmp_path):
    # ``trainer.fit_one()`` may clear whatever it holds
    assert lint(tmp_path, {"helpers.py": HANDS_ON, "train.py": CALLER}) == []


AGENT_FILE = '''\
import torch
from torch import nn


class Critic(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Linear(6, 1)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=3e-4)

    def act(self, state):
        with torch.no_grad():
            return self.net(state)

    def update(self, states, targets):
{clear}        loss = (self.net(states) - targets).pow(2).mean()
        loss.backward()
        self.optimizer.step()
'''

RUNNER_FILE = '''\
import torch

import critic


def main(steps):
    if steps > 10:
        agent = critic.Critic()
    else:
        agent = Other()
    for t in range(steps):
        value = agent.act(torch.randn(1, 6))
        {between}agent.update(torch.randn(32, 6), torch.randn(32, 1))
'''


def test_a_step_method_called_in_a_loop_of_another_file_that_never_clears(tmp_path):
    files = {"critic.py": AGENT_FILE.format(clear=""), "run.py": RUNNER_FILE.format(between="")}
    assert lint(tmp_path, files, target="critic.py") == [("OPT101", 17)]
    out = invoke_json(tmp_path, "critic.py")
    assert "the loop at run.py:11 calls it without clearing" in out[0]["message"]


def test_a_step_method_of_a_class_a_package_re_exports(tmp_path):
    # ``from agents import algo`` then ``algo.Critic()``: the runner names the package and the
    # class, never the module ``agents/algo/critic.py``
    runner = RUNNER_FILE.format(between="").replace("import critic\n", "from agents import algo\n") \
        .replace("critic.Critic()", "algo.Critic()")
    files = {"agents/__init__.py": "", "agents/algo/__init__.py": "from .critic import Critic\n",
             "agents/algo/critic.py": AGENT_FILE.format(clear=""), "run.py": runner}
    assert lint(tmp_path, files, target="agents/algo/critic.py") == [("OPT101", 17)]
    cleared = AGENT_FILE.format(clear="        self.optimizer.zero_grad()\n")
    assert lint(tmp_path, {**files, "agents/algo/critic.py": cleared}, target="agents/algo/critic.py") == []


def test_a_step_method_that_clears_itself(tmp_path):
    files = {"critic.py": AGENT_FILE.format(clear="        self.optimizer.zero_grad()\n"),
             "run.py": RUNNER_FILE.format(between="")}
    assert lint(tmp_path, files, target="critic.py") == []


def test_a_caller_loop_that_clears_keeps_the_step_method_silent(tmp_path):
    files = {"critic.py": AGENT_FILE.format(clear=""),
             "run.py": RUNNER_FILE.format(between="agent.optimizer.zero_grad()\n        ")}
    assert lint(tmp_path, files, target="critic.py") == []


def test_a_step_method_no_loop_calls_stays_silent(tmp_path):
    runner = RUNNER_FILE.format(between="").replace("    for t in range(steps):\n", "    if steps:\n")
    files = {"critic.py": AGENT_FILE.format(clear=""), "run.py": runner}
    assert lint(tmp_path, files, target="critic.py") == []


def test_a_caller_loop_calling_an_unknown_method_of_the_agent_stays_silent(tmp_path):
    # ``agent.reset()`` is no method of the class we can read: it may clear
    files = {"critic.py": AGENT_FILE.format(clear=""), "run.py": RUNNER_FILE.format(between="agent.reset()\n        ")}
    assert lint(tmp_path, files, target="critic.py") == []


def invoke_json(tmp_path, target: str) -> list[dict]:
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        result = invoke(["check", "--no-cache", "--select", "OPT101", "--output-format", "json", target])
    finally:
        os.chdir(cwd)
    return json.loads(result.output)


EPOCH_FUNCTION = '''\
import torch
from torch import nn


def train_epoch(model, loader, optimizer, scheduler):
    scheduler.step()
    for x, y in loader:
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
'''

EPOCH_RUNNER = '''\
import torch
from torch import nn

from epochs import train_epoch

model = nn.Linear(4, 2)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=30)
loader = torch.utils.data.DataLoader([(torch.randn(4), torch.randn(2))] * 8, batch_size=2)
{run}
'''


def test_an_epoch_function_stepping_its_scheduler_first_called_from_another_files_epoch_loop(tmp_path):
    files = {"epochs.py": EPOCH_FUNCTION,
             "run.py": EPOCH_RUNNER.format(run="for epoch in range(90):\n    train_epoch(model, loader, optimizer, scheduler)")}
    assert lint(tmp_path, files, target="epochs.py", select="OPT201") == [("OPT201", 6)]


def test_an_epoch_function_called_once_is_not_claimed(tmp_path):
    files = {"epochs.py": EPOCH_FUNCTION,
             "run.py": EPOCH_RUNNER.format(run="train_epoch(model, loader, optimizer, scheduler)")}
    assert lint(tmp_path, files, target="epochs.py", select="OPT201") == []


def test_an_epoch_function_no_file_calls_steps_its_scheduler_first(tmp_path):
    """A utility kept from another project, called by nothing this project holds: whoever calls
    it, its first call steps the scheduler before the optimizer has stepped once."""
    files = {"epochs.py": EPOCH_FUNCTION, "run.py": EPOCH_RUNNER.format(run="print(model)")}
    assert lint(tmp_path, files, target="epochs.py", select="OPT201") == [("OPT201", 6)]


def test_an_epoch_function_in_a_tree_too_big_to_read_for_callers_is_not_claimed(tmp_path, monkeypatch):
    """Over ``callers.MAX_FILES`` files nothing is read for callers: "no file calls it" is not
    known then (a single call elsewhere is not claimed), so the head of the function is left."""
    from optimlint.analysis import callers

    monkeypatch.setattr(callers, "MAX_FILES", 1)
    files = {"epochs.py": EPOCH_FUNCTION, "run.py": EPOCH_RUNNER.format(run="print(model)")}
    assert lint(tmp_path, files, target="epochs.py", select="OPT201") == []


@pytest.mark.parametrize("change", [
    # the scheduler after the epoch's batch loop
    lambda t: t.replace("    scheduler.step()\n", "") + "    scheduler.step()\n",
    # stepped only from the second epoch on
    lambda t: t.replace("def train_epoch(model, loader, optimizer, scheduler):\n    scheduler.step()",
                        "def train_epoch(model, loader, optimizer, scheduler, epoch):\n    if epoch > 0:\n"
                        "        scheduler.step()"),
    # a method: whoever calls it is out of sight
    lambda t: t.replace("def train_epoch(model, loader, optimizer, scheduler):",
                        "class Trainer:\n    def train_epoch(self, model, loader, optimizer, scheduler):").replace(
                        "\n    ", "\n        ").replace("class Trainer:\n        def", "class Trainer:\n    def"),
], ids=["after-the-loop", "from-the-second-epoch", "a-method"])
def test_an_epoch_function_no_file_calls_but_right_or_out_of_sight(tmp_path, change):
    files = {"epochs.py": change(EPOCH_FUNCTION), "run.py": EPOCH_RUNNER.format(run="print(model)")}
    assert lint(tmp_path, files, target="epochs.py", select="OPT201") == []


# A notebook's shape (issue 13, RL notebooks): the model is rebuilt from a second class in a
# later cell, moved with ``model = model.cuda()``, and a module-level lambda wraps tensors.
AGENTS = '''\
import random

import torch
from torch import autograd, nn

USE_CUDA = torch.cuda.is_available()
Variable = lambda *args, **kwargs: autograd.Variable(*args, **kwargs).cuda() if USE_CUDA else autograd.Variable(*args, **kwargs)


class SmallNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.Linear(4, 2)

    def forward(self, x):
        return self.layers(x)

    def act(self, state, epsilon):
        if random.random() > epsilon:
            return self.forward(Variable(torch.FloatTensor(state))).max(0)[1].item()
        return random.randrange(2)


class WideNet(SmallNet):
    def act(self, state, epsilon):
        {wide_act}


model = SmallNet()
if USE_CUDA:
    model = model.cuda()
optimizer = torch.optim.Adam(model.parameters())


def compute_loss(state):
    loss = model(Variable(torch.FloatTensor(state))).pow(2).mean()
    loss.backward()
    optimizer.step()
    return loss


for frame in range(100):
    action = model.act([0.0] * 4, 0.1)
    compute_loss([0.0] * 4)

model = WideNet()
'''


def test_a_method_every_class_of_the_model_keeps_harmless_does_not_hide_the_missing_clear(tmp_path):
    src = AGENTS.replace("{wide_act}", "return super().act(state, epsilon)")
    assert lint(tmp_path, {"train.py": src}) == [("OPT101", src.splitlines().index("    loss.backward()") + 1)]


@pytest.mark.parametrize("wide_act", ["optimizer.zero_grad()\n        return 0", "return plan(state)"])
def test_a_method_one_class_of_the_model_may_clear_with_keeps_the_loop_silent(tmp_path, wide_act):
    src = AGENTS.replace("{wide_act}", wide_act).replace("import random\n", "import random\nfrom planner import plan\n")
    assert lint(tmp_path, {"train.py": src}) == []


# The same shape in one file (issue 13, minimalRL's agents): the loop in main() calls the
# agent's train method, a method of an object is not inlined into the loop.
ONE_FILE = AGENT_FILE + '''

def main(episodes):
    agent = Critic()
    for episode in range(episodes):
        value = agent.act(torch.randn(1, 6))
        {between}agent.update(torch.randn(32, 6), torch.randn(32, 1))
'''


def test_a_step_method_called_in_a_loop_of_its_own_file_that_never_clears(tmp_path):
    src = ONE_FILE.format(clear="", between="")
    assert lint(tmp_path, {"agent.py": src}, target="agent.py") == [("OPT101", 17)]
    out = invoke_json(tmp_path, "agent.py")
    row = src.splitlines().index("    for episode in range(episodes):") + 1
    assert f"the loop at agent.py:{row} calls it without clearing" in out[0]["message"]


def test_agents_built_in_one_tuple_assignment_are_each_their_class(tmp_path):
    # ``q1, q2 = Critic(), Critic()``: each name gets its own element (SAC's twin critics)
    src = ONE_FILE.format(clear="", between="").replace("    agent = Critic()\n", "    agent, twin = Critic(), Critic()\n")
    assert lint(tmp_path, {"agent.py": src}, target="agent.py") == [("OPT101", 17)]
    # an unpacking that cannot be paired (a call returning a tuple) says nothing about the class
    unpaired = src.replace("agent, twin = Critic(), Critic()", "agent, twin = make_pair()")
    assert lint(tmp_path, {"agent.py": unpaired}, target="agent.py") == []


@pytest.mark.parametrize("clear, between", [
    ("        self.optimizer.zero_grad()\n", ""),
    ("", "agent.optimizer.zero_grad()\n        "),
    ("", "agent.reset()\n        "),
])
def test_the_same_file_caller_that_clears_or_may_keeps_it_silent(tmp_path, clear, between):
    assert lint(tmp_path, {"agent.py": ONE_FILE.format(clear=clear, between=between)}, target="agent.py") == []


def test_a_step_method_named_like_a_network_is_a_method_not_a_forward(tmp_path):
    # ``agent.train_net()`` ends in ``_net`` like a submodule (``self.q_net(x)``), but the class
    # defines it as a method
    src = ONE_FILE.format(clear="", between="").replace("update(", "train_net(")
    assert lint(tmp_path, {"agent.py": src}, target="agent.py") == [("OPT101", 17)]


# A loop that clears only through ``helper.reset_net()``, a method of a project class.
HELPER_LOOP = '''\
model = nn.Linear(4, 2)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
helper = Helper(optimizer)
for x, y in [(torch.randn(8, 4), torch.randn(8, 2))] * 4:
    helper.reset_net()
    nn.functional.mse_loss(model(x), y).backward()
    optimizer.step()
'''


def test_a_method_named_like_a_network_may_clear(tmp_path):
    # the loop steps itself; ``helper.reset_net()`` (a method of the project class that clears)
    # is no forward of a submodule named ``*_net``
    src = '''\
import torch
from torch import nn


class Helper(nn.Module):
    def __init__(self, optimizer):
        super().__init__()
        self.optimizer = optimizer
        self.net = nn.Linear(4, 2)

    def reset_net(self):
        self.optimizer.zero_grad()


''' + HELPER_LOOP
    assert lint(tmp_path, {"train.py": src}) == []


def test_a_harmless_method_of_an_object_built_with_the_optimizer_does_not_hide_the_missing_clear(tmp_path):
    src = '''\
import torch
from torch import nn


class Agent:
    def __init__(self, model, optimizer):
        self.model = model
        self.optimizer = optimizer

    def act(self, state):
        with torch.no_grad():
            return self.model(state).argmax().item()


model = nn.Linear(4, 2)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
agent = Agent(model, optimizer)
for x, y in [(torch.randn(8, 4), torch.randn(8, 2))] * 4:
    action = agent.act(x)
    nn.functional.mse_loss(model(x), y).backward()
    optimizer.step()
'''
    assert lint(tmp_path, {"train.py": src}) == [("OPT101", 20)]


# A project function reached through ``from utils import *`` is read like an imported one
# (sgrvinod's tutorials: ``clip_gradient(optimizer, grad_clip)`` only clamps the gradients).
CLAMPING_UTILS = '''\
def clip_gradient(optimizer, grad_clip):
    for group in optimizer.param_groups:
        for param in group["params"]:
            if param.grad is not None:
                param.grad.data.clamp_(-grad_clip, grad_clip)
'''

CLEARING_UTILS = '''\
def clip_gradient(optimizer, grad_clip):
    for group in optimizer.param_groups:
        for param in group["params"]:
            if param.grad is not None:
                param.grad.data.clamp_(-grad_clip, grad_clip)
    optimizer.zero_grad()
'''

STAR_TRAIN = '''\
import torch
from torch import nn
from metrics import *
from utils import *

model = nn.Linear(4, 2)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for x, y in [(torch.randn(8, 4), torch.randn(8, 2))] * 3:
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    clip_gradient(optimizer, 5.0)
    optimizer.step()
'''


def test_a_function_from_a_star_import_that_only_clamps_does_not_hide_the_missing_clear(tmp_path):
    files = {"utils.py": CLAMPING_UTILS, "metrics.py": "def accuracy(out, y):\n    return 0.0\n",
             "train.py": STAR_TRAIN}
    assert lint(tmp_path, files) == [("OPT101", 10)]


def test_a_function_from_a_star_import_that_clears_keeps_the_loop_silent(tmp_path):
    files = {"utils.py": CLEARING_UTILS, "metrics.py": "def accuracy(out, y):\n    return 0.0\n",
             "train.py": STAR_TRAIN}
    assert lint(tmp_path, files) == []


# A loss helper of the project that runs the model it is handed (``logits = model(x)``) is a
# forward, not a clearing; one that clears the model's gradients itself is not.
LOSS_HELPER = '''\
import torch


def loss_of_batch(x, y, model):
    logits = model(x)
    return torch.nn.functional.mse_loss(logits, y)
'''

CLEARING_LOSS_HELPER = '''\
import torch


def compute_loss(x, y, model):
    model.zero_grad()
    logits = model(x)
    return torch.nn.functional.mse_loss(logits, y)
'''

HELPER_TRAIN = '''\
import torch
from torch import nn
from losses import {name}

model = nn.Linear(4, 2)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for x, y in [(torch.randn(8, 4), torch.randn(8, 2))] * 3:
    loss = {name}(x, y, model)
    loss.backward()
    optimizer.step()
'''


def test_a_project_helper_that_runs_the_model_it_is_handed_does_not_hide_the_missing_clear(tmp_path):
    files = {"losses.py": LOSS_HELPER, "train.py": HELPER_TRAIN.format(name="loss_of_batch")}
    assert lint(tmp_path, files) == [("OPT101", 9)]


def test_a_loss_helper_that_clears_the_model_keeps_the_loop_silent(tmp_path):
    files = {"losses.py": CLEARING_LOSS_HELPER, "train.py": HELPER_TRAIN.format(name="compute_loss")}
    assert lint(tmp_path, files) == []


# ``import model`` and then ``model = model.RNNModel(...)`` (salesforce's language models): in
# the loop ``model(x)`` is the network's forward, not a call of the imported module.
REBOUND_TRAIN = '''\
import torch
import model

model = model.TinyNet()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for x, y in [(torch.randn(8, 4), torch.randn(8, 2))] * 3:
    out = model(x)
    loss = torch.nn.functional.mse_loss(out, y)
    loss.backward()
    optimizer.step()
'''


def test_a_module_name_rebound_to_the_network_is_a_forward_in_the_loop(tmp_path):
    files = {"model.py": "from torch import nn\n\n\nclass TinyNet(nn.Linear):\n    def __init__(self):\n"
                         "        super().__init__(4, 2)\n", "train.py": REBOUND_TRAIN}
    assert lint(tmp_path, files) == [("OPT101", 9)]


# An evaluation of the project handed the model and the options (``validation(model, criterion,
# loader, opt)`` with ``opt.batch_size`` read all over the file): ``opt`` is not an optimizer, and
# the function's own body (no_grad, a meter's update, a tensor filled with zeros) clears nothing.
EVALUATION = '''\
import torch


def validation(model, criterion, loader, opt):
    total = Meter()
    with torch.no_grad():
        for x, y in loader:
            lengths = torch.LongTensor(opt.batch_size).fill_(0)
            total.update(criterion(model(x), y).item(), lengths)
    return total
'''

OPTIONS_TRAIN = '''\
import torch
from torch import nn
from evaluate import validation


def train(opt):
    model = nn.Linear(4, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=opt.lr)
    for x, y in [(torch.randn(opt.batch_size, 4), torch.randn(opt.batch_size, 2))] * 3:
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        validation(model, nn.functional.mse_loss, [], opt)
'''


def test_an_evaluation_handed_the_options_does_not_hide_the_missing_clear(tmp_path):
    files = {"evaluate.py": EVALUATION, "train.py": OPTIONS_TRAIN}
    assert lint(tmp_path, files) == [("OPT101", 11)]


def test_an_evaluation_that_clears_the_gradients_keeps_the_loop_silent(tmp_path):
    clearing = EVALUATION.replace("    return total\n", "    for p in model.parameters():\n"
                                                         "        p.grad.zero_()\n    return total\n")
    files = {"evaluate.py": clearing, "train.py": OPTIONS_TRAIN}
    assert lint(tmp_path, files) == []


def test_a_call_handed_an_object_used_as_an_optimizer_keeps_the_loop_silent(tmp_path):
    # ``opt`` is read for nothing but what optimizers have: it may be the optimizer
    files = {"evaluate.py": EVALUATION,
             "train.py": OPTIONS_TRAIN.replace("def train(opt):", "def train(opt, cfg):").replace(
                 "opt.lr", "cfg.lr").replace("opt.batch_size", "cfg.batch_size").replace(
                 "validation(model, nn.functional.mse_loss, [], opt)", "opt.param_groups[0]['lr'] = 0.1\n"
                 "        helper(model, opt)")}
    assert lint(tmp_path, files) == []


# A distiller-style trainer (issue 13): the batch loop calls ``self.step(batch)`` (the class's
# own method, not an optimizer's step), which calls ``self.optimize(loss)``, whose
# bookkeeping calls a logging method three calls deep.
TRAINER_CLASS = '''\
import torch


class Teacher:
    def __init__(self, student, loader, writer):
        self.student = student
        self.loader = loader
        self.writer = writer
        self.optimizer = torch.optim.AdamW(student.parameters(), lr=1e-4)
        self.n_iter = 0

    def train(self, epochs):
        for epoch in range(epochs):
            for batch in self.loader:
                self.step(batch)

    def step(self, batch):
        loss = self.student(batch).mean()
        self.optimize(loss)

    def optimize(self, loss):
{clear}        loss.backward()
        self.bump()
        self.optimizer.step()

    def bump(self):
        self.n_iter += 1
        if self.n_iter % 100 == 0:
            self.log_stats()

    def log_stats(self):
        for name, p in self.student.named_parameters():
            self.writer.add_scalar(name, p.grad.norm(){log_extra})
'''


def test_a_trainer_whose_loop_calls_its_own_step_method_that_never_clears(tmp_path):
    src = TRAINER_CLASS.format(clear="", log_extra="")
    row = src.splitlines().index("        loss.backward()") + 1
    assert lint(tmp_path, {"distill.py": src}, target="distill.py") == [("OPT101", row)]


@pytest.mark.parametrize("clear, log_extra", [
    ("        self.optimizer.zero_grad()\n", ""),
    # the logging method three calls deep clears: it may run every iteration
    ("", ")\n        self.optimizer.zero_grad(")
])
def test_a_trainer_step_method_that_clears_somewhere_stays_silent(tmp_path, clear, log_extra):
    src = TRAINER_CLASS.format(clear=clear, log_extra=log_extra)
    assert lint(tmp_path, {"distill.py": src}, target="distill.py") == []


# A project's own wrapper class with a sampling method (x-transformers-style): the loop
# samples from it every few iterations and never clears.
WRAPPER_LIB = '''\
import torch
from torch import nn


class SamplingWrapper(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x).pow(2).mean()

    @torch.no_grad()
    def generate_tokens(self, prompt, length):
        out = prompt
        for _ in range(length):
            out = torch.cat([out, self.net(out)[-1:]])
        {extra}return out
'''

SAMPLING_LOOP = '''\
import torch
from torch import nn

from wrappers import SamplingWrapper

wrapper = SamplingWrapper(nn.Linear(4, 4))
optim = torch.optim.Adam(wrapper.parameters(), lr=1e-3)

for i in range(100):
    loss = wrapper(torch.randn(8, 4))
    loss.backward()
    optim.step()
    if i % 10 == 0:
        sample = wrapper.generate_tokens(torch.randn(2, 4), 5)
'''


def test_a_project_method_named_for_sampling_does_not_hide_the_missing_clear(tmp_path):
    files = {"wrappers.py": WRAPPER_LIB.format(extra=""), "train.py": SAMPLING_LOOP}
    assert lint(tmp_path, files) == [("OPT101", 11)]


def test_a_project_sampling_method_that_backpropagates_keeps_the_loop_silent(tmp_path):
    lib = WRAPPER_LIB.format(extra="out.sum().backward()\n        ")
    assert lint(tmp_path, {"wrappers.py": lib, "train.py": SAMPLING_LOOP}) == []


HELPERS_BASE = '''\
from torch import nn


class Base(nn.Module):
    def reset_net(self):
        self.optimizer.zero_grad()
{again}

class Helper(Base):
    def __init__(self, optimizer):
        super().__init__()
        self.optimizer = optimizer
        self.net = nn.Linear(4, 2)
'''

USES_HELPER = '''\
import torch
from torch import nn

from helpers import Helper

''' + HELPER_LOOP


def test_a_method_named_like_a_network_inherited_from_a_project_base_of_another_file(tmp_path):
    # ``Helper`` of helpers.py inherits ``reset_net`` from ``Base``: a method of the object's
    # class (read off the classes' defs, without parsing them), which clears; not the forward
    # of a submodule named ``*_net``
    assert lint(tmp_path, {"train.py": USES_HELPER, "helpers.py": HELPERS_BASE.format(again="")}) == []
    # defined twice in ``Base``: which one runs is not known, and the name reads as a forward
    twice = HELPERS_BASE.format(again="\n    def reset_net(self):\n        self.optimizer.zero_grad()\n")
    assert lint(tmp_path, {"train.py": USES_HELPER, "helpers.py": twice}) == [("OPT101", 11)]


WRAPPED_SCHEDULER = '''\
import numpy as np


def seq_train(loader, model, optimizer, recoder):
    model.train()
    losses = []
{head}    for batch_idx, data in enumerate(loader):
        loss = model.criterion_calculation(model(data[0]), data[1])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
{tail}    recoder.print_log(np.mean(losses))
'''


def test_a_scheduler_carried_by_a_wrapped_optimizer_parameter_stepped_first(tmp_path):
    """``optimizer.scheduler``: a project's optimizer wrapper handed in, carrying its scheduler
    (VAC_CSLR's ``seq_train``), stepped at the head of the epoch function."""
    text = WRAPPED_SCHEDULER.format(head="    optimizer.scheduler.step()\n", tail="")
    assert lint(tmp_path, {"seq_scripts.py": text}, target="seq_scripts.py", select="OPT201") == [("OPT201", 7)]


@pytest.mark.parametrize("head, tail", [
    ("", "    optimizer.scheduler.step()\n"),  # after the batch loop: right
    ("    x = optimizer.scheduler.step(model, 0, losses)\n", ""),  # a sampler's step(out, t, x): no LR schedule
])
def test_a_scheduler_carried_by_a_parameter_but_right_or_no_lr_schedule(tmp_path, head, tail):
    text = WRAPPED_SCHEDULER.format(head=head, tail=tail)
    assert lint(tmp_path, {"seq_scripts.py": text}, target="seq_scripts.py", select="OPT2") == []


SCHEDULER_FACTORY = '''\
from torch.optim.lr_scheduler import LambdaLR


def build_scheduler(optimizer, steps_per_epoch, cfg):
    if cfg["kind"] == "warmup":
        return LambdaLR(optimizer, lambda s: min(1.0, s / steps_per_epoch)), "warm-up"
    return LambdaLR(optimizer, lambda s: 1.0), "constant"
'''

GAN_LOOP = "import torch\n\nfrom schedules import build_scheduler\n\n\n" + \
    TWO_OPTIMIZERS[TWO_OPTIMIZERS.index("def main("):].replace("{handed}", "optimizer")


@pytest.mark.parametrize("first, last, found", [
    ("            scheduler.step()\n", "", [("OPT201", 14)]),
    ("", "            scheduler.step()\n", []),
], ids=["before", "after"])
def test_a_scheduler_from_another_files_factory_is_over_the_optimizer_handed_to_it(tmp_path, first, last, found):
    """RAE's shape: ``scheduler, msg = build_scheduler(optimizer, ...)`` from another file, a
    discriminator's optimizer stepped in the same loop: the scheduler is the one handed."""
    files = {"schedules.py": SCHEDULER_FACTORY, "train.py": GAN_LOOP.format(first=first, last=last)}
    assert lint(tmp_path, files, target="train.py", select="OPT201") == found
