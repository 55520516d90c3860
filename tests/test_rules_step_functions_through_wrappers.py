"""A step function of one file (``a2c_step(policy_net, value_net, optimizer_policy,
optimizer_value, ...)``) called by a script of another through a wrapper of its own (``def
update_params(batch): ... a2c_step(...)``, called once per iteration of the main loop): the main
loop is the step function's caller. The optimizers the script builds and hands it are two
objects, so clearing one does not clear the other. Exact (code, row); silent twins where the
wrapper clears, and where the script hands one optimizer for both."""

from __future__ import annotations

from tests.test_rules_heldout import lint_project

STEP = """\
import torch


def a2c_step(policy_net, value_net, optimizer_policy, optimizer_value, states, returns, advantages):
    values_pred = value_net(states)
    value_loss = (values_pred - returns).pow(2).mean()
    value_loss.backward()
    optimizer_value.step()

    policy_loss = -(policy_net(states) * advantages).mean()
    optimizer_policy.zero_grad()
    policy_loss.backward()
    torch.nn.utils.clip_grad_norm_(policy_net.parameters(), 40)
    optimizer_policy.step()
"""

SCRIPT = """\
import torch

from core.a2c import a2c_step

policy_net = torch.nn.Linear(4, 2)
value_net = torch.nn.Linear(4, 1)
optimizer_policy = torch.optim.Adam(policy_net.parameters(), lr=0.01)
optimizer_value = {value_optimizer}


def update_params(batch):
    states, returns, advantages = batch
    {clear}a2c_step(policy_net, value_net, optimizer_policy, {handed}, states, returns, advantages)


def main_loop():
    for i_iter in range(100):
        batch = (torch.randn(8, 4), torch.randn(8, 1), torch.randn(8, 2))
        update_params(batch)


main_loop()
"""


def project(clear: str = "", handed: str = "optimizer_value",
            value_optimizer: str = "torch.optim.Adam(value_net.parameters(), lr=0.01)") -> dict[str, str]:
    script = SCRIPT.format(clear=clear, handed=handed, value_optimizer=value_optimizer)
    return {"core/__init__.py": "", "core/a2c.py": STEP, "run_a2c.py": script}


def test_the_value_optimizer_is_never_cleared(tmp_path):
    assert lint_project(tmp_path, project(), "core/a2c.py", "OPT101") == [("OPT101", 7)]


# ------------------------------------------------------------------ must not fire
def test_the_wrapper_clears_before_the_call(tmp_path):
    files = project(clear="optimizer_value.zero_grad()\n    ")
    assert lint_project(tmp_path, files, "core/a2c.py", "OPT101") == []


def test_one_optimizer_handed_for_both_is_cleared_by_the_policys_clear(tmp_path):
    files = project(handed="optimizer_policy")
    assert lint_project(tmp_path, files, "core/a2c.py", "OPT101") == []


def test_an_optimizer_the_script_gets_from_elsewhere_may_be_the_same(tmp_path):
    files = project(value_optimizer="optimizer_policy")
    assert lint_project(tmp_path, files, "core/a2c.py", "OPT101") == []


def test_a_script_reaching_torch_through_a_star_export_builds_the_same_optimizers(tmp_path):
    # ``from utils import *``: the script's ``torch`` is what ``utils/torch_utils.py`` imports
    files = project()
    files["run_a2c.py"] = files["run_a2c.py"].replace("import torch\n", "from utils import *\n", 1)
    files["utils/__init__.py"] = "from utils.torch_utils import *\n"
    files["utils/torch_utils.py"] = "import torch\n\n\ndef to_device(device, *nets):\n    for net in nets:\n        net.to(device)\n"
    assert lint_project(tmp_path, files, "core/a2c.py", "OPT101") == [("OPT101", 7)]
