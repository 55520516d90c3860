"""The README's GitHub Actions recipe (issue 17 item 9), run as written: each ``run:`` step
of the workflow block, in a workspace holding a static mistake and a test that makes a
runtime one, with ``GITHUB_WORKSPACE`` set as Actions sets it. The install step is checked
for what the other steps need, not run (this checkout is the installed optimlint)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

TRAIN = "import torch\n\n\ndef build(model):\n    return torch.optim.Adam(model.parameters(), learning_rate=1e-3)\n"
TEST = textwrap.dedent("""\
    import torch
    from torch import nn


    def test_fit_never_clears_gradients():
        model = nn.Linear(4, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for _ in range(3):
            model(torch.randn(8, 4)).pow(2).mean().backward()
            opt.step()


    def test_fit_clears():
        model = nn.Linear(4, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for _ in range(3):
            opt.zero_grad()
            model(torch.randn(8, 4)).pow(2).mean().backward()
            opt.step()
""")


def recipe_steps() -> list[str]:
    """The ``run:`` commands of the README's workflow, in order."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(name: optimlint\n.*?)```", readme, re.S)
    assert block, "README.md lost its GitHub Actions workflow"
    return [m.group(1).strip() for m in re.finditer(r"^\s*(?:- )?run: (.+)$", block.group(1), re.M)]


def as_argv(command: str) -> list[str]:
    """``optimlint ...`` / ``pytest ...`` as this interpreter runs them."""
    argv = shlex.split(command)
    assert argv[0] in ("optimlint", "pytest"), command
    return [sys.executable, "-m", argv[0], *argv[1:]]


def test_the_recipe_installs_what_its_steps_run():
    install, *steps = recipe_steps()
    assert install.startswith("pip install ")
    assert '"optimlint[runtime] @ git+' in install  # pytest --optimlint needs torch
    assert " pytest " in install + " " and install.endswith("pytest-xdist")  # for -n 2
    assert [shlex.split(step)[0] for step in steps] == ["optimlint", "optimlint", "pytest"]


@pytest.mark.slow
def test_the_recipe_runs_as_written(tmp_path):
    workspace = tmp_path / "repo"
    (workspace / "src").mkdir(parents=True)
    (workspace / "tests").mkdir()
    (workspace / "src" / "train.py").write_text(TRAIN)
    (workspace / "tests" / "test_fit.py").write_text(TEST)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPTIMLINT_", "PYTEST_"))}
    env.update(GITHUB_WORKSPACE=str(workspace), GITHUB_ACTIONS="true",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])))
    lint, sarif, tests = (subprocess.run(as_argv(step), cwd=workspace, env=env, capture_output=True, text=True,
                                         timeout=600) for step in recipe_steps()[1:])

    # annotations on the changed lines: a failing step, files named from the workspace
    assert lint.returncode == 1
    assert [line.split("::")[1] for line in lint.stdout.splitlines()] == [
        "error title=optimlint (OPT301),file=src/train.py,line=5,col=49,endLine=5,endColumn=62",
        "error title=optimlint (OPT101),file=tests/test_fit.py,line=9,col=9,endLine=9,endColumn=58"]
    # SARIF: written into a folder that did not exist, without failing the job a second time
    assert sarif.returncode == 0, sarif.stderr
    document = json.loads((workspace / "reports" / "optimlint.sarif").read_text())
    assert document["version"] == "2.1.0"
    # absolute file URIs, as Ruff writes them: upload-sarif makes them relative to the checkout
    results = document["runs"][0]["results"]
    assert [(r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]) for r in results] == [
        ("OPT301", (workspace / "src" / "train.py").as_uri()), ("OPT101", (workspace / "tests" / "test_fit.py").as_uri())]
    # the test suite under pytest-xdist: the worker's confirmed finding fails the job, by name
    assert tests.returncode == 1, tests.stdout[-3000:] + tests.stderr[-3000:]
    assert "2 passed" in tests.stdout
    (strict,) = [line for line in tests.stdout.splitlines() if "--optimlint-strict: failing" in line]
    assert strict.endswith("OPT101 in tests/test_fit.py::test_fit_never_clears_gradients")
    runtime = json.loads((workspace / "reports" / "optimlint-runtime.json").read_text())
    assert [(d["code"], d["runtime"], d["test"]) for d in runtime] == [
        ("OPT101", "confirmed", "tests/test_fit.py::test_fit_never_clears_gradients")]
