"""Property tests: optimlint never crashes on valid Python, and its fixes always parse.

Two generators:

- ``hypothesmith.from_grammar()``: arbitrary valid Python. A comment naming every check's
  needles is appended so the pre-filter lets every check run on it.
- ``training_scripts()``: realistic training-loop files composed from fragments (imports in
  several spellings, model/optimizer/scheduler/scaler construction with Keras-style and
  torch keyword arguments, epoch and batch loops whose zero_grad/backward/step/clip/
  scheduler/scaler calls are shuffled, omitted, guarded by ``if`` or moved into helper
  functions), so the rules and their fixes actually fire.

The budget here is CI-sized; ``scripts/fuzz_long.py`` runs the same properties for longer.
"""

from __future__ import annotations

import ast
import os

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from optimlint.config import Settings  # noqa: E402
from optimlint.lint import lint_source  # noqa: E402
from optimlint.fixing import fix_text  # noqa: E402

EXAMPLES = int(os.environ.get("OPTIMLINT_FUZZ_EXAMPLES", "50"))
BUDGET = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                         HealthCheck.data_too_large])
NEEDLES = "\n# optim parameters step backward scale sched lr_scheduler .eval( .forward(\n"
ALL = Settings(select=["OPT"])


# --------------------------------------------------------------------------- fragments
IMPORTS = [
    "import torch.optim as optim",
    "from torch import optim",
    "from torch.optim import Adam, SGD, AdamW as AW",
    "from torch.optim.lr_scheduler import StepLR, OneCycleLR, ReduceLROnPlateau",
    "from torch.optim import lr_scheduler",
    "from torch.cuda.amp import GradScaler, autocast",
    "import numpy as np",
]
OPTIMIZERS = ["torch.optim.Adam", "torch.optim.SGD", "torch.optim.AdamW", "torch.optim.RMSprop",
              "torch.optim.Adadelta", "optim.Adam", "Adam", "SGD", "AW",
              "tf.keras.optimizers.Adam"]  # the last: a lookalike without the import
KWARGS = ["lr=1e-3", "learning_rate=1e-3", "beta_1=0.9", "beta_2=0.98", "epsilon=1e-7",
          "decay=0.01", "weight_decay=1e-4", "momentum=0.9", "nesterov=True", "rho=0.9",
          "clipnorm=1.0", "amsgrad=True", "eps=1e-8", "betas=(0.9, 0.99)", "dampening=0.1"]
PARAMS = ["model.parameters()", "model", "params", "list(model.parameters())",
          '[{"params": model.parameters(), "learning_rate": 1e-3}]',
          '[{"params": model.body.parameters()}, {"params": model.parameters(), "lr": 1e-4}]',
          "filter(lambda p: p.requires_grad, model.parameters())"]
SCHEDULERS = ["torch.optim.lr_scheduler.StepLR(optimizer, step_size=10)",
              "torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=100)",
              "torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer)",
              "torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=10)",
              "lr_scheduler.ExponentialLR(optimizer, gamma=0.9)",
              "transformers.get_linear_schedule_with_warmup(optimizer, 10, 100)"]
SCALERS = ["torch.cuda.amp.GradScaler()", 'torch.amp.GradScaler("cuda")', "GradScaler()"]
MODELS = ["nn.Linear(10, 2)", "nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 2))",
          "Net()", "torchvision.models.resnet18()"]

# One statement per kind (several spellings); {o}/{s}/{g} are the optimizer/scheduler/scaler.
STEPS = {
    "zero_grad": ["{o}.zero_grad()", "{o}.zero_grad(set_to_none=True)", "model.zero_grad()"],
    "forward": ["loss = criterion(model(x), y)", "out = model.forward(x)\nloss = criterion(out, y)",
                "with torch.autocast('cuda'):\n    loss = criterion(model(x), y)",
                "loss = criterion(model(x), y) / accum"],
    "backward": ["loss.backward()", "{g}.scale(loss).backward()", "loss.backward(retain_graph=True)"],
    "clip": ["torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)",
             "nn.utils.clip_grad_value_(model.parameters(), 0.5)"],
    "unscale": ["{g}.unscale_({o})"],
    "step": ["{o}.step()", "{g}.step({o})", "{o}.step(closure)"],
    "update": ["{g}.update()"],
    "sched": ["{s}.step()", "{s}.step(loss)", "{s}.step(epoch)", "{s}.step(val_loss)"],
    "accum": ["total += loss", "total += loss.item()", "running_loss = running_loss + loss.detach()"],
    "mode": ["model.eval()", "model.train()"],
    "print": ["print(loss)", "pass", "if i % 10 == 0:\n    print(loss.item())"],
    "nograd": ["with torch.no_grad():\n    loss.backward()", "with torch.no_grad():\n    val = model(x)"],
}


def indent(block: str, level: int) -> str:
    pad = "    " * level
    return "\n".join(pad + line if line else line for line in block.split("\n"))


@st.composite
def loop_body(draw, o: str, s: str, g: str) -> str:
    kinds = draw(st.lists(st.sampled_from(sorted(STEPS)), min_size=1, max_size=9))
    lines = []
    for kind in kinds:
        stmt = draw(st.sampled_from(STEPS[kind])).format(o=o, s=s, g=g)
        if draw(st.integers(0, 5)) == 0:  # an if-guard, as in gradient accumulation
            guard = draw(st.sampled_from(["(i + 1) % accum == 0", "use_amp", "not warmup"]))
            stmt = f"if {guard}:\n" + indent(stmt, 1)
        lines.append(stmt)
    return "\n".join(lines)


@st.composite
def training_scripts(draw) -> str:
    parts = ["import torch", "from torch import nn"]
    parts += draw(st.lists(st.sampled_from(IMPORTS), unique=True, max_size=3))
    parts.append("")
    model = draw(st.sampled_from(MODELS))
    parts.append(f"model = {model}")
    if draw(st.booleans()):
        parts.append("params = model.parameters()")
    o = "optimizer"
    cls = draw(st.sampled_from(OPTIMIZERS))
    kwargs = draw(st.lists(st.sampled_from(KWARGS), unique=True, max_size=4))
    param = draw(st.sampled_from(PARAMS))
    parts.append(f"{o} = {cls}({', '.join([param, *kwargs])})")
    if draw(st.booleans()):
        parts.append(draw(st.sampled_from(["model.to('cuda')", "model = model.cuda()", "model.cpu()"])))
    s = "scheduler"
    if draw(st.booleans()):
        parts.append(f"{s} = {draw(st.sampled_from(SCHEDULERS))}")
    g = "scaler"
    if draw(st.booleans()):
        parts.append(f"{g} = {draw(st.sampled_from(SCALERS))}")
    parts.append("criterion = nn.CrossEntropyLoss()")
    parts.append("total = 0.0")
    parts.append("")
    body = draw(loop_body(o, s, g))
    shape = draw(st.sampled_from(["flat", "nested", "helper", "function"]))
    if shape == "flat":
        parts.append("for i, (x, y) in enumerate(loader):\n" + indent(body, 1))
    elif shape == "nested":
        epoch_tail = draw(loop_body(o, s, g)) if draw(st.booleans()) else "pass"
        parts.append("for epoch in range(10):\n"
                     + indent("for i, (x, y) in enumerate(loader):\n" + indent(body, 1), 1)
                     + "\n" + indent(epoch_tail, 1))
    elif shape == "helper":
        parts.append("def train_step(x, y, i):\n" + indent(body + "\nreturn loss", 1))
        parts.append("")
        parts.append("for epoch in range(3):\n    for i, (x, y) in enumerate(loader):\n"
                     "        loss = train_step(x, y, i)")
    else:
        parts.append(f"def train(model, loader, {o}):\n"
                     + indent("for i, (x, y) in enumerate(loader):\n" + indent(body, 1), 1))
    return "\n".join(parts) + "\n"


# --------------------------------------------------------------------------- properties
def assert_sane(text: str, diagnostics) -> None:
    assert isinstance(diagnostics, list)
    rows = text.count("\n") + 2
    for d in diagnostics:
        assert d.code.startswith("OPT"), d
        assert 1 <= d.location.row <= rows and d.location <= d.end_location, d


def generated_python():
    import hypothesmith

    return hypothesmith.from_grammar()


def check_generated(source: str) -> None:
    """Valid Python from the grammar: a list of diagnostics, never an exception or OPT000."""
    for text in (source, source + NEEDLES):
        diagnostics = lint_source("gen.py", text, ALL)
        assert_sane(text, diagnostics)
        assert not any(d.code == "OPT000" for d in diagnostics)  # it is valid Python


def check_training(source: str) -> None:
    """Generated training code: lints, fixes (unsafe too) to code that parses, fixed point."""
    ast.parse(source)  # the generator itself writes valid Python
    diagnostics = lint_source("train.py", source, ALL)
    assert_sane(source, diagnostics)
    assert not any(d.code == "OPT000" for d in diagnostics)
    outcome = fix_text("train.py", source, ALL, unsafe=True)
    compile(outcome.text, "train.py", "exec")
    assert_sane(outcome.text, outcome.remaining)
    # A second --fix changes nothing.
    again = fix_text("train.py", outcome.text, ALL, unsafe=True)
    assert again.text == outcome.text
    assert again.fixed == []


@BUDGET
@given(source=st.deferred(generated_python))
def test_lint_never_crashes_on_generated_python(source):
    check_generated(source)


@BUDGET
@given(source=training_scripts())
def test_training_code_lints_and_fixes_to_code_that_parses(source):
    check_training(source)


def test_the_training_generator_makes_the_rules_fire():
    """A fixed sample of generated scripts covers most rule families and their fixes,
    so the properties above are exercised on code where fixes are applied."""
    codes, fixed = set(), 0

    @settings(max_examples=40, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(source=training_scripts())
    def collect(source):
        nonlocal fixed
        codes.update(d.code for d in lint_source("train.py", source, ALL))
        fixed += len(fix_text("train.py", source, ALL, unsafe=True).fixed)

    collect()
    families = {c[:4] for c in codes}
    assert "OPT1" in families and len(families) >= 3, codes
    assert fixed > 0
