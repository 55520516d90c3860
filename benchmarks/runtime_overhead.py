"""Overhead of the runtime companion: the same training loop with and without ``optimlint.watch()``.

Two workloads, timed interleaved (plain, watched, plain, watched, ...) so that machine load
affects both alike; the ratio of the medians is reported:

- ``tiny-mlp``: an 8-16-1 MLP on batches of 4, the worst case (a step costs microseconds,
  so the per-step Python of the hooks dominates);
- ``small-cnn``: a small CNN (3 conv blocks + BatchNorm + dropout + linear head) on 32x32
  images, batch 32, AdamW + OneCycleLR + clip_grad_norm_, the realistic case.

Usage: ``python benchmarks/runtime_overhead.py [--repeats 5] [--steps-mlp 500] [--steps-cnn 200]
[--warm-up STEPS] [--only tiny-mlp|small-cnn]``
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch
from torch import nn

import optimlint


def tiny_mlp(steps):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    data = [(torch.randn(4, 8), torch.randn(4, 1)) for _ in range(32)]

    def run(n=steps):
        for i in range(n):
            x, y = data[i % len(data)]
            opt.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            opt.step()
    return run


def small_cnn(steps):
    torch.manual_seed(0)

    def block(cin, cout):
        return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2))

    model = nn.Sequential(block(3, 16), block(16, 32), block(32, 64), nn.Flatten(), nn.Dropout(0.1),
                          nn.Linear(64 * 4 * 4, 10))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-3, total_steps=10 ** 6)
    data = [(torch.randn(32, 3, 32, 32), torch.randint(0, 10, (32,))) for _ in range(8)]

    def run(n=steps):
        model.train()
        for i in range(n):
            x, y = data[i % len(data)]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
    return run


def measure(make, steps, repeats, warm_up=0):
    """Median wall and CPU (process) seconds, plain and watched. CPU time is the steadier
    figure on a loaded machine; both are printed. ``warm_up`` steps run untimed before the
    timed ones, plain and watched alike (a long run's steady state: the companion's warm-up,
    every parameter hooked for eight steps and OPT601 looking at each of the first 16, is then
    outside the figure)."""
    plain, watched, plain_cpu, watched_cpu = [], [], [], []
    make(2)()  # warm up allocator and lazy imports
    with optimlint.watch():
        make(2)()
    for _ in range(repeats):
        run = make(steps)
        run(warm_up)
        t0, c0 = time.perf_counter(), time.process_time()
        run()
        plain.append(time.perf_counter() - t0)
        plain_cpu.append(time.process_time() - c0)
        run = make(steps)
        with optimlint.watch() as report:
            run(warm_up)
            t0, c0 = time.perf_counter(), time.process_time()
            run()
            watched.append(time.perf_counter() - t0)
            watched_cpu.append(time.process_time() - c0)
        assert not report.findings and not report.errors, (report.findings, report.errors)
    med = statistics.median
    global LAST_MIN_CPU
    LAST_MIN_CPU = (min(plain_cpu), min(watched_cpu))
    return med(plain), med(watched), med(plain_cpu), med(watched_cpu)


#: (plain, watched) minimum CPU seconds of the last ``measure``: the least disturbed runs on a
#: loaded machine (printed next to the medians)
LAST_MIN_CPU = (0.0, 0.0)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps-mlp", type=int, default=500)
    parser.add_argument("--steps-cnn", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--only", choices=("tiny-mlp", "small-cnn"), default=None)
    parser.add_argument("--warm-up", type=int, default=0, metavar="STEPS",
                        help="untimed steps before the timed ones (the steady state of a long run)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s), median of {args.repeats} interleaved runs "
          f"({args.warm_up} untimed warm-up steps each); "
          f"{_machine()}; load {_load()}")
    parser_only = args.only
    for name, make, steps in (("tiny-mlp", tiny_mlp, args.steps_mlp), ("small-cnn", small_cnn, args.steps_cnn)):
        if parser_only and name != parser_only:
            continue
        plain, watched, plain_cpu, watched_cpu = measure(make, steps, args.repeats, args.warm_up)
        print(f"{name:10s} {steps:5d} steps  wall: plain {plain * 1e3 / steps:8.3f} ms/step, watched "
              f"{watched * 1e3 / steps:8.3f} ms/step ({100 * (watched / plain - 1):+6.1f}%)  cpu: plain "
              f"{plain_cpu * 1e3 / steps:8.3f}, watched {watched_cpu * 1e3 / steps:8.3f} ms/step "
              f"({100 * (watched_cpu / plain_cpu - 1):+6.1f}%)  min cpu: "
              f"{100 * (LAST_MIN_CPU[1] / LAST_MIN_CPU[0] - 1):+6.1f}%")
    print(f"load after: {_load()}")


def _machine() -> str:
    """CPU model and count, for the README's table."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            model = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{model}, {os.cpu_count()} CPUs"


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover - not on every platform
        return "unknown"


if __name__ == "__main__":
    main()
