"""Step methods with no loop of their own, run by a loop somewhere else (an RL agent's
``learn()`` called once per environment step by a script of the project).

- The agent steps an optimizer its network object builds for itself
  (``self.optimizer = optim.Adam(self.parameters())`` in the network's ``__init__``, stepped as
  ``self.critic.optimizer.step()``): that optimizer covers the held network's parameters, so
  unrelated calls on the agent (``np.random.choice(self.capacity, ...)``) cannot clear it.
- ``learn()`` is a pass of its runner's loop only when a loop of the project calls it: OPT101
  needs a loop that never clears, OPT104 (a lost step) a loop that never steps.
- A method of a base class of another file (``self.record(...)`` of ``BaseAgent``), a module
  the network holds (``self.critic.loss_fn(q, target)``), an RL task stepped with actions, and
  a clip function reached through a chain of star imports are read, not left opaque.
"""

from __future__ import annotations

from tests.test_rules_heldout import lint_project

AGENT = """\
import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim


class Critic(nn.Module):
    def __init__(self, lr):
        super().__init__()
        self.body = nn.Linear(8, 4)
        self.loss_fn = nn.SmoothL1Loss()
        self.optimizer = optim.RMSprop(self.parameters(), lr=lr)

    def forward(self, x):
        return self.body(x)


class Learner:
    def __init__(self, lr, capacity=1000, batch=32):
        self.critic = Critic(lr)
        self.capacity = capacity
        self.batch = batch
        self.states = np.zeros((capacity, 8), dtype=np.float32)
        self.targets = np.zeros((capacity, 4), dtype=np.float32)

    def act(self, state):
        with torch.no_grad():
            return int(self.critic(torch.tensor(state)).argmax())

    def learn(self):
        self.critic.optimizer.zero_grad()
        rows = np.random.choice(self.capacity, self.batch)
        q = self.critic(torch.tensor(self.states[rows]))
        loss = self.critic.loss_fn(q, torch.tensor(self.targets[rows]))
        loss.backward()
        self.critic.optimizer.step()
"""

RUN = """\
from agent import Learner


def main(env, episodes):
    learner = Learner(lr=1e-3)
    for _ in range(episodes):
        state, done = env.reset(), False
        while not done:
            state, reward, done = env.step(learner.act(state))
            learner.learn()
"""

CLEAR, BACKWARD, STEP = 31, 35, 36  # rows in AGENT


def _without(text: str, row: int) -> str:
    lines = text.splitlines(keepends=True)
    return "".join(lines[:row - 1] + lines[row:])


def _step_first(text: str) -> str:
    lines = text.splitlines(keepends=True)
    lines[BACKWARD - 1], lines[STEP - 1] = lines[STEP - 1], lines[BACKWARD - 1]
    return "".join(lines)


def _lint(tmp_path, agent: str, run: str = RUN, **files: str) -> list:
    return lint_project(tmp_path, {"agent.py": agent, "run.py": run, **files}, target="agent.py")


# ------------------------------------------------------------------ must fire
def test_the_correct_agent_is_silent(tmp_path):
    assert _lint(tmp_path, AGENT) == []


def test_opt103_step_of_the_networks_optimizer_before_the_backward(tmp_path):
    assert _lint(tmp_path, _step_first(AGENT)) == [("OPT103", BACKWARD)]


def test_opt104_lost_step_of_the_networks_optimizer_in_a_learn_run_by_a_loop(tmp_path):
    assert _lint(tmp_path, _without(AGENT, STEP)) == [("OPT104", BACKWARD)]


def test_opt101_lost_clear_in_a_learn_run_by_a_loop_that_never_clears(tmp_path):
    assert _lint(tmp_path, _without(AGENT, CLEAR)) == [("OPT101", BACKWARD - 1)]


NETWORKS = """\
import torch.nn as nn
from torch import optim


class Critic(nn.Module):
    def __init__(self, lr):
        super().__init__()
        self.body = nn.Linear(8, 4)
        self.optimizer = optim.Adam(self.parameters(), lr=lr)

    def forward(self, x):
        return self.body(x)
"""

SPLIT_AGENT = """\
import numpy as np
import torch
import torch.nn.functional as F
from networks import Critic


class Learner:
    def __init__(self, lr, size=500, k=16):
        self.memory = np.zeros((size, 8), dtype=np.float32)
        self.size, self.k = size, k
        self.critic = Critic(lr)
        self.seen = 0

    def learn(self, target):
        picked = np.random.randint(0, self.size, self.k)
        self.critic.optimizer.zero_grad()
        loss = F.mse_loss(self.critic(torch.tensor(self.memory[picked])), target)
        self.critic.optimizer.step()
        loss.backward()
"""


def test_opt103_opt104_the_network_and_its_optimizer_in_another_file(tmp_path):
    run = RUN.replace("learner.learn()", "learner.learn(reward)").replace(
        "learner.act(state)", "0")
    assert _lint(tmp_path, SPLIT_AGENT, run, **{"networks.py": NETWORKS}) == [("OPT103", 18)]
    # (the step lost: the network's optimizer is the agent's, built over its parameters)
    assert _lint(tmp_path, _without(SPLIT_AGENT, 18), run, **{"networks.py": NETWORKS}) == [("OPT104", 18)]


BASE = """\
import csv
import os


class BaseAgent:
    def __init__(self, log_dir):
        self.log_dir = log_dir

    def record(self, value, step):
        with open(os.path.join(self.log_dir, "td.csv"), "a") as fh:
            csv.writer(fh).writerow((step, value))
"""

DERIVED = """\
import torch
from torch import nn, optim
from base import BaseAgent


class Model(BaseAgent):
    def __init__(self, log_dir):
        super().__init__(log_dir)
        self.net = nn.Linear(8, 2)
        self.optimizer = optim.Adam(self.net.parameters(), lr=1e-3)

    def update(self, x, y, frame):
        loss = (self.net(x) - y).pow(2).mean()
        self.optimizer.zero_grad()
        self.record(loss.item(), frame)
        self.optimizer.step()
        loss.backward()
"""


def test_opt103_around_a_logging_method_of_a_base_class_of_another_file(tmp_path):
    files = {"agent.py": DERIVED, "base.py": BASE}
    assert lint_project(tmp_path, files, target="agent.py") == [("OPT103", 16)]


STAR_NETS = """\
import torch
import torch.nn as nn
from ..tools import *


class Body(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 2)
"""

STAR_TOOLS = """\
import numpy as np
from ..nets import *


def to_tensor(x):
    return torch.as_tensor(np.asarray(x))
"""

STAR_AGENT = """\
from ..nets import *
from ..tools import *


class A2C:
    def __init__(self, config):
        self.config = config
        self.task = config.task_fn()
        self.network = Body()
        self.optimizer = config.optimizer_fn(self.network.parameters())

    def step(self):
        out = self.network(to_tensor(self.task.observe()))
        self.task.step(out.argmax(-1))
        loss = out.pow(2).mean()
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        nn.utils.clip_grad_norm_(self.network.parameters(), self.config.gradient_clip)
"""


def _star_project(tmp_path, agent: str, tools: str = STAR_TOOLS) -> list:
    files = {"pkg/__init__.py": "", "pkg/nets/__init__.py": STAR_NETS, "pkg/tools/__init__.py": tools,
             "pkg/agent/__init__.py": "", "pkg/agent/a2c.py": agent}
    return lint_project(tmp_path, files, target="pkg/agent/a2c.py")


def test_opt105_clip_named_through_star_imports_after_the_step(tmp_path):
    assert _star_project(tmp_path, STAR_AGENT) == [("OPT105", 19)]


# ------------------------------------------------------------------ must stay silent
def test_learn_called_once_outside_any_loop_is_no_pass_of_a_loop(tmp_path):
    once = """\
from agent import Learner


def main(env):
    learner = Learner(lr=1e-3)
    state = env.reset()
    env.step(learner.act(state))
    learner.learn()
"""
    assert _lint(tmp_path, _without(AGENT, CLEAR), once) == []
    assert _lint(tmp_path, _without(AGENT, STEP), once) == []


def test_learn_whose_runner_clears_and_steps(tmp_path):
    runner = RUN.replace("            learner.learn()\n",
                         "            learner.critic.optimizer.zero_grad()\n"
                         "            learner.learn()\n"
                         "            learner.critic.optimizer.step()\n")
    assert _lint(tmp_path, _without(AGENT, CLEAR), runner) == []
    assert _lint(tmp_path, _without(AGENT, STEP), runner) == []


def test_an_agent_whose_loop_only_evaluates(tmp_path):
    evaluation = RUN.replace("            learner.learn()\n", "").replace(
        "def main(env, episodes):", "def main(env, episodes):\n    Learner(lr=1e-3).learn()")
    assert _lint(tmp_path, _without(AGENT, CLEAR), evaluation) == []
    assert _lint(tmp_path, _without(AGENT, STEP), evaluation) == []


def test_star_imports_that_disagree_on_the_name_leave_the_clip_unknown(tmp_path):
    other = STAR_TOOLS.replace("import numpy as np", "import numpy as np\nimport mylib.nn as nn")
    assert _star_project(tmp_path, STAR_AGENT, other) == []


def test_a_task_stepped_without_actions_stays_opaque(tmp_path):
    # (``x.step()`` with no argument may be any optimizer's: nothing after it is proven)
    agent = STAR_AGENT.replace("self.task.step(out.argmax(-1))", "self.task.step()")
    assert _star_project(tmp_path, agent) == []



# ------------------------------------------------------------------ a runner handed the agent
RUNNER_AGENT = """\
import torch
from torch import nn


class ValueAgent:
    def __init__(self, config):
        self.config = config
        self.network = nn.Linear(8, 1)
        self.optimizer = config.optimizer_fn(self.network.parameters())
        self.total_steps = 0

    def step(self):
        x = torch.randn(16, 8)
        loss = self.network(x).pow(2).mean()
        loss.backward()
        self.optimizer.step()
        self.total_steps += 1
"""

RUNNER = """\
def run_steps(agent, max_steps):
    while agent.total_steps < max_steps:
        agent.step()
"""

EXAMPLE = """\
from agents import ValueAgent
from runner import run_steps


def value_example(config):
    run_steps(ValueAgent(config), 10000)
"""


def _runner_project(tmp_path, agent: str = RUNNER_AGENT, runner: str = RUNNER, example: str = EXAMPLE) -> list:
    files = {"agents.py": agent, "runner.py": runner, "example.py": example}
    return lint_project(tmp_path, files, target="agents.py")


def test_opt101_a_step_method_run_by_a_runner_handed_the_agent(tmp_path):
    assert _runner_project(tmp_path) == [("OPT101", 15)]


def test_opt101_the_agent_handed_by_name_and_keyword(tmp_path):
    example = EXAMPLE.replace("run_steps(ValueAgent(config), 10000)",
                              "agent = ValueAgent(config)\n    run_steps(max_steps=10, agent=agent)")
    assert _runner_project(tmp_path, example=example) == [("OPT101", 15)]


def test_a_runner_that_clears_between_steps_is_silent(tmp_path):
    runner = RUNNER.replace("        agent.step()\n", "        agent.optimizer.zero_grad()\n        agent.step()\n")
    assert _runner_project(tmp_path, runner=runner) == []


def test_a_runner_that_steps_the_agent_once_is_silent(tmp_path):
    runner = "def run_steps(agent, max_steps):\n    agent.step()\n"
    assert _runner_project(tmp_path, runner=runner) == []


def test_a_runner_handed_another_class_is_silent(tmp_path):
    example = EXAMPLE.replace("run_steps(ValueAgent(config), 10000)", "run_steps(config.agent_fn(), 10000)")
    assert _runner_project(tmp_path, example=example) == []


# ------------------------------------------------------------------ a caller file CPython rejects
# (a script written for Python 3.6: ``async`` a keyword argument, a keyword since 3.7; the rest
# of the file still shows which runner is handed which agent)
OLD_EXAMPLE = EXAMPLE + """\


def replay_example(config):
    config.replay_fn = lambda: Replay(capacity=100, async=True)
    run_steps(ValueAgent(config), 10)
"""

LOST_STEP_AGENT = RUNNER_AGENT.replace("        self.optimizer.step()\n", "").replace(
    "        loss.backward()\n", "        self.optimizer.zero_grad()\n        loss.backward()\n")


def test_opt101_runner_handed_the_agent_by_a_file_with_a_statement_cpython_rejects(tmp_path):
    assert _runner_project(tmp_path, example=OLD_EXAMPLE) == [("OPT101", 15)]


def test_opt104_lost_step_run_by_a_runner_of_a_file_cpython_rejects(tmp_path):
    assert _runner_project(tmp_path, agent=LOST_STEP_AGENT, example=OLD_EXAMPLE) == [("OPT104", 16)]


def test_only_the_rejected_statement_is_dropped(tmp_path):
    # the one handing call sits in the rejected function: nothing is known of the runner
    example = "from agents import ValueAgent\nfrom runner import run_steps\n\n\n" \
              "def replay_example(config):\n    config.replay_fn = lambda: Replay(async=True)\n" \
              "    run_steps(ValueAgent(config), 10)\n"
    assert _runner_project(tmp_path, example=example) == []
    assert _runner_project(tmp_path, agent=LOST_STEP_AGENT, example=example) == []


def test_salvage_keeps_rows_and_compound_statements():
    from optimlint.parsing import salvage
    text = ("import os\n\n\n@decorate\ndef old(x):\n    return f(async=True)\n\n\n"
            "try:\n    import a\nexcept ImportError:\n    a = None\n\nelsewhere = 1\n")
    out = salvage("x.py", text)
    assert out is not None and out.count("\n") == text.count("\n")
    assert "async" not in out and "@decorate" not in out
    assert "except ImportError" in out and "elsewhere = 1" in out
    assert salvage("x.py", "def f(:\n") is None or "def f" not in salvage("x.py", "def f(:\n")
