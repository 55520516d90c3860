"""Every runtime example through the real `optimlint run --output-format json`.

Buggy examples must be confirmed with exactly their code; correct ones confirm nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import invoke

pytest.importorskip("torch")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "runtime"

BUGGY = {
    "missing_zero_grad.py": ("OPT101", 0),
    "zero_grad_before_step.py": ("OPT102", 0),
    "step_before_backward.py": ("OPT103", 0),
    "backward_without_step.py": ("OPT104", 0),
    "clip_grad_misplaced.py": ("OPT105", 0),
    "accumulation_cleared.py": ("OPT106", 0),
    "scheduler_before_step.py": ("OPT201", 0),
    "epoch_scheduler_per_batch.py": ("OPT202", 0),
    "batch_scheduler_per_epoch.py": ("OPT203", 0),
    "keras_group_key.py": ("OPT301", 0),
    "adam_weight_decay.py": ("OPT302", 0),
    "nesterov_without_momentum.py": ("OPT303", 1),
    "parameters_iterator_reused.py": ("OPT304", 1),
    "parameters_missing_from_groups.py": ("OPT401", 0),
    "parameters_in_multiple_groups.py": ("OPT402", 1),
    "unknown_group_key.py": ("OPT403", 0),
    "scaler_step_bypassed.py": ("OPT501", 0),
    "scaler_update_missing.py": ("OPT502", 1),
    "clip_without_unscale.py": ("OPT503", 0),
    "eval_mode_not_restored.py": ("OPT603", 0),
}
CORRECT = sorted(p.name for p in EXAMPLES.glob("correct_*.py"))


def run_json(script: Path, tmp_path: Path, *extra: str):
    out = tmp_path / "report.json"
    result = invoke(["run", "--output-format", "json", "--output-file", str(out), *extra, str(script)])
    return result, json.loads(out.read_text(encoding="utf-8"))


def test_every_example_is_listed():
    names = {p.name for p in EXAMPLES.glob("*.py") if not p.name.startswith("_")}
    assert names == set(BUGGY) | set(CORRECT)
    assert len(CORRECT) >= 5


@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before:UserWarning")
@pytest.mark.parametrize("name", sorted(BUGGY))
def test_buggy_example_is_confirmed(name, tmp_path):
    code, status = BUGGY[name]
    result, report = run_json(EXAMPLES / name, tmp_path)
    assert result.exit_code == status
    confirmed = {(d["code"], d["filename"]) for d in report if d["runtime"] == "confirmed"}
    assert confirmed == {(code, str(EXAMPLES / name))}
    # The finding is located on a line of the example itself.
    row = next(d["location"]["row"] for d in report if d["code"] == code)
    assert 1 <= row <= len((EXAMPLES / name).read_text().splitlines())


@pytest.mark.parametrize("name", CORRECT)
def test_correct_example_confirms_nothing(name, tmp_path):
    result, report = run_json(EXAMPLES / name, tmp_path, "--strict")
    assert result.exit_code == 0, report
    assert report == []  # nothing confirmed, and nothing for the static analysis either


def test_strict_fails_a_successful_program_with_a_confirmed_finding(tmp_path):
    result, _ = run_json(EXAMPLES / "missing_zero_grad.py", tmp_path, "--strict")
    assert result.exit_code == 1
    result, _ = run_json(EXAMPLES / "missing_zero_grad.py", tmp_path)
    assert result.exit_code == 0
