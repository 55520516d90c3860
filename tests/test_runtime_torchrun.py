"""`optimlint run` under torchrun: a tiny DDP (gloo, CPU) job; each rank reports, tagged by rank."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import write

pytest.importorskip("torch")

DDP_SCRIPT = """
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

dist.init_process_group("gloo")
torch.manual_seed(0)
model = DDP(nn.Linear(8, 1))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=0.01)
for step in range(4):
    loss = model(torch.randn(4, 8)).pow(2).mean()
    loss.backward()
    optimizer.step()
dist.destroy_process_group()
"""


@pytest.mark.slow
def test_each_rank_reports_tagged_by_rank(tmp_path):
    script = write(tmp_path / "ddp_train.py", DDP_SCRIPT)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone",
         "-m", "optimlint", "run", "--output-format", "json", "--output-file", str(tmp_path / "report.json"),
         str(script)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for rank in (0, 1):
        report = json.loads((tmp_path / f"report.rank{rank}.json").read_text())
        got = sorted((d["code"], d["location"]["row"], d["runtime"], d.get("rank")) for d in report)
        # OPT302 at the construction; OPT101 (no zero_grad) seen through DDP's all-reduce.
        assert got == [("OPT101", 12, "confirmed", rank), ("OPT302", 9, "confirmed", rank)]
    assert not (tmp_path / "report.json").exists()
