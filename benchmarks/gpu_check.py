"""The runtime companion on a CUDA device: no host-device sync added, bit-identical
parameters, and the overhead of a training step.

Runs a small CNN training step loop (AdamW, OneCycleLR, GradScaler with fp16 autocast,
clip_grad_norm_ after unscale_) twice from the same seed, plain and under
``optimlint.watch()``, counts the host-device synchronisations of each under
``torch.cuda.set_sync_debug_mode("warn")`` (GradScaler.step synchronises once a step by itself:
the watched run must not add any), compares every parameter and buffer bit for bit, then times both (interleaved runs, medians, CUDA events). Without CUDA it says so
and exits 0.

Usage: ``python benchmarks/gpu_check.py [--steps 200] [--repeats 5]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import warnings

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


def count_syncs(objs, n, watch):
    """Steps n times under sync debug mode 'warn'; returns (synchronisations, report or None).
    GradScaler.step itself synchronises once per step (it reads found_inf), so the check is
    that the watched steps synchronise exactly as often as the plain ones."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            if watch:
                with optimlint.watch() as report:
                    steps(*objs, n)
            else:
                report = None
                steps(*objs, n)
        finally:
            torch.cuda.set_sync_debug_mode("default")
    torch.cuda.synchronize()
    return sum("synchronizing CUDA operation" in str(w.message) for w in caught), report


def check_identical(n):
    steps(*make(), 2)           # warm-up: lazy CUDA initialisation may sync once
    plain = make()
    plain_syncs, _ = count_syncs(plain, n, watch=False)
    watched = make()
    watched_syncs, report = count_syncs(watched, n, watch=True)
    a, b = state(plain[0]), state(watched[0])
    same = len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b))
    return same, len(a), report, plain_syncs, watched_syncs


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
    same, count, report, plain_syncs, watched_syncs = check_identical(50)
    print(f"host-device synchronisations in 50 steps (sync debug mode 'warn'): plain {plain_syncs}, "
          f"watched {watched_syncs}; parameters+buffers bit-identical: {same} ({count} tensors); "
          f"findings: {report.codes}; hook errors: {report.errors}")
    plain, watched = [], []
    for _ in range(args.repeats):
        plain.append(time_steps(False, args.steps))
        watched.append(time_steps(True, args.steps))
    p, w = statistics.median(plain), statistics.median(watched)
    print(f"step: plain {p:.3f} ms, watched {w:.3f} ms ({100 * (w / p - 1):+.1f}%), "
          f"median of {args.repeats} interleaved runs of {args.steps} steps")
    return 0 if same and not report.errors and watched_syncs == plain_syncs else 1


if __name__ == "__main__":
    sys.exit(main())
