"""The monitor's contract: restores everything, never changes numbers, never raises into the
program, and confirms (or declines to confirm) each rule on realistic patterns."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import optimlint  # noqa: E402
from optimlint.runtime import frames, gradients  # noqa: E402
from optimlint.runtime import monitor as monitor_mod  # noqa: E402
from optimlint.runtime.patches import subclasses  # noqa: E402
from optimlint.runtime.monitor import watch  # noqa: E402


# --------------------------------------------------------------------------- helpers
def batches(n=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(4, 8, generator=g), torch.randn(4, 1, generator=g)) for _ in range(n)]


def mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))


def codes(report):
    return sorted({o.code for o in report.findings})


def patched_attributes():
    from torch.amp.grad_scaler import GradScaler
    from torch.optim import lr_scheduler
    from torch.utils.data import DataLoader

    import torch.nn.utils as nn_utils
    from torch.nn.utils import clip_grad

    owners = [torch.optim.Optimizer, nn.Module, GradScaler, DataLoader, clip_grad, nn_utils, torch.autograd]
    owners += subclasses(torch.optim.Optimizer)
    owners += subclasses(lr_scheduler.LRScheduler)
    snap = {}
    for owner in owners:
        for name in ("__init__", "zero_grad", "add_param_group", "train", "step", "scale", "unscale_",
                     "update", "__iter__", "clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "backward"):
            if isinstance(owner, type):
                snap[(owner, name)] = owner.__dict__.get(name, "<absent>")
            else:
                snap[(owner, name)] = getattr(owner, name, "<absent>")
    return snap


def global_hook_counts():
    from torch.optim import optimizer as optim_mod

    return (len(optim_mod._global_optimizer_pre_hooks), len(optim_mod._global_optimizer_post_hooks),
            len(nn.modules.module._global_forward_pre_hooks))


def train(model, opt, data, sched=None):
    for x, y in data:
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()
        if sched is not None:
            sched.step()


# --------------------------------------------------------------------------- restore
def test_everything_is_restored_after_watch():
    torch.optim.SGD(mlp().parameters(), lr=0.1)  # PyTorch wraps SGD.step itself on first construction
    before, hooks = patched_attributes(), global_hook_counts()
    model = mlp()
    with optimlint.watch() as report:
        assert patched_attributes() != before
        assert global_hook_counts() != hooks
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        train(model, opt, batches())
    assert patched_attributes() == before
    assert global_hook_counts() == hooks
    assert all(not p._post_accumulate_grad_hooks for p in model.parameters())
    assert report.findings == []


def test_everything_is_restored_after_an_exception_inside():
    torch.optim.SGD(mlp().parameters(), lr=0.1)
    before, hooks = patched_attributes(), global_hook_counts()
    model = mlp()
    with pytest.raises(ZeroDivisionError):
        with watch():
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            train(model, opt, batches(2))
            1 / 0
    assert patched_attributes() == before
    assert global_hook_counts() == hooks
    assert all(not p._post_accumulate_grad_hooks for p in model.parameters())


def test_watch_is_forwarded_lazily_from_the_package():
    import inspect

    assert optimlint.watch.__module__ == "optimlint"
    assert str(inspect.signature(optimlint.watch)) == "(namespace: dict | None = None, *, files=())"
    with optimlint.watch() as report:
        pass
    assert report.findings == [] and report.errors == []


def test_watch_joins_the_static_findings_of_the_code_that_ran(tmp_path):
    """The report of watch() is the one `optimlint run` gives: static findings of the files
    that ran, each confirmed / not-observed / not-reached, then runtime-only ones."""
    source = textwrap.dedent("""\
        import torch
        from torch import nn


        def train(model, batches):
            optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
            for x, y in batches:
                loss = nn.functional.mse_loss(model(x), y)
                loss.backward()
                optimizer.step()
    """)
    path = tmp_path / "notebook_helpers.py"
    path.write_text(source)
    namespace: dict = {}
    exec(compile(source, str(path), "exec"), namespace)
    with optimlint.watch() as report:
        namespace["train"](mlp(), batches())
    assert [(d.code, d.location.row, d.runtime) for d in report.diagnostics] == [("OPT101", 9, "confirmed")]
    assert [d.code for d in report.confirmed] == ["OPT101"]
    assert report.diagnostics[0].extra["seen"].startswith("at step 2 of `optimizer` the gradients still held")


def test_watch_without_torch_says_how_to_install_it():
    code = textwrap.dedent("""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "torch" or name.startswith("torch."):
                    raise ImportError("No module named 'torch'", name=name)
        sys.meta_path.insert(0, Block())
        import optimlint
        try:
            optimlint.watch()
        except ModuleNotFoundError as exc:
            print(exc)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip() == "optimlint.watch() needs PyTorch: pip install 'optimlint[runtime]'", proc.stderr


# --------------------------------------------------------------------------- numbers
def _full_run(instrument: bool):
    model = nn.Sequential(nn.Linear(8, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 1))
    torch.manual_seed(1)
    for p in model.parameters():
        nn.init.normal_(p, std=0.1)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-2, total_steps=20)
    scaler = torch.amp.GradScaler("cpu")

    def body():
        torch.manual_seed(2)
        for x, y in batches(20, seed=3):
            opt.zero_grad(set_to_none=False)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = nn.functional.mse_loss(model(x).float(), y)
            scaler.scale(loss).backward()
            scaler.unscale_(opt)
            nn.utils.clip_grad_norm_(model.parameters(), 0.5)
            scaler.step(opt)
            scaler.update()
            sched.step()

    if instrument:
        with watch() as report:
            body()
        assert report.errors == []
    else:
        body()
    return [p.detach().clone() for p in model.parameters()] + [b.clone() for b in model.buffers()]


def test_instrumented_run_is_bit_identical():
    plain = _full_run(False)
    watched = _full_run(True)
    assert len(plain) == len(watched)
    assert all(torch.equal(a, b) for a, b in zip(plain, watched))


# --------------------------------------------------------------------------- never raises
def test_an_error_inside_a_hook_is_reported_not_raised(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(frames, "user_location", broken)
    model = mlp()
    with watch() as report:
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for x, y in batches():
            nn.functional.mse_loss(model(x), y).backward()  # OPT101 bug, but the hooks are broken
            opt.step()
    assert report.errors and all("boom" in e for e in report.errors)
    reference = mlp()
    ref_opt = torch.optim.SGD(reference.parameters(), lr=0.1)
    for x, y in batches():
        nn.functional.mse_loss(reference(x), y).backward()
        ref_opt.step()
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), reference.parameters()))


def test_an_error_in_the_accumulate_hook_does_not_break_backward(monkeypatch):
    class BrokenWeakref:
        @staticmethod
        def ref(*args):
            raise ValueError("hook failure")

    model = mlp()
    with watch() as report:
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        # the hook takes a weak reference to each new gradient: make that fail inside it
        monkeypatch.setattr(gradients, "weakref", BrokenWeakref)
        train(model, opt, batches(2))
    assert any(e.startswith("post-accumulate-grad hook: ValueError: hook failure") for e in report.errors)
    assert all(p.grad is not None for p in model.parameters())


# --------------------------------------------------------------------------- without torch
def test_run_without_torch_exits_2_with_install_hint():
    code = textwrap.dedent("""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "torch" or name.startswith("torch."):
                    raise ImportError("No module named 'torch'", name=name)
        sys.meta_path.insert(0, Block())
        from optimlint.runtime import runner
        sys.exit(runner.main(["train.py"]))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=str(__import__("pathlib").Path(__file__).parent))
    # train.py does not exist: a missing script is checked first; use an existing file instead
    assert proc.returncode == 2
    proc = subprocess.run([sys.executable, "-c", code.replace('"train.py"', repr(__file__))],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "optimlint run needs PyTorch: pip install 'optimlint[runtime]'" in proc.stderr
    assert "torch" not in proc.stdout


# --------------------------------------------------------------------------- rules
def test_opt101_confirmed_at_the_backward_with_location_and_rank(monkeypatch):
    monkeypatch.setenv("RANK", "1")
    model = mlp()
    with watch() as report:
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for x, y in batches():
            loss = nn.functional.mse_loss(model(x), y)
            loss.backward(); backward_line = sys._getframe().f_lineno  # noqa: E702
            opt.step()
    (obs,) = report.findings
    assert (obs.code, obs.filename, obs.row, obs.rank) == ("OPT101", __file__, backward_line, 1)


@pytest.mark.parametrize("clear", ["opt", "module", "none_by_hand", "zero_false", "zero_by_hand"])
def test_clearing_in_any_form_is_not_opt101(clear):
    model = mlp()
    with watch() as report:
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        for x, y in batches():
            if clear == "opt":
                opt.zero_grad()
            elif clear == "module":
                model.zero_grad()
            elif clear == "none_by_hand":
                for p in model.parameters():
                    p.grad = None
            elif clear == "zero_false":
                opt.zero_grad(set_to_none=False)
            elif clear == "zero_by_hand":
                for p in model.parameters():
                    if p.grad is not None:
                        p.grad.zero_()
            nn.functional.mse_loss(model(x), y).backward()
            opt.step()
    assert codes(report) == []


def test_zero_grad_set_to_none_false_between_backward_and_step_is_opt102():
    model = mlp()
    with watch() as report:
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for x, y in batches():
            nn.functional.mse_loss(model(x), y).backward()
            opt.zero_grad(set_to_none=False)
            opt.step()
    assert codes(report) == ["OPT102"]


def test_grads_from_autograd_grad_assigned_by_hand_are_not_opt103():
    model = mlp()
    with watch() as report:
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        params = list(model.parameters())
        for x, y in batches():
            grads = torch.autograd.grad(nn.functional.mse_loss(model(x), y), params)
            for p, g in zip(params, grads):
                p.grad = g
            opt.step()
    assert codes(report) == []


def test_double_step_on_stale_gradients_is_opt103():
    model = mlp()
    with watch() as report:
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for x, y in batches():
            opt.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            opt.step()
            opt.step()
    assert codes(report) == ["OPT103"]


def test_sgd_closure_and_optimizer_in_backward_hooks_are_clean():
    model = mlp()
    with watch() as report:
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for x, y in batches():
            def closure():
                opt.zero_grad()
                loss = nn.functional.mse_loss(model(x), y)
                loss.backward()
                return loss
            opt.step(closure)
        # the "optimizer step in backward" recipe: one optimizer per parameter, stepped in a hook
        other = mlp(1)
        per_param = {p: torch.optim.Adam([p], lr=1e-3) for p in other.parameters()}

        def hook(p):
            per_param[p].step()
            per_param[p].zero_grad()

        handles = [p.register_post_accumulate_grad_hook(hook) for p in other.parameters()]
        for x, y in batches():
            nn.functional.mse_loss(other(x), y).backward()
        for h in handles:
            h.remove()
    assert codes(report) == []


def test_accumulation_windows_and_ddp_like_inplace_grad_updates_are_not_opt106():
    model = mlp()
    with watch() as report:
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for i, (x, y) in enumerate(batches(8)):
            (nn.functional.mse_loss(model(x), y) / 2).backward()
            for p in model.parameters():   # an all-reduce writes into the gradients in place
                p.grad.mul_(1.0)
            if i % 2 == 1:
                opt.step()
                opt.zero_grad()
    assert codes(report) == []


def test_sam_style_two_backwards_with_a_perturbation_between_is_not_opt106():
    model = mlp()
    with watch() as report:
        base = torch.optim.SGD(model.parameters(), lr=0.1)
        for x, y in batches():
            nn.functional.mse_loss(model(x), y).backward()
            with torch.no_grad():
                eps = [0.05 * p.grad for p in model.parameters()]
                for p, e in zip(model.parameters(), eps):
                    p.add_(e)
            base.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            with torch.no_grad():
                for p, e in zip(model.parameters(), eps):
                    p.sub_(e)
            base.step()
            base.zero_grad()
    assert codes(report) == []


def test_opt201_not_reported_when_grad_scaler_skipped_the_first_step():
    model = mlp()
    with watch() as report:
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=100)
        scaler = torch.amp.GradScaler("cpu", init_scale=3e38)  # the first steps overflow
        with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
            for x, y in batches(3):
                opt.zero_grad()
                scaler.scale(nn.functional.mse_loss(model(x), y) * 1e3).backward()
                scaler.step(opt)
                scaler.update()
                sched.step()
    assert codes(report) == []


def test_plateau_scheduler_and_sequential_lr_are_clean():
    model = mlp()
    with watch() as report:
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        warm = torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=2)
        cos = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4)
        seq = torch.optim.lr_scheduler.SequentialLR(opt, [warm, cos], milestones=[2])
        plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=2)
        for epoch in range(3):
            train(model, opt, batches(3))
            seq.step()
            plateau.step(1.0)
    assert codes(report) == []


def test_opt401_names_the_missing_parameters_by_module_path():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone, self.neck, self.head = nn.Linear(8, 8), nn.Linear(8, 8), nn.Linear(8, 1)

        def forward(self, x):
            return self.head(self.neck(self.backbone(x)))

    namespace = {}
    with watch(namespace=namespace) as report:
        namespace["model"] = model = Net()
        opt = torch.optim.SGD([{"params": model.backbone.parameters()}, {"params": model.head.parameters()}],
                              lr=0.1)
        train(model, opt, batches(2))
    (obs,) = report.findings
    assert obs.code == "OPT401"
    assert "`model.neck.weight`, `model.neck.bias`" in obs.message


def test_frozen_and_unoptimized_modules_are_not_opt401():
    backbone, head = mlp(), nn.Linear(1, 1)
    for p in backbone.parameters():
        p.requires_grad_(False)
    with watch() as report:
        opt = torch.optim.SGD(head.parameters(), lr=0.1)
        teacher = mlp(2)   # no optimizer holds any of its parameters: not "left out of groups"
        for x, y in batches(2):
            opt.zero_grad()
            loss = nn.functional.mse_loss(head(backbone(x)), y) + teacher(x).mean()
            loss.backward()
            opt.step()
    assert codes(report) == []


def test_construction_rules_seen_by_watch():
    model = mlp()
    with watch() as report:
        torch.optim.RAdam(model.parameters(), weight_decay=0.1)
        torch.optim.NAdam(model.parameters(), weight_decay=0.1, decoupled_weight_decay=True)
        torch.optim.AdamW(model.parameters(), weight_decay=0.1)
        torch.optim.Adam(model.parameters(), weight_decay=0.0)
        torch.optim.Adam([{"params": model[0].parameters(), "name": "first", "lr_scale": 0.5}])
        with pytest.raises(TypeError):
            torch.optim.Adam(model.parameters(), learning_rate=1e-3)
        torch.optim.Adadelta([{"params": model.parameters(), "rho": 0.8}])
    assert [o.code for o in report.findings] == ["OPT302", "OPT301"]


def test_eval_mode_for_an_adversarial_attack_is_not_opt603():
    model = mlp()
    with watch() as report:
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for x, y in batches():
            model.eval()
            x_adv = x.clone().requires_grad_(True)
            nn.functional.mse_loss(model(x_adv), y).backward()
            x_adv = (x_adv + 0.01 * x_adv.grad.sign()).detach()
            model.train()
            opt.zero_grad()
            nn.functional.mse_loss(model(x_adv), y).backward()
            opt.step()
    assert codes(report) == []


def test_clip_grad_norm_with_a_generator_still_clips():
    model = mlp()
    with watch() as report:
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for x, y in batches(2):
            opt.zero_grad()
            (1e3 * nn.functional.mse_loss(model(x), y)).backward()
            total = nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
    assert total > 1.0
    clipped = torch.sqrt(sum((p.grad ** 2).sum() for p in model.parameters()))
    assert clipped <= 1.0 + 1e-4
    assert codes(report) == []


def test_legacy_grad_data_zero_is_not_opt101():
    # `.data.zero_()` clears without touching the version counter: only the sentinel's
    # device-side flag (read once at exit) tells this loop apart from a missing zero_grad.
    model = mlp()
    with watch() as report:
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for x, y in batches():
            for p in model.parameters():
                if p.grad is not None:
                    p.grad.data.zero_()
            nn.functional.mse_loss(model(x), y).backward()
            opt.step()
    assert codes(report) == []


def _loader(n=32, bs=4):
    from torch.utils.data import DataLoader, TensorDataset

    return DataLoader(TensorDataset(torch.randn(n, 8), torch.randn(n, 1)), batch_size=bs)


def test_iteration_schedules_on_an_endless_iterator_are_not_opt202():
    import itertools

    model = mlp()
    with watch() as report:
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=5)   # 5 iterations, on purpose
        batches_ = itertools.cycle(_loader())
        for _ in range(24):
            x, y = next(batches_)
            opt.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            opt.step()
            sched.step()
    assert codes(report) == []


def test_one_cycle_sized_in_epochs_and_stepped_per_epoch_is_not_opt203():
    model = mlp()
    loader = _loader()
    with watch() as report:
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=3)
        for epoch in range(3):
            train(model, opt, loader)
            sched.step()
    assert codes(report) == []


def test_hooks_never_read_tensor_values():
    """No host read of a tensor value in the runtime package (it would sync with the device per
    step); the only one is the sentinel flag, read once per OPT101 candidate in ``confirm_pending``."""
    import ast
    from pathlib import Path

    offenders = []
    # what runs inside the program: the orchestrator, its records, patches and verdicts
    runtime = Path(monitor_mod.__file__).parent
    sources = [runtime / f"{name}.py" for name in ("monitor", "gradients", "records", "patches", "frames")]
    sources += sorted((runtime / "verdicts").glob("*.py"))
    assert len(sources) >= 11
    funcs = [f for path in sources for f in ast.walk(ast.parse(path.read_text()))]
    for func in funcs:
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(func):
            if isinstance(node, ast.Call):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if name in ("item", "tolist", "cpu", "numpy", "data_ptr", "synchronize"):
                    offenders.append((func.name, name))
                if name == "bool" and func.name != "confirm_pending":
                    offenders.append((func.name, name))
    assert offenders == []


def test_end_of_run_checks_survive_objects_that_died_before_the_end():
    # `if __name__ == "__main__": main()`: the optimizer and scheduler are locals of main().
    def main():
        model = mlp()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2)
        loader = _loader()
        for epoch in range(3):
            train(model, opt, loader, sched)   # an epoch scheduler stepped per batch
        never = torch.optim.SGD(mlp(1).parameters(), lr=0.1)
        other = never.param_groups[0]["params"]
        for _ in range(2):
            sum(p.sum() for p in other).backward()

    import gc

    with watch() as report:
        main()
        gc.collect()
    assert codes(report) == ["OPT104", "OPT202"]


def test_opt401_seen_at_an_epoch_boundary_when_the_model_is_a_local():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body, self.extra = nn.Linear(8, 8), nn.Linear(8, 1)

        def forward(self, x):
            return self.extra(self.body(x))

    def main():
        model = Net()
        opt = torch.optim.SGD(model.body.parameters(), lr=0.1)
        loader = _loader()
        for epoch in range(2):
            train(model, opt, loader)

    import gc

    with watch() as report:
        main()
        gc.collect()
    (obs,) = report.findings
    assert obs.code == "OPT401" and obs.count == 1
    assert "`model.extra.weight`, `model.extra.bias`" in obs.message  # named as main() names it


# --------------------------------------------------------------------------- per-step cost
def _optimlint_hooks(params):
    """How many accumulate hooks and tensor hooks sit on ``params`` (optimlint's, inside watch)."""
    accumulate = sum(len(p._post_accumulate_grad_hooks or {}) for p in params)
    tensor = sum(len(p._backward_hooks or {}) for p in params)
    return accumulate, tensor


def test_after_warm_up_one_hook_stands_for_every_parameter_and_the_sentinel_is_off():
    # a correct loop: after eight steps one parameter's accumulate hook is kept (its
    # optimizer's representative), and the OPT101 sentinel (a tensor op per step) is off;
    # from the next settled step on (armed) that hook is off too: the backward wrapper reads
    # the representative's gradient after each backward, and a backward with no clear before
    # it puts the hook back
    model = mlp()
    params = list(model.parameters())
    with watch() as report:
        opt = torch.optim.SGD(params, lr=0.1)
        train(model, opt, batches(4))
        assert _optimlint_hooks(params) == (4, 0)
        train(model, opt, batches(4, seed=1))
        assert _optimlint_hooks(params) == (1, 0)
        train(model, opt, batches(4, seed=2))
        assert _optimlint_hooks(params) == (0, 0)
        nn.functional.mse_loss(model(batches(1)[0][0]), batches(1)[0][1]).backward()   # no clear before
        assert _optimlint_hooks(params) == (1, 0)
    assert codes(report) == [] and report.errors == []
    assert _optimlint_hooks(params) == (0, 0)


def test_a_mistake_that_starts_after_the_warm_up_is_still_confirmed():
    model = mlp()
    with watch() as report:
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        train(model, opt, batches(12))
        for x, y in batches(4, seed=1):    # from here on nothing clears
            nn.functional.mse_loss(model(x), y).backward()
            opt.step()
    assert codes(report) == ["OPT101"]


def test_a_window_cleared_on_every_micro_batch_after_the_warm_up_is_opt106():
    model = mlp()
    with watch() as report:
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        train(model, opt, batches(12))
        for i, (x, y) in enumerate(batches(12, seed=1)):
            opt.zero_grad()                 # every micro-batch: the window keeps only the last
            nn.functional.mse_loss(model(x), y).backward()
            if (i + 1) % 4 == 0:
                opt.step()
    assert codes(report) == ["OPT106"]


def test_the_representative_frozen_brings_every_hook_back():
    # after the warm-up the first layer (where the representative is, or not) is frozen:
    # a backward that misses the representative re-hooks every parameter, and a later
    # missing clear is still confirmed
    model = mlp()
    params = list(model.parameters())
    with watch() as report:
        opt = torch.optim.SGD(params, lr=0.1)
        train(model, opt, batches(8))
        assert _optimlint_hooks(params) == (1, 0)
        hooked = next(p for p in params if p._post_accumulate_grad_hooks)
        train(model, opt, batches(4, seed=4))
        assert _optimlint_hooks(params) == (0, 0)  # armed: the backward wrapper reads it
        hooked.requires_grad_(False)
        train(model, opt, batches(2, seed=1))
        assert _optimlint_hooks(params)[0] == 4   # all hooked again (the frozen one never fires)
        train(model, opt, batches(12, seed=2))
        assert _optimlint_hooks(params)[0] == 1   # a new representative, among those that train
        for x, y in batches(4, seed=3):
            nn.functional.mse_loss(model(x), y).backward()
            opt.step()
    assert codes(report) == ["OPT101"]


def test_eval_after_the_warm_up_is_judged_on_every_parameter():
    # a frozen BatchNorm put in eval after the warm-up: the rest of the model trains (no
    # OPT603) whichever parameter the representative was
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 1))
    with watch() as report:
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        train(model, opt, batches(12))
        model[1].eval()
        train(model, opt, batches(12, seed=1))
    assert codes(report) == []


def test_a_clip_before_the_backward_after_the_warm_up_is_opt105():
    model = mlp()
    with watch() as report:
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        train(model, opt, batches(12))
        for x, y in batches(3, seed=1):
            opt.zero_grad()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)   # nothing fresh to clip yet
            nn.functional.mse_loss(model(x), y).backward()
            opt.step()
    assert codes(report) == ["OPT105"]


# after the warm-up a settled step (one fresh backward on the representative, nothing cleared
# after it, not scaled, no module in eval) skips the step's view: each way out is a verdict
def test_a_clear_between_backward_and_step_after_the_warm_up_is_opt102():
    model = mlp()
    with watch() as report:
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        train(model, opt, batches(12))
        for x, y in batches(3, seed=1):
            nn.functional.mse_loss(model(x), y).backward()
            opt.zero_grad()                 # the gradients are gone before the step
            opt.step()
    assert codes(report) == ["OPT102"]


def test_a_scaled_backward_stepped_directly_after_the_warm_up_is_opt501():
    model = mlp()
    with watch() as report:
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        scaler = torch.amp.GradScaler("cpu")
        for x, y in batches(12):
            opt.zero_grad()
            scaler.scale(nn.functional.mse_loss(model(x), y)).backward()
            scaler.step(opt)
            scaler.update()
        for x, y in batches(3, seed=1):
            opt.zero_grad()
            scaler.scale(nn.functional.mse_loss(model(x), y)).backward()
            opt.step()                      # bypasses the scaler: scaled gradients
    assert codes(report) == ["OPT501"]


def test_the_whole_model_in_eval_after_the_warm_up_is_opt603():
    model = mlp()
    with watch() as report:
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        train(model, opt, batches(12))
        model.eval()                        # validation, never back to train()
        train(model, opt, batches(3, seed=1))
    assert codes(report) == ["OPT603"]


# each wrapper remembers its previous call site (the user frame's code and instruction offset)
# and skips the walk to the user's frame when the next call comes from the same one: a call
# from another line after the warm-up is attributed to that line
def test_a_clear_at_a_new_line_after_the_warm_up_is_reported_at_that_line():
    model = mlp()
    with watch() as report:
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for x, y in batches(12):            # the same function: only the offsets differ
            opt.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            opt.step()
        for x, y in batches(3, seed=1):
            nn.functional.mse_loss(model(x), y).backward()
            opt.zero_grad(); zero_line = sys._getframe().f_lineno  # noqa: E702
            opt.step()
    (obs,) = report.findings
    assert (obs.code, obs.filename, obs.row) == ("OPT102", __file__, zero_line)


def test_a_missing_clear_at_a_new_backward_line_after_the_warm_up_is_reported_at_that_line():
    model = mlp()
    with watch() as report:
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for x, y in batches(12):
            opt.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            opt.step()
        for x, y in batches(4, seed=1):
            loss = nn.functional.mse_loss(model(x), y)
            loss.backward(); backward_line = sys._getframe().f_lineno  # noqa: E702
            opt.step()
    (obs,) = report.findings
    assert (obs.code, obs.filename, obs.row) == ("OPT101", __file__, backward_line)


def test_a_running_total_that_starts_after_hundreds_of_settled_steps_is_opt601():
    # OPT601 looks every 256th step once the run is long: a total that starts carrying the
    # graph at step 300 is seen at steps 512 and 768
    model = mlp()
    data = batches(8)
    with watch() as report:
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        for _ in range(300 // 8):
            train(model, opt, data)
        total = 0.0
        for i in range(500):
            x, y = data[i % 8]
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(x), y)
            loss.backward()
            opt.step()
            total += loss
    assert codes(report) == ["OPT601"]
    assert total.grad_fn is not None


# after a settled step the optimizer is *armed*: its step pre-hook is off until an event says
# the next step may not be settled; what no event shows is read by the post-hook after the step
def test_one_extra_step_with_no_backward_after_the_warm_up_is_opt103():
    model = mlp()
    with watch() as report:
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        train(model, opt, batches(12))
        opt.step()                          # once, by mistake: nothing fresh since the last step
        train(model, opt, batches(4, seed=1))
    assert codes(report) == ["OPT103"]


def test_gradients_set_to_none_by_hand_before_the_step_after_the_warm_up_is_opt102():
    model = mlp()
    with watch() as report:
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        train(model, opt, batches(12))
        for x, y in batches(3, seed=1):
            opt.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            for p in model.parameters():
                p.grad = None               # gone before the step: no event shows it
            opt.step()
    assert codes(report) == ["OPT102"]


def test_the_module_cleared_between_backward_and_step_after_the_warm_up_is_opt102():
    model = mlp()
    with watch() as report:
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        train(model, opt, batches(12))
        for x, y in batches(3, seed=1):
            opt.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            model.zero_grad()
            opt.step()
    assert codes(report) == ["OPT102"]


def test_an_armed_optimizer_steps_without_its_pre_hook_and_gets_it_back_on_a_mistake():
    from torch.optim import optimizer as optim_mod

    model = mlp()
    with watch() as report:
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        train(model, opt, batches(12))
        assert len(opt._optimizer_step_pre_hooks) == 0 and len(optim_mod._global_optimizer_pre_hooks) == 0
        nn.functional.mse_loss(model(batches(1)[0][0]), batches(1)[0][1]).backward()   # no clear before
        assert len(opt._optimizer_step_pre_hooks) == 1      # back on: the step is judged before it runs
        opt.step()
    assert codes(report) == []          # one backward on top of the previous step's: a candidate only
    assert len(opt._optimizer_step_pre_hooks) == 0


def test_a_scaled_backward_after_plain_settled_steps_stepped_directly_is_opt501():
    # armed by plain steps, then GradScaler comes in and its scaled gradients are stepped
    # without scaler.step: the scaled backward puts the pre-hook back before that step
    model = mlp()
    with watch() as report:
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        train(model, opt, batches(12))
        scaler = torch.amp.GradScaler("cpu")
        for x, y in batches(3, seed=1):
            opt.zero_grad()
            scaler.scale(nn.functional.mse_loss(model(x), y)).backward()
            opt.step()
    assert codes(report) == ["OPT501"]


# --------------------------------------------------------------------------- sampled-out steps
# after a long calm run (every optimizer armed for sampling.CALM steps, nothing else happening)
# the wrappers of zero_grad and backward are off for sampling.SLEEP steps at a time and only
# the step post-hook runs; a mistake that starts then, and repeats, is still confirmed
def calm(model, opt, steps=96):
    data = batches(8, seed=7)
    for _ in range(steps // 8):
        train(model, opt, data)


def _asleep():
    return not hasattr(torch.autograd.backward, "__optimlint_wrapped__")


def test_a_long_calm_run_is_observed_one_step_in_thirty_two_and_stays_silent():
    from optimlint.runtime import sampling

    model = mlp()
    data = batches(8)
    zero_grad, backward = torch.optim.Optimizer.__dict__["zero_grad"], torch.autograd.backward
    with watch() as report:
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        calm(model, opt)
        observed = 0
        for i in range(320):
            x, y = data[i % 8]
            observed += not _asleep()
            opt.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            opt.step()
        assert observed == 320 // (sampling.SLEEP + 1)
    assert codes(report) == [] and report.errors == []
    assert torch.optim.Optimizer.__dict__["zero_grad"] is zero_grad and torch.autograd.backward is backward


def test_a_missing_clear_after_a_long_calm_run_is_opt101():
    model = mlp()
    with watch() as report:
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        calm(model, opt)
        assert _asleep()
        for x, y in batches(8, seed=1):      # from here on nothing clears
            nn.functional.mse_loss(model(x), y).backward()
            opt.step()
    assert codes(report) == ["OPT101"]


def test_a_clear_between_backward_and_step_after_a_long_calm_run_is_opt102_at_its_line():
    model = mlp()
    with watch() as report:
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        calm(model, opt)
        for x, y in batches(8, seed=1):
            nn.functional.mse_loss(model(x), y).backward()
            opt.zero_grad(); zero_line = sys._getframe().f_lineno  # noqa: E702
            opt.step()
    (obs,) = report.findings
    assert (obs.code, obs.filename, obs.row) == ("OPT102", __file__, zero_line)


def test_two_steps_per_backward_after_a_long_calm_run_is_opt103():
    model = mlp()
    with watch() as report:
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        calm(model, opt)
        for x, y in batches(8, seed=1):
            opt.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            opt.step()
            opt.step()                       # again: nothing fresh since the last step
    assert codes(report) == ["OPT103"]


def test_a_window_cleared_on_every_micro_batch_after_a_long_calm_run_is_opt106():
    # nothing in the representative's pattern shows it (a new gradient object at each step):
    # the next observed step does, and the mistake repeats
    model = mlp()
    with watch() as report:
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        calm(model, opt)
        for i, (x, y) in enumerate(batches(32, seed=1) * 8):
            opt.zero_grad()                 # every micro-batch: the window keeps only the last
            nn.functional.mse_loss(model(x), y).backward()
            if (i + 1) % 4 == 0:
                opt.step()
    assert codes(report) == ["OPT106"]


def test_a_clip_before_the_backward_after_a_long_calm_run_is_opt105():
    model = mlp()
    with watch() as report:
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        calm(model, opt)
        for x, y in batches(3, seed=1):
            opt.zero_grad()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)   # nothing fresh to clip yet
            nn.functional.mse_loss(model(x), y).backward()
            opt.step()
    assert codes(report) == ["OPT105"]


def test_a_scaled_backward_stepped_directly_after_a_long_calm_run_is_opt501():
    model = mlp()
    with watch() as report:
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        calm(model, opt)
        scaler = torch.amp.GradScaler("cpu")
        for x, y in batches(3, seed=1):
            opt.zero_grad()
            scaler.scale(nn.functional.mse_loss(model(x), y)).backward()
            opt.step()                      # bypasses the scaler: scaled gradients
    assert codes(report) == ["OPT501"]


def test_the_model_left_in_eval_after_a_long_calm_run_is_opt603():
    model = mlp()
    with watch() as report:
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        calm(model, opt)
        model.eval()                        # validation, never back to train()
        train(model, opt, batches(3, seed=1))
    assert codes(report) == ["OPT603"]


def test_a_module_cleared_between_backward_and_step_after_a_long_calm_run_is_opt102():
    model = mlp()
    with watch() as report:
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        calm(model, opt)
        for x, y in batches(3, seed=1):
            opt.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            model.zero_grad()
            opt.step()
    assert codes(report) == ["OPT102"]


def test_two_optimizers_sleep_together_and_a_critic_left_uncleared_is_opt101():
    actor, critic = mlp(1), mlp(2)
    data = batches(8)
    with watch() as report:
        actor_opt = torch.optim.Adam(actor.parameters(), lr=1e-3)
        critic_opt = torch.optim.Adam(critic.parameters(), lr=1e-3)
        for i in range(200):
            x, y = data[i % 8]
            if i == 120:
                assert _asleep()
            actor_opt.zero_grad()
            nn.functional.mse_loss(actor(x), y).backward()
            actor_opt.step()
            if i < 120:                     # from step 120 on the critic's gradients pile up
                critic_opt.zero_grad()
            nn.functional.mse_loss(critic(x), y).backward()
            critic_opt.step()
    (obs,) = report.findings
    assert obs.code == "OPT101" and "`critic_opt`" in obs.message
