"""`optimlint run`: arguments, the program's own exit status, sys.argv, -m, report formats
and the join statuses (confirmed / not-observed / not-reached), through the real CLI."""

from __future__ import annotations

import json
import os

import pytest

from conftest import invoke, write

pytest.importorskip("torch")

LOOP = """
import sys
import torch
from torch import nn

torch.manual_seed(0)
model = nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for _ in range(3):
    loss = model(torch.randn(2, 4)).sum()
    loss.backward()
    optimizer.step()
"""


def test_text_report_goes_to_stderr_and_the_status_is_the_programs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "train.py", LOOP + "sys.exit(3)\n")
    result = invoke(["run", "train.py"])
    assert result.exit_code == 3
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines[-2].startswith("train.py:10:5: OPT101 ")
    # "[confirmed]" says what was seen: which step, how many backward passes
    assert lines[-2].endswith("[confirmed: at step 2 of `optimizer` the gradients still held the contributions "
                              "of all 2 backward passes since it was built: nothing cleared them (add `optimizer.zero_grad()`)]")
    assert lines[-1] == "optimlint runtime: 1 confirmed (0 seen only at runtime), 0 not observed, 0 not reached"


def test_strict_does_not_override_a_failing_status(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "train.py", LOOP + "sys.exit(4)\n")
    assert invoke(["run", "--strict", "train.py"]).exit_code == 4


def test_program_error_prints_its_traceback_without_optimlint_frames(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "train.py", """
        import torch
        torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1, nesterov=True)
    """)
    result = invoke(["run", "train.py"])
    assert result.exit_code == 1
    assert "ValueError: Nesterov momentum requires a momentum and zero dampening" in result.stderr
    assert 'File "' + str(tmp_path / "train.py") + '", line 2, in <module>' in result.stderr
    assert "optimlint" + os.sep + "runtime" not in result.stderr
    assert "OPT303" in result.stderr


def test_argv_main_guard_and_output_file_json(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "train.py", """
        import json, sys
        if __name__ == "__main__":
            json.dump(sys.argv, open("argv.json", "w"))
    """)
    result = invoke(["run", "--output-format=json", "--output-file", "out.json", "train.py", "--epochs", "2"])
    assert result.exit_code == 0
    assert json.loads((tmp_path / "argv.json").read_text()) == ["train.py", "--epochs", "2"]
    assert json.loads((tmp_path / "out.json").read_text()) == []
    assert result.stderr == ""


def test_the_script_module_is_as_python_makes_it_and_its_warnings_print(tmp_path, monkeypatch):
    """Python 3.12+ asks a frame's `__loader__` for the source line of every warning; the
    runner's `__main__` once had none, and the first warning raised ValueError in the user's
    program (seen on a GPU machine's Python 3.12: a scheduler stepped before the optimizer)."""
    import subprocess
    import sys

    monkeypatch.chdir(tmp_path)
    write(tmp_path / "train.py", """
        import json, linecache, sys, warnings
        warnings.warn("learning rate looks high")  # the script's own line
        seen = {"spec": repr(__spec__), "loader": type(__loader__).__name__,
                "source": __loader__.get_source("__main__").splitlines()[0],
                "line": linecache.getline(__file__, 2, globals()).strip()}
        json.dump(seen, open(sys.argv[1], "w"))
    """)
    plain = subprocess.run([sys.executable, "train.py", "plain.json"], capture_output=True, text=True, timeout=60)
    assert plain.returncode == 0, plain.stderr
    result = subprocess.run([sys.executable, "-m", "optimlint", "run", "train.py", "watched.json"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "train.py:2: UserWarning: learning rate looks high" in result.stderr
    watched = json.loads((tmp_path / "watched.json").read_text())
    assert watched == json.loads((tmp_path / "plain.json").read_text())
    assert watched == {"spec": "None", "loader": "SourceFileLoader", "source": "import json, linecache, sys, warnings",
                       "line": 'warnings.warn("learning rate looks high")  # the script\'s own line'}


def test_dash_m_runs_a_module_as_main(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "pkg" / "__init__.py", "")
    write(tmp_path / "pkg" / "train.py", LOOP + "open('ran.txt', 'w').write(' '.join(sys.argv[1:]) + __name__)\n")
    out = tmp_path / "r.json"
    result = invoke(["run", "--output-format", "json", "--output-file", str(out), "-m", "pkg.train", "a", "b"])
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "ran.txt").read_text() == "a b__main__"
    report = json.loads(out.read_text())
    assert [(d["code"], d["runtime"], d["location"]["row"]) for d in report] == [("OPT101", "confirmed", 10)]
    assert report[0]["filename"] == str(tmp_path / "pkg" / "train.py")


@pytest.mark.parametrize("args, message", [
    ([], "missing the script"),
    (["--output-format", "sarif", "x.py"], "invalid value for `--output-format`"),
    (["--bogus", "x.py"], "unknown option `--bogus`"),
    (["--output-file"], "needs a value"),
    (["missing.py"], "missing.py: no such file"),
])
def test_usage_errors_exit_2(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke(["run", *args])
    assert result.exit_code == 2
    assert message in result.stderr


def test_help(tmp_path):
    result = invoke(["run", "--help"])
    assert result.exit_code == 0
    assert "usage: optimlint run" in result.stdout
    # every option with its description
    for option, words in [("--output-format text|json", "summary"), ("-o, --output-file PATH", "folders are created"),
                          ("--strict", "exit 1"), ("--per-rank", "torchrun"), ("-m MODULE", "__main__")]:
        line = next(line for line in result.stdout.splitlines() if line.strip().startswith(option))
        assert words in line or words in result.stdout.split(line)[1].split("\n  -")[0], option


def test_json_without_output_file_is_alone_on_stdout(tmp_path, monkeypatch):
    """Like `ruff check --output-format json`: stdout carries the report only (the program's
    prints and warnings go to stderr), so `optimlint run --output-format json x.py | jq` works."""
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "train.py", LOOP + "print('epoch done')\n")
    result = invoke(["run", "--output-format", "json", "train.py"])
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert [(d["code"], d["runtime"]) for d in report] == [("OPT101", "confirmed")]
    assert "epoch done" in result.stderr


def test_output_file_in_a_missing_folder_is_written_even_when_the_program_fails(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "train.py", LOOP + "raise RuntimeError('diverged')\n")
    result = invoke(["run", "-o", "reports/ci/runtime.json", "--output-format", "json", "train.py"])
    assert result.exit_code == 1
    assert "RuntimeError: diverged" in result.stderr
    report = json.loads((tmp_path / "reports" / "ci" / "runtime.json").read_text())
    assert [(d["code"], d["runtime"]) for d in report] == [("OPT101", "confirmed")]


def test_a_group_key_that_is_not_a_string_hides_no_other_check(tmp_path, monkeypatch):
    """A non-str group key once broke the construction hook and hid OPT302 of the same call."""
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "train.py", """
        import torch
        from torch import nn

        model = nn.Linear(4, 1)
        optimizer = torch.optim.Adam([{"params": model.parameters(), 7: "odd"}], lr=1e-3, weight_decay=0.05)
    """)
    result = invoke(["run", "--output-format", "json", "train.py"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert [(d["code"], d["runtime"]) for d in report] == [("OPT302", "confirmed")]
    assert [d for d in report if d["runtime"] == "error"] == []


def test_shared_parameters_in_add_param_group_are_opt402_where_the_program_died(tmp_path, monkeypatch):
    """The ValueError comes from add_param_group, not the constructor: the verdict says so and
    names the optimizer by its variable."""
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "train.py", """
        import torch
        from torch import nn

        encoder, head = nn.Linear(4, 4), nn.Linear(4, 1)
        head_opt = torch.optim.SGD(list(encoder.parameters()) + list(head.parameters()), lr=0.1)
        head_opt.add_param_group({"params": encoder.parameters(), "lr": 0.01})
    """)
    result = invoke(["run", "train.py"])
    assert result.exit_code == 1
    assert "ValueError: some parameters appear in more than one parameter group" in result.stderr
    assert result.stderr.strip().splitlines()[-2:] == [
        "train.py:6:26: OPT402 this group's `encoder.parameters()` holds the same parameters as an earlier "
        "group (`encoder.parameters()`): PyTorch raises ValueError (some parameters appear in more than one "
        "parameter group) [confirmed: the same parameters are listed in two parameter groups of `head_opt` "
        "(ValueError at `add_param_group`)]",
        "optimlint runtime: 1 confirmed (0 seen only at runtime), 0 not observed, 0 not reached"]


def test_not_observed_and_not_reached(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "train.py", """
        import torch
        from torch import nn


        def build(model, wd=0.05):  # OPT302's evidence: a decoupled-size default
            return torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=wd)


        def never_called(model, loader):
            optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
            for x, y in loader:
                loss = nn.functional.mse_loss(model(x), y)
                loss.backward()
                optimizer.step()


        model = nn.Linear(4, 1)
        optimizer = build(model, 0.0)
    """)
    out = tmp_path / "r.json"
    result = invoke(["run", "--output-format", "json", "--output-file", str(out), "--strict", "train.py"])
    assert result.exit_code == 0
    report = json.loads(out.read_text())
    statuses = {(d["code"], d["location"]["row"]): d["runtime"] for d in report}
    assert statuses == {("OPT302", 6): "not-observed", ("OPT101", 13): "not-reached"}


def test_runtime_only_findings_obey_noqa_on_their_statement_and_the_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "train.py", """
        import torch

        params = [torch.zeros(2, requires_grad=True)]
        coupled = torch.optim.Adam(
            params,
            weight_decay=0.05,  # noqa: OPT302 -- coupled decay is intended here
        )
        other = torch.optim.RAdam(params, weight_decay=0.1)
        third = torch.optim.NAdam(params, weight_decay=0.1)  # noqa: OPT302
    """)
    out = tmp_path / "r.json"
    assert invoke(["run", "--output-format", "json", "--output-file", str(out), "train.py"]).exit_code == 0
    assert [(d["code"], d["location"]["row"]) for d in json.loads(out.read_text())] == [("OPT302", 8)]
    write(tmp_path / "optimlint.toml", 'ignore = ["OPT302"]\n')
    assert invoke(["run", "--output-format", "json", "--output-file", str(out), "train.py"]).exit_code == 0
    # no OPT302 at all; the noqa comments naming it now silence nothing (OPT002, as RUF100)
    assert [(d["code"], d["location"]["row"], d["message"]) for d in json.loads(out.read_text())] == [
        ("OPT002", row, "Unused `noqa` directive (non-enabled: `OPT302`)") for row in (6, 9)]
    write(tmp_path / "optimlint.toml", 'ignore = ["OPT302", "OPT002"]\n')
    assert invoke(["run", "--output-format", "json", "--output-file", str(out), "train.py"]).exit_code == 0
    assert json.loads(out.read_text()) == []


def test_a_program_that_changes_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "elsewhere").mkdir()
    write(tmp_path / "train.py", "import os\nos.chdir('elsewhere')\n" + LOOP)
    result = invoke(["run", "--output-format", "json", "--output-file", "out.json", "train.py"])
    assert result.exit_code == 0
    report = json.loads((tmp_path / "out.json").read_text())
    assert [(d["code"], d["runtime"]) for d in report] == [("OPT101", "confirmed")]
    assert os.getcwd() == str(tmp_path)


@pytest.mark.parametrize("name", ["gpu_check", "gpu_runtime_scripts"])
def test_gpu_checks_skip_cleanly_without_cuda(name):
    import subprocess
    import sys
    from pathlib import Path

    import torch

    if torch.cuda.is_available():
        pytest.skip(f"a CUDA device is here: benchmarks/{name}.py runs for real (by hand)")
    script = Path(__file__).resolve().parent.parent / "benchmarks" / f"{name}.py"
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"{name}: no CUDA device here: nothing to check (skipped)"


MIXED = """
import torch
from torch import nn


def build(model, wd=0.05):  # OPT302's evidence: a decoupled-size default
    return torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=wd)


def never_called(model, loader):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for x, y in loader:
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()


torch.manual_seed(0)
model = nn.Linear(4, 1)
unused = build(model, 0.0)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for _ in range(3):
    loss = model(torch.randn(2, 4)).sum()
    loss.backward()
    optimizer.step()
"""


def test_json_is_checks_array_with_the_text_summary_counts(tmp_path, monkeypatch):
    """SPEC §4: the JSON report is `check`'s array (each of check's keys, same values), each
    entry with `runtime`; counting the entries by `runtime` gives the text summary's numbers."""
    from test_runtime_join import json_counts, summary_counts

    monkeypatch.chdir(tmp_path)
    write(tmp_path / "train.py", MIXED)
    text = invoke(["run", "train.py"])
    assert text.exit_code == 0, text.stderr
    summary = text.stderr.strip().splitlines()[-1]
    ran = invoke(["run", "--output-format", "json", "train.py"])
    assert ran.exit_code == 0, ran.stderr
    report = json.loads(ran.stdout)
    assert isinstance(report, list)
    assert json_counts(report) == summary_counts(summary)
    assert {e["runtime"] for e in report} == {"confirmed", "not-observed", "not-reached"}
    check = invoke(["check", "--output-format", "json", "train.py"])
    static = json.loads(check.stdout)
    assert static
    by_place = {(e["code"], e["location"]["row"]): e for e in report}
    for entry in static:
        joined = by_place[entry["code"], entry["location"]["row"]]
        assert {k: joined[k] for k in entry} == entry   # check's keys, check's values
    for entry in report:
        assert set(static[0]) <= set(entry)
