"""ignite's ``Engine(process_function)`` runs the function it is handed on every batch: an
update function nested in a trainer factory (``def _update(engine, batch): ...; return
Engine(_update)``) is one pass of the engine's loop, which clears and steps nothing itself.
Exact (code, row); silent twins where the update clears, and where nothing ignite runs it."""

from __future__ import annotations

from tests.conftest import codes_at

FACTORY = """\
import torch
from ignite.engine import Engine


def create_trainer(model, optimizer, loss_fn, device="cpu"):
    def _update(engine, batch):
        model.train()
        {clear}x, y = batch
        loss = loss_fn(model(x.to(device)), y.to(device))
        loss.backward()
        {step}
        return loss.item()

    return Engine(_update)
"""


def src(clear: str = "optimizer.zero_grad()\n        ", step: str = "optimizer.step()") -> str:
    return FACTORY.format(clear=clear, step=step)


def test_an_update_function_that_never_clears():
    found = codes_at(src(clear=""), ["OPT1"])
    assert found == [("OPT101", 10)]


def test_the_message_names_the_engine():
    from tests.conftest import lint

    (d,) = lint(src(clear=""), ["OPT101"])
    assert "ignite's `Engine` at" in d.message and ":14 calls it on every batch" in d.message


def test_an_update_function_that_clears_but_never_steps():
    assert codes_at(src(step="pass"), ["OPT104"]) == [("OPT104", 11)]


# ------------------------------------------------------------------ must not fire
def test_the_update_function_that_clears_and_steps():
    assert codes_at(src(), ["OPT1"]) == []


def test_a_function_no_engine_runs_is_no_pass_of_a_loop():
    assert codes_at(src(clear="").replace("    return Engine(_update)\n", "    return _update\n"), ["OPT101"]) == []


def test_an_engine_of_another_library_is_not_ignites():
    text = src(clear="").replace("from ignite.engine import Engine", "from mylib.engine import Engine")
    assert codes_at(text, ["OPT101"]) == []


def test_two_engines_of_one_module_each_run_their_own_function(monkeypatch):
    """A module-level ``Engine(update_a)`` and ``Engine(update_b)``: each function is one pass
    of its engine's loop (the module's calls are read once for every function it defines, not
    once per function: a big file of functions walked the module once each)."""
    from optimlint.analysis import call_targets, callers

    walked = []
    real = call_targets.calls_of_scope
    monkeypatch.setattr(callers, "calls_of_scope", lambda scope: walked.append(scope) or real(scope))
    text = """\
import torch
from ignite.engine import Engine

model = torch.nn.Linear(2, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)


def update_a(engine, batch):
    loss = model(batch).sum()
    loss.backward()
    optimizer.step()


def update_b(engine, batch):
    optimizer.zero_grad()
    loss = model(batch).sum()
    loss.backward()
    optimizer.step()


trainer_a = Engine(update_a)
trainer_b = Engine(update_b)
"""
    assert codes_at(text, ["OPT101"]) == [("OPT101", 10)]  # update_a's backward: nothing clears
    assert len(walked) == len(set(map(id, walked))) == 1
