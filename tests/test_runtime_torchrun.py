"""Distributed runs make ONE report: `optimlint run` under torchrun (a tiny DDP job, 2 CPU
processes on gloo) and a script that starts its workers with `torch.multiprocessing.spawn`."""

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
def test_torchrun_ranks_merge_into_one_report(tmp_path):
    script = write(tmp_path / "ddp_train.py", DDP_SCRIPT)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone",
         "-m", "optimlint", "run", "--output-format", "json", "--output-file", str(tmp_path / "report.json"),
         str(script)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / "report.json").read_text())
    got = sorted((d["code"], d["location"]["row"], d["runtime"], tuple(d.get("ranks", ()))) for d in report)
    # each mistake once, with the ranks that saw it: OPT302 at the construction, OPT101 (no
    # zero_grad) seen through DDP's all-reduce
    assert got == [("OPT101", 12, "confirmed", (0, 1)), ("OPT302", 9, "confirmed", (0, 1))]
    # the report is the file named, no per-rank files unless asked (--per-rank)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ddp_train.py", "report.json"]


SPAWN_SCRIPT = """
import os
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn


def worker(rank, world):
    dist.init_process_group("gloo", init_method="tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    torch.manual_seed(0)
    model = nn.Linear(8, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for step in range(4):
        loss = model(torch.randn(4, 8)).pow(2).mean()
        loss.backward()
        optimizer.step()
    dist.destroy_process_group()


if __name__ == "__main__":
    mp.spawn(worker, args=(2,), nprocs=2)
"""


@pytest.mark.slow
def test_mp_spawn_children_are_instrumented_and_merged(tmp_path):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    script = write(tmp_path / "spawn_train.py", SPAWN_SCRIPT.replace("{port}", str(port)))
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "optimlint", "run", "--output-format", "json", "-o",
                           str(tmp_path / "report.json"), str(script)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / "report.json").read_text())
    got = [(d["code"], d["location"]["row"], d["runtime"], d.get("ranks")) for d in report]
    assert got == [("OPT101", 15, "confirmed", [0, 1])]


@pytest.mark.slow
def test_optimlint_run_in_front_of_torchrun_instruments_every_rank(tmp_path):
    # `optimlint run torchrun ...` (as the README spells it): the workers are other
    # interpreters; the command is turned around so that each rank runs under the companion
    write(tmp_path / "ddp_train.py", DDP_SCRIPT)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "optimlint", "run", "--output-format", "json", "-o", "report.json",
         "torchrun", "--nproc_per_node=2", "--standalone", "ddp_train.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / "report.json").read_text())
    got = sorted((d["code"], d["location"]["row"], d["runtime"], tuple(d.get("ranks", ()))) for d in report)
    assert got == [("OPT101", 12, "confirmed", (0, 1)), ("OPT302", 9, "confirmed", (0, 1))]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ddp_train.py", "report.json"]


def test_a_torchrun_job_without_python_workers_is_refused_clearly(tmp_path):
    from conftest import invoke

    result = invoke(["run", "-m", "torch.distributed.run", "--nproc_per_node=1", "--no-python", "echo", "hi"])
    assert result.exit_code == 2
    assert result.stderr.strip() == ("error: optimlint run cannot watch a torchrun job started with --no-python: "
                                    "its workers are not Python programs")
