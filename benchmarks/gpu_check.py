"""The runtime companion on a CUDA device: no host-device sync added, bit-identical
parameters, and the overhead of a training step.

Runs a small CNN training step loop (AdamW, OneCycleLR, GradScaler with fp16 autocast,
clip_grad_norm_ after unscale_) twice from the same seed, plain and under
``optimlint.watch()``, with ``torch.cuda.set_sync_debug_mode("error")`` around the watched
steps (any synchronising call inside them raises), compares every parameter and buffer bit
for bit, then times both (interleaved runs, medians, CUDA events). Without CUDA it says so
and exits 0.

Usage: ``python benchmarks/gpu_check.py [--steps 200] [--repeats 5]``
"""

from __future__ import annotations

import argparse
import statistics
import sys

import torch
from torch import nn

import optimlint


def make(seed=0):
    torch.manual_seed(seed)

    def block(cin, cout):
        return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2))

    model = nn.Sequential(block(3, 32), block(32, 64), block(64, 128), nn.Flatten(), nn.Linear(128 * 4 * 4, 10))
    model = model.cuda()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-3, total_steps=10 ** 6)
    scaler = torch.amp.GradScaler("cuda")
    g = torch.Generator(device="cuda").manual_seed(seed + 1)
    data = [(torch.randn(64, 3, 32, 32, device="cuda", generator=g),
             torch.randint(0, 10, (64,), device="cuda", generator=g)) for _ in range(8)]
    return model, opt, sched, scaler, data


def steps(model, opt, sched, scaler, data, n):
    for i in range(n):
        x, y = data[i % len(data)]
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.float16):
            loss = nn.functional.cross_entropy(model(x), y)
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scaler.step(opt)
        scaler.update()
        sched.step()


def state(model):
    return [t.detach().clone() for t in list(model.parameters()) + list(model.buffers())]


def check_identical(n):
    plain = make()
    steps(*plain, n)
    torch.cuda.synchronize()
    watched = make()
    steps(*watched, 2)          # warm-up: lazy CUDA initialisation may sync once
    watched = make()
    with optimlint.watch() as report:
        torch.cuda.set_sync_debug_mode("error")
        try:
            steps(*watched, n)
        finally:
            torch.cuda.set_sync_debug_mode("default")
    torch.cuda.synchronize()
    a, b = state(plain[0]), state(watched[0])
    same = len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b))
    return same, len(a), report


def time_steps(watch, n):
    objs = make()
    steps(*objs, 3)
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    if watch:
        with optimlint.watch():
            start.record()
            steps(*objs, n)
            end.record()
    else:
        start.record()
        steps(*objs, n)
        end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / n


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("gpu_check: no CUDA device here: nothing to check (skipped)")
        return 0
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}")
    same, count, report = check_identical(50)
    print(f"sync debug mode 'error' around the watched steps: no sync raised; "
          f"parameters+buffers bit-identical: {same} ({count} tensors); findings: {report.codes}; "
          f"hook errors: {report.errors}")
    plain, watched = [], []
    for _ in range(args.repeats):
        plain.append(time_steps(False, args.steps))
        watched.append(time_steps(True, args.steps))
    p, w = statistics.median(plain), statistics.median(watched)
    print(f"step: plain {p:.3f} ms, watched {w:.3f} ms ({100 * (w / p - 1):+.1f}%), "
          f"median of {args.repeats} interleaved runs of {args.steps} steps")
    return 0 if same and not report.errors else 1


if __name__ == "__main__":
    sys.exit(main())
