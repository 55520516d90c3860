"""The pre-filter: which files are candidates for a check, before any parse.

A file that is not a candidate is never analysed, so each case here that says "not a
candidate" is a promise that no rule of that family can fire on such a file; the cases
that say "candidate" are the shapes the rules are about.
"""

from __future__ import annotations

import textwrap

import pytest

from optimlint import prefilter
from optimlint.config import Settings

from conftest import invoke, write

ORDER = {"OPT101"}
AMP = {"OPT501"}
HYGIENE = {"OPT604"}
CONSTRUCTION = {"OPT302", "OPT304"}
SCHEDULER = {"OPT201"}


def fires(text: str, codes: set[str], factories: tuple[bytes, ...] = ()) -> bool:
    return prefilter.may_fire(textwrap.dedent(text).encode(), codes, factories)


@pytest.mark.parametrize("text", [
    "loss.backward()",
    "accelerator.backward(loss)",
    "self.manual_backward(loss)",
    "scaler.scale(loss).backward()",
    "torch.autograd.backward(tensors)",
    "torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)",
    "opt = torch.optim.LBFGS(params)",
])
def test_order_candidates(text):
    assert fires(text, ORDER)


@pytest.mark.parametrize("text", [
    "# kept for backward compatibility\nx = 1",
    '''
    class Clamp(torch.autograd.Function):
        @staticmethod
        def backward(ctx, grad):
            return grad
    ''',
])
def test_order_not_candidates(text):
    assert not fires(text, ORDER)


def test_amp_needs_a_backward_and_a_scaler():
    assert fires("scaler.scale(loss).backward()", AMP)
    assert fires("s = torch.amp.GradScaler()\nloss.backward()", AMP)
    assert not fires("attn = q @ k * self.scale\nloss.backward()", AMP)
    assert not fires("scaler = torch.amp.GradScaler()", AMP)


@pytest.mark.parametrize("text, candidate", [
    ("y = model.forward(x)", True),
    ("y = self.encoder.forward(x)", True),
    ("y = models['g'].forward(x)", True),
    ("y = super().forward(x)", False),
    ("y = super(Net, self).forward(x)", False),
    ("y = self.forward(x)", False),
    ("y = get_model().forward(x)", False),  # a call's result: never provably a module
])
def test_forward_candidates(text, candidate):
    assert fires(text, HYGIENE) is candidate


@pytest.mark.parametrize("text, candidate", [
    ("opt = torch.optim.Adam(params, weight_decay=1e-2)", True),
    ("from torch import optim\nopt = optim.Adam(params)", True),
    ("from torch.optim import Adam", True),
    ("params = model.parameters()", True),
    ("import torch\n\nparams = model.parameters()\n", True),
    ("import torch\r\n\r\nparams: Iterator = model.parameters()\r\n", True),
    ("params = self.layers[0].parameters()", True),
    ("params = get_model().named_parameters()", True),
    ("params = filter(lambda p: p.requires_grad, model.parameters())", True),
    ("params = itertools.chain(a.parameters(), b.parameters())", True),
    ("params = (p for p in model.parameters() if p.requires_grad)", True),
    ('"""A memory-optimized attention."""\ndtype = next(self.parameters()).dtype', False),
    ("n = sum(p.numel() for p in model.parameters())", False),
    ("params = list(model.parameters())", False),
])
def test_construction_candidates(text, candidate):
    assert fires(text, CONSTRUCTION) is candidate


DIFFUSERS_PIPELINE = '''
    from ...schedulers import DDIMScheduler

    class Pipeline:
        def __call__(self, latents):
            for t in self.scheduler.timesteps:
                noise_pred = self.unet(latents, t)
                latents = self.scheduler.step(noise_pred, t, latents).prev_sample
            return latents
'''


def test_a_noise_scheduler_pipeline_is_not_a_scheduler_candidate():
    assert not fires(DIFFUSERS_PIPELINE, SCHEDULER)
    assert not fires(DIFFUSERS_PIPELINE + '"""Memory-optimized attention (optimum-quanto)."""', SCHEDULER)


@pytest.mark.parametrize("extra", [
    "optimizer.step()",
    "opt_g.step()",
    "self.optims['g'].step()",
    "scaler.step(opt)",
    "import torch.optim as optim",
    "loss.backward()",
    "from torch.optim.lr_scheduler import StepLR",
    "from transformers import get_linear_schedule_with_warmup",
    "def configure_optimizers(self): ...",
    "def train(o: Optimizer): ...",
])
def test_scheduler_candidates_need_an_optimizer_too(extra):
    assert fires(DIFFUSERS_PIPELINE + extra, SCHEDULER)


def test_configured_factories_widen_the_filter():
    """A factory can be called anything: its name makes a file a candidate, and the
    stricter conditions are not applied."""
    text = "from mylib import make_o, make_s\ns = make_s(o)\ns.step()\no.step()\n"
    assert not fires(text, SCHEDULER)
    assert fires(text, SCHEDULER, (b"make_o", b"make_s"))
    assert prefilter.factory_needles(Settings(optimizer_factories=["mylib.make_o"],
                                           scheduler_factories=["mylib.sched_*", "*"])) \
        == (b"make_o", b"sched_", b"")


def test_a_factory_scheduler_is_linted_end_to_end(tmp_path):
    write(tmp_path / "pyproject.toml", """
        [tool.optimlint]
        optimizer-factories = ["mylib.make_o"]
        scheduler-factories = ["mylib.make_s"]
    """)
    write(tmp_path / "train.py", """
        from mylib import make_o, make_s

        o = make_o(model)
        s = make_s(o)
        for epoch in range(10):
            for x in loader:
                train_step(x)
                s.step()
                o.step()
    """)
    result = invoke(["check", "--no-cache", "--output-format", "concise", str(tmp_path / "train.py")])
    assert result.exit_code == 1
    assert "train.py:8:9: OPT201" in result.output


# --------------------------------------------------------------------------- the syntax check
def test_what_only_cpythons_compiler_refuses_is_not_a_syntax_error():
    """The syntax check (symtable) also refuses a duplicate argument or a module-level
    ``nonlocal``; LibCST parses them, so they are not OPT000, in a clean file or a candidate."""
    from conftest import codes_at

    assert codes_at("def f(a, a):\n    return a\n") == []
    assert codes_at("nonlocal x\n") == []
    candidate = """
    import torch

    def helper(a, a):
        return a

    def train(model, loader):
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for x in loader:
            model(x).sum().backward()
            opt.step()
    """
    assert codes_at(candidate) == [("OPT101", 10)]


def test_a_syntax_error_is_reported_where_cpython_puts_it():
    from conftest import lint

    [d] = lint("import json\n\nx = json.loads(\n")
    assert (d.code, d.location.row, d.location.column) == ("OPT000", 3, 15)
    assert d.message == "SyntaxError: '(' was never closed"


def test_long_identifiers_do_not_make_the_filter_quadratic():
    """From every "opt" of a 90,000-character name an unbounded ``opt\\w*`` rescanned the rest
    of it (49 s); the patterns' repeats are bounded, so this returns at once."""
    raw = b"import torch\nlr_sched = 1\nx = " + b"opt" * 30_000 + b"\n" + b"y = " + b"(" * 5_000 + b"\n"
    assert not prefilter.may_fire(raw, {"OPT201", "OPT101", "OPT301", "OPT604"})
