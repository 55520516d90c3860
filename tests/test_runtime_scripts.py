"""The runtime corpus: runnable training scripts in realistic buggy shapes and their correct
twins (`tests/runtime_scripts/`), each run through the real `optimlint run`.

Each script's first line says what the run must confirm (`# expect: OPT305`, or `# expect: -`
for a correct one). A buggy script must confirm exactly its code, located in the script
itself (never in a framework's files); a correct one must confirm nothing. Scripts that use
Lightning, accelerate or the transformers Trainer run as their own process (the real
packages, CPU, no download); the others in-process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import invoke

pytest.importorskip("torch")

SCRIPTS = Path(__file__).resolve().parent / "runtime_scripts"
FRAMEWORKS = ("lightning", "accelerate", "transformers")


def _expected(path: Path) -> set[str]:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# expect: "), path.name
    value = first[len("# expect: "):].strip()
    return set() if value == "-" else set(value.split())


def _framework(path: Path) -> str | None:
    text = path.read_text(encoding="utf-8")
    return next((name for name in FRAMEWORKS if f"import {name}" in text or f"from {name}" in text), None)


ALL = sorted(p.name for p in SCRIPTS.glob("*.py") if not p.name.startswith("_"))


def test_the_corpus_covers_every_runtime_rule_with_twins():
    expected = {name: _expected(SCRIPTS / name) for name in ALL}
    buggy = {n for n, codes in expected.items() if codes}
    correct = set(ALL) - buggy
    assert len(buggy) >= 25 and len(correct) >= 25
    examples = [p for p in (SCRIPTS.parent.parent / "examples" / "runtime").glob("*.py") if not p.name.startswith("_")]
    assert len(ALL) + len(examples) >= 80
    covered = set().union(*expected.values())
    assert {"OPT101", "OPT102", "OPT104", "OPT105", "OPT106", "OPT201", "OPT202", "OPT203", "OPT301", "OPT304",
            "OPT305", "OPT401", "OPT402", "OPT403", "OPT501", "OPT601", "OPT603"} <= covered
    assert {_framework(SCRIPTS / n) for n in ALL} >= {"lightning", "accelerate", "transformers", None}


def _run(name: str, tmp_path: Path) -> tuple[int, dict, str]:
    script = SCRIPTS / name
    out = tmp_path / "report.json"
    if _framework(script):
        env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
        proc = subprocess.run([sys.executable, "-m", "optimlint", "run", "--output-format", "json", "-o", str(out),
                               str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        return proc.returncode, json.loads(out.read_text(encoding="utf-8")), proc.stderr
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        result = invoke(["run", "--output-format", "json", "-o", str(out), str(script)])
    finally:
        os.chdir(cwd)
    return result.exit_code, json.loads(out.read_text(encoding="utf-8")), result.stderr


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("name", ALL)
def test_script(name, tmp_path):
    status, report, stderr = _run(name, tmp_path)
    # a correct program succeeds; a buggy one may die of its mistake (OPT402's ValueError)
    assert status == 0 or (status == 1 and _expected(SCRIPTS / name)), stderr[-3000:]
    confirmed = [d for d in report if d["runtime"] == "confirmed"]
    assert {d["code"] for d in confirmed} == _expected(SCRIPTS / name), confirmed
    assert [d["message"] for d in report if d["runtime"] == "error"] == []
    for d in confirmed:
        # at the user's line in the script itself: never a framework's file, never _tiny.py
        assert d["filename"] == str(SCRIPTS / name), d
        assert 1 <= d["location"]["row"] <= len((SCRIPTS / name).read_text().splitlines())
