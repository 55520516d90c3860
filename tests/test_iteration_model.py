"""The training-iteration model's public API (read by OPT1xx/2xx/5xx/6xx): iterations,
events in order, where they run (loops, conditions, no_grad), helpers inlined, bindings."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import libcst as cst

from optimlint.analysis.events import STEP_KINDS, Event as PlainEvent, EventKind
from optimlint.analysis.iteration import exclusive, training_model
from optimlint.config import Settings
from optimlint.context import FileContext

K = EventKind


def model_of(src: str):
    text = textwrap.dedent(src)
    ctx = FileContext("train.py", text, cst.parse_module(text), Settings())
    return ctx, training_model(ctx)


def kinds(ctx, it):
    return [(e.kind.value, ctx.positions[e.node].start.line) for e in it.events]


LOOP = """
import torch
from torch.optim.lr_scheduler import StepLR

model = torch.nn.Linear(2, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
sched = StepLR(opt, step_size=10)

for epoch in range(3):
    model.train()
    for x, y in [(torch.randn(4, 2), torch.randn(4, 1))]:
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        if epoch > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    sched.step()
    model.eval()
    with torch.no_grad():
        model(torch.randn(1, 2))
"""


def test_loops_are_iterations_with_events_in_order():
    ctx, m = model_of(LOOP)
    loops = [it for it in m.iterations if it.kind == "loop"]
    assert [(ctx.positions[it.node].start.line, it.depth) for it in loops] == [(9, 0), (11, 1)]
    epoch, batch = loops
    assert kinds(ctx, epoch) == [("train_mode", 10), ("zero_grad", 12), ("backward", 14), ("clip", 16),
                                 ("step", 17), ("sched_step", 18), ("eval_mode", 19)]
    assert kinds(ctx, batch) == [("zero_grad", 12), ("backward", 14), ("clip", 16), ("step", 17)]


def test_always_nested_and_conditions():
    ctx, m = model_of(LOOP)
    epoch, batch = [it for it in m.iterations if it.kind == "loop"]
    by_kind = {e.kind: e for e in epoch.events}
    assert epoch.always(by_kind[K.SCHED_STEP]) and epoch.always(by_kind[K.TRAIN_MODE])
    assert not epoch.always(by_kind[K.STEP]) and epoch.nested(by_kind[K.STEP])
    clip = next(e for e in batch.events if e.kind is K.CLIP)
    assert batch.always(next(e for e in batch.events if e.kind is K.STEP))
    assert not batch.always(clip)
    assert [type(b.node).__name__ for b in batch.conditions(clip)] == ["If"]
    assert by_kind[K.STEP].loops == (epoch.node, batch.node)


def test_targets_are_bindings():
    ctx, m = model_of(LOOP)
    epoch = next(it for it in m.iterations if it.kind == "loop")
    step = next(e for e in epoch.events if e.kind is K.STEP)
    sched = next(e for e in epoch.events if e.kind is K.SCHED_STEP)
    assert step.target.kind == "optimizer" and step.target.cls == "SGD"
    assert step.target.modules == frozenset({"model"})
    assert sched.target.kind == "scheduler" and sched.target.cls == "StepLR"
    assert sched.target.optimizer is step.target
    assert step.target_key == "opt" and sched.target_key == "sched"
    mode = next(e for e in epoch.events if e.kind is K.EVAL_MODE)
    assert mode.module == "model"


def test_no_grad_regions():
    ctx, m = model_of("""
    import torch


    @torch.no_grad()
    def evaluate(model, data):
        model.eval()


    def train(model, opt, data):
        for x in data:
            with torch.no_grad():
                model.eval()
            model.train()
            opt.step()
    """)
    evs = {(e.kind, e.no_grad) for e in m.scope_events(m.functions["train"])}
    assert (K.EVAL_MODE, True) in evs and (K.TRAIN_MODE, False) in evs
    assert all(e.no_grad for e in m.scope_events(m.functions["evaluate"]))


def test_helpers_are_inlined_in_the_caller_terms():
    ctx, m = model_of("""
    import torch


    def train_step(net, batch, optimizer):
        optimizer.zero_grad()
        net(batch).sum().backward()
        optimizer.step()


    def main(model, loader):
        opt = torch.optim.Adam(model.parameters())
        for batch in loader:
            train_step(model, batch, opt)
    """)
    loop = next(it for it in m.iterations if it.kind == "loop")
    assert [e.kind for e in loop.events] == [K.ZERO_GRAD, K.BACKWARD, K.STEP]
    step = loop.events[-1]
    assert not step.direct and step.target_key == "opt" and step.own_key == "optimizer"
    assert step.target.cls == "Adam"
    assert ctx.positions[step.stmt].start.line == 14  # the call site in the loop
    # the helper is a step function of its own
    assert any(it.kind == "function" and it.node is m.functions["train_step"] for it in m.iterations)


def test_closures_lightning_and_exclusive_branches():
    ctx, m = model_of("""
    import lightning as L
    import torch


    class Auto(L.LightningModule):
        def training_step(self, batch, batch_idx):
            return self.net(batch).mean()


    class Manual(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.automatic_optimization = False

        def training_step(self, batch, batch_idx):
            opt = self.optimizers()
            self.manual_backward(self.net(batch).mean())
            opt.step()


    def fit(w, use_amp, scaler):
        opt = torch.optim.LBFGS([w])

        def closure():
            opt.zero_grad()
            loss = (w ** 2).sum()
            loss.backward()
            return loss

        for _ in range(3):
            opt.step(closure)
            if use_amp:
                scaler.update()
            else:
                opt.zero_grad()
    """)
    assert sorted(it.kind for it in m.iterations) == ["closure", "lightning-auto", "lightning-manual", "loop"]
    loop = next(it for it in m.iterations if it.kind == "loop")
    update = next(e for e in loop.events if e.kind is K.SCALER_UPDATE)
    clear = next(e for e in loop.events if e.kind is K.ZERO_GRAD)
    assert next(e for e in loop.events if e.kind is K.STEP_CLOSURE)
    assert exclusive(update, clear) and not exclusive(update, loop.events[0])


def test_deepspeed_engine_and_noise_scheduler_are_not_steps():
    ctx, m = model_of("""
    import deepspeed
    from diffusers import DDPMScheduler

    noise_scheduler = DDPMScheduler()


    def train(args, model, loader):
        engine, optimizer, _, _ = deepspeed.initialize(args=args, model=model)
        for batch in loader:
            loss = engine(batch)
            engine.backward(loss)
            engine.step()
            noise_scheduler.step(loss, 1, batch)
    """)
    loop = next(it for it in m.iterations if it.kind == "loop")
    assert loop.events == []
    assert any(o.touches_all for o in loop.opaque)


def test_event_vocabulary_is_stable():
    # the runtime companion and reports rely on these strings
    assert {k.value for k in EventKind} >= {
        "backward", "zero_grad", "step", "step_closure", "sched_step", "clip", "scale", "unscale",
        "scaler_step", "scaler_update", "train_mode", "eval_mode"}
    assert STEP_KINDS == {K.STEP, K.STEP_CLOSURE, K.SCALER_STEP}
    assert EventKind("zero_grad") is K.ZERO_GRAD
    assert PlainEvent(K.STEP, 3).column == 1


def test_the_walker_relies_on_its_statement_and_call_classes_having_no_subclasses():
    """analysis/iteration.py tests ``type(node) is`` / ``in`` a set of LibCST classes (their
    ABC isinstance costs a Python call per test): none of them may have a subclass."""
    from optimlint.analysis import iteration

    classes = {iteration._NAME, iteration._ATTRIBUTE, iteration._CALL, cst.If, cst.With, cst.Match, cst.Expr,
               cst.Return, *iteration._SIMPLE_LINES, *iteration._DEFINITIONS, *iteration._ASSIGNS,
               *iteration._LOOPS, *iteration._TRIES}
    assert len(classes) == 19
    assert all(c.__subclasses__() == [] for c in classes)


def test_events_and_opaque_calls_are_numbered_in_walk_order():
    """Opaque calls are decided after the scope's walk (when a rule reads them); their numbers
    still say where each ran among the events (rules compare ``o.index < step.index``)."""
    ctx, m = model_of("""
    import torch


    def train(model, loader, report, checkpoint):
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for x in loader:
            report.send(opt)
            opt.zero_grad()
            loss = model(x).sum()
            loss.backward()
            checkpoint.save(model, opt)
            opt.step()
    """)
    loop = next(it for it in m.iterations if it.kind == "loop")
    every = sorted([*loop.events, *loop.opaque], key=lambda e: e.index)
    rows = [(e.kind.value if e.kind else "opaque", ctx.positions[e.node].start.line) for e in every]
    assert rows == [("opaque", 8), ("zero_grad", 9), ("backward", 11), ("opaque", 12), ("step", 13)]
    # (each open call keeps its number whether or not its decision makes it an event)
    assert len({e.index for e in every}) == 5


def test_a_scope_with_no_event_keeps_only_calls_that_touch_everything():
    ctx, m = model_of("""
    def report(model, writer):
        for name, p in model.named_parameters():
            writer.add_histogram(name, p)
    """)
    func = next(f for f in m.scopes if f is not None)
    assert m.scope_events(func) == [] and m.opaque_of(func) == []


def _opaque_rows(ctx, events):
    return [(ctx.positions[o.node].start.line, o.index, o.touches_all, o.self_call, sorted(o.touch_keys))
            for o in events]


@pytest.mark.parametrize("path", sorted((Path(__file__).parent / "real_world").glob("*.py")), ids=lambda p: p.name)
def test_opaque_calls_decided_by_stretch_equal_those_decided_whole(path):
    """A rule asking about the opaque calls between two events (``opaque_between``) or about
    those that touch everything (``touching_all``) gets the calls that deciding the whole scope
    gives there, in whatever order the questions come (every other iteration asks backwards)."""
    text = path.read_text(encoding="utf-8")
    whole_ctx, whole = model_of(text)
    ctx, stretched = model_of(text)
    for i, (it, twin) in enumerate(zip(whole.iterations, stretched.iterations)):
        every = it.opaque
        bounds = [-1, *sorted(e.index for e in it.events), 10**9]
        stretches = list(zip(bounds, bounds[2:] + [10**9]))
        for lo, hi in (stretches[::-1] if i % 2 else stretches):
            assert _opaque_rows(ctx, twin.opaque_between(lo, hi)) == \
                _opaque_rows(whole_ctx, [o for o in every if lo < o.index < hi])
            assert _opaque_rows(ctx, twin.touching_all()) == _opaque_rows(whole_ctx, [o for o in every if o.touches_all])
        assert _opaque_rows(ctx, twin.opaque) == _opaque_rows(whole_ctx, every)
    assert len(whole.iterations) == len(stretched.iterations)
