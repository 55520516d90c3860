"""What linting a training file imports: never ``libcst.matchers``.

Importing ``libcst.matchers`` costs about as much again as LibCST itself (``python -X importtime``,
2026-12-04: 2.2 s self time against 1.9 s for all of ``libcst`` on a loaded machine), and its
``findall`` rebuilds the tree that ``analysis/walk.py`` exists to walk without rebuilding. So the
checks test a node's shape with ``isinstance`` and walk with ``walk.visit`` (docs/internals.md)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = textwrap.dedent('''
    import sys
    from optimlint.config import Settings
    from optimlint.lint import lint_source

    src = open(sys.argv[1], encoding="utf-8").read()
    found = lint_source("train.py", src, Settings(select=["OPT"]))
    print(len(found), "libcst.matchers" in sys.modules)
''')

TRAIN = """\
import torch
from torch import nn

model = nn.Linear(4, 1)
opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-2)
sched = torch.optim.lr_scheduler.StepLR(opt, step_size=10)
scaler = torch.amp.GradScaler()
for epoch in range(3):
    sched.step()
    for i, (x, y) in enumerate(loader):
        with torch.autocast("cuda"):
            loss = nn.functional.mse_loss(model(x), y)
        scaler.scale(loss).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        if (i + 1) % 4 == 0:
            scaler.step(opt)
            scaler.update()
        model.eval()
"""


def test_linting_a_training_file_with_every_check_never_imports_libcst_matchers(tmp_path):
    path = tmp_path / "train.py"
    path.write_text(TRAIN, encoding="utf-8")
    out = subprocess.run([sys.executable, "-c", PROBE, str(path)], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.split()
    assert int(out[0]) > 0  # the checks ran and found something
    assert out[1] == "False"
