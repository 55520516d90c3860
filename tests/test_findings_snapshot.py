"""scripts/findings_snapshot.py: the canonical findings text a refactor compares (issue 12)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "findings_snapshot.py"

BUGGY = """\
import torch
from torch import nn

model = nn.Linear(4, 2)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for x, y in [(torch.randn(8, 4), torch.randn(8, 2))] * 4:
    nn.functional.mse_loss(model(x), y).backward()
    optimizer.step()
"""


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=600)


def test_snapshot_lines_and_comparison(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "train.py").write_text(BUGGY)
    before = tmp_path / "before.txt"
    assert run("--no-defaults", "--out", str(before), str(corpus)).returncode == 0
    lines = before.read_text().splitlines()
    assert lines == sorted(lines)
    ours = lines
    assert len(ours) == 1
    location, code, message_digest, fix_digest = ours[0].split(" ")
    assert (location, code) == ("corpus/train.py:7:5", "OPT101")
    assert len(message_digest) == 12 and (fix_digest == "-" or len(fix_digest) == 12)

    same = run("--compare", str(before), str(before))
    assert same.returncode == 0 and "0 gone, 0 new" in same.stdout

    (corpus / "train.py").write_text(BUGGY.replace("    nn.functional", "    optimizer.zero_grad()\n    nn.functional"))
    after = tmp_path / "after.txt"
    assert run("--no-defaults", "--out", str(after), str(corpus)).returncode == 0
    diff = run("--compare", str(before), str(after))
    assert diff.returncode == 1
    assert f"- {ours[0]}" in diff.stdout.splitlines()
    assert "1 gone, 0 new" in diff.stdout


def test_rule_page_blocks_are_a_corpus(tmp_path):
    # the default snapshot lints every python block of every rule page as its own file
    import importlib.util

    spec = importlib.util.spec_from_file_location("findings_snapshot", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.rule_page_blocks(tmp_path)
    names = {p.name for p in tmp_path.iterdir()}
    assert {"OPT101_example_0.py", "OPT101_use_instead_0.py", "OPT305_when_it_stays_silent_0.py"} <= names
