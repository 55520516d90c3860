"""The mutation harness (benchmarks/mutation/) on a synthetic corpus of our own.

CI cannot fetch the real corpus, so the harness is exercised here on two small training
files written for it (tests/mutation_corpus/): the mutator must build exactly the mutants
below, each one parseable and carrying its mistake; the runner must lint them with the real
optimlint CLI and count caught, missed and excluded mutants exactly; the corpus script must
recreate files from a git mirror.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import libcst as cst
import pytest

from tests.conftest import codes_at

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "mutation_corpus"
sys.path.insert(0, str(ROOT / "benchmarks" / "mutation"))

import fetch_corpus  # noqa: E402
import mutate  # noqa: E402
import run as harness  # noqa: E402

VISION = CORPUS / "acme+vision" / "train_classifier.py"
SPEECH = CORPUS / "acme+speech" / "amp_accum.py"

# (operator, expected code, original row of the mutated statement, unit, exclusion)
VISION_MUTANTS = [
    ("delete-clear", "OPT101", 26, "fit", None),
    ("swap-scheduler-optimizer", "OPT201", 31, "fit", None),
    ("clip-after-step", "OPT105", 29, "fit", None),
    ("clip-before-backward", "OPT105", 29, "fit", None),
    ("batch-scheduler-out-of-batch", "OPT203", 31, "fit", None),
    ("loss-without-item", "OPT601", 32, "fit", None),
    ("backward-in-no-grad", "OPT602", 28, "fit", None),
    ("step-before-backward", "OPT103", 30, "fit", None),
    ("clear-between-backward-and-step", "OPT102", 26, "fit", None),
    ("delete-step", "OPT104", 30, "fit", None),
    ("adam-weight-decay", "OPT302", 21, "fit", None),
    ("keras-kwargs", "OPT301", 21, "fit", None),
    ("drop-group-submodule", "OPT401", 21, "fit", None),
]
SPEECH_MUTANTS = [
    ("delete-clear", "OPT101", 19, "train", None),
    ("swap-scheduler-optimizer", "OPT201", 20, "train", None),
    ("clear-inside-window", "OPT106", 19, "train", None),
    ("epoch-scheduler-into-batch", "OPT202", 20, "train", None),
    ("backward-in-no-grad", "OPT602", 15, "train", None),
    ("scaler-step-without-update", "OPT502", 18, "train", None),
    ("scaler-step-bypassed", "OPT501", 17, "train", None),
    ("swap-scheduler-optimizer", "OPT201", 38, "finetune", "metric-step"),
    ("clip-after-step", "OPT105", 34, "finetune", None),
    ("clip-before-backward", "OPT105", 34, "finetune", None),
    ("drop-unscale", "OPT503", 33, "finetune", None),
    ("epoch-scheduler-into-batch", "OPT202", 38, "finetune", "metric-step"),
    ("backward-in-no-grad", "OPT602", 32, "finetune", None),
    ("scaler-step-without-update", "OPT502", 36, "finetune", None),
    ("step-before-backward", "OPT103", 35, "finetune", None),
    ("scaler-step-bypassed", "OPT501", 35, "finetune", None),
    ("keras-kwargs", "OPT301", 8, "train", None),
    ("keras-kwargs", "OPT301", 24, "finetune", None),
]


def summary(mutants):
    return [(m.operator, m.code, m.site_line, m.unit, m.excluded) for m in mutants]


@pytest.mark.parametrize("path, expected", [(VISION, VISION_MUTANTS), (SPEECH, SPEECH_MUTANTS)])
def test_mutator_builds_exactly_these_mutants(path, expected):
    mutants, _ = mutate.mutants_of(path.read_text())
    assert summary(mutants) == expected
    for m in mutants:
        cst.parse_module(m.source)  # every mutant parses
        assert m.code == mutate.OPERATORS[m.operator]


def test_each_mutant_carries_its_mistake():
    source = VISION.read_text()
    by_op = {m.operator: m.source for m in mutate.mutants_of(source)[0]}
    assert "optimizer.zero_grad()" not in by_op["delete-clear"]
    assert "running += loss\n" in by_op["loss-without-item"]
    assert "torch.optim.Adam(model.parameters(), lr=3e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.05)" in by_op["adam-weight-decay"]
    assert "learning_rate=3e-4, beta_1=0.9, beta_2=0.95, epsilon=1e-8" in by_op["keras-kwargs"]
    assert '[{"params": model.stem.parameters()}, {"params": model.neck.parameters()}]' in by_op["drop-group-submodule"]
    swapped = by_op["swap-scheduler-optimizer"]
    assert swapped.index("scheduler.step()") < swapped.index("optimizer.step()")
    assert "        scheduler.step()\n        print(epoch" in by_op["batch-scheduler-out-of-batch"]
    wrapped = by_op["backward-in-no-grad"]
    assert "with torch.no_grad():\n                loss = nn.functional.cross_entropy" in wrapped


def test_runner_counts_every_operator_exactly():
    manifest = fetch_corpus.read_manifest(CORPUS / "manifest.tsv")
    outcomes, originals, corpus = harness.run(manifest, CORPUS, jobs=2)
    table = harness.per_operator(outcomes)
    counts = {op: (r["mutants"], r["excluded"], r["caught"], r["missed"]) for op, r in table.items()}
    assert counts == {
        "delete-clear": (2, 0, 2, 0),
        "swap-scheduler-optimizer": (3, 1, 2, 0),
        "clip-after-step": (2, 0, 2, 0),
        "clip-before-backward": (2, 0, 2, 0),
        "drop-unscale": (1, 0, 1, 0),
        "clear-inside-window": (1, 0, 1, 0),
        "epoch-scheduler-into-batch": (2, 1, 1, 0),
        "batch-scheduler-out-of-batch": (1, 0, 1, 0),
        "adam-weight-decay": (1, 0, 1, 0),
        "keras-kwargs": (3, 0, 3, 0),
        "drop-group-submodule": (1, 0, 1, 0),
        "loss-without-item": (1, 0, 1, 0),
        "backward-in-no-grad": (3, 0, 3, 0),
        "scaler-step-without-update": (2, 0, 2, 0),
        "step-before-backward": (2, 0, 2, 0),
        "clear-between-backward-and-step": (1, 0, 1, 0),
        "delete-step": (1, 0, 1, 0),
        "scaler-step-bypassed": (2, 0, 2, 0),
        "delete-train-mode": (0, 0, 0, 0),
    }
    assert originals == []  # the synthetic originals are correct training code
    assert corpus == {"repositories": 2, "files": 2, "loops": 3, "lines": 72, "mutants": 31}
    text = harness.markdown(table, corpus, originals, "Synthetic run.")
    assert "| delete-clear | OPT101 | 2 | 0 | 2 | 0 | 100% |" in text
    assert "| **all** | | 31 | 2 | 29 | 0 | 100% |" in text
    assert "- 2 × `metric-step`: " in text
    assert "Corpus: 3 training loops in 2 files (72 lines) from 2 repositories; 31 mutants." in text


def test_in_process_workers_judge_exactly_as_a_process_per_mutant():
    manifest = [r for r in fetch_corpus.read_manifest(CORPUS / "manifest.tsv") if r["repo"] == "acme/vision"]
    fast = harness.run(manifest, CORPUS, jobs=2, extra=("--ignore", "OPT3"))
    slow = harness.run(manifest, CORPUS, jobs=2, extra=("--ignore", "OPT3"), in_process=False)
    assert fast == slow
    assert harness.per_operator(fast[0])["keras-kwargs"]["missed"] == 1  # the extra arguments reached both


def test_a_silent_rule_counts_as_missed():
    manifest = [r for r in fetch_corpus.read_manifest(CORPUS / "manifest.tsv") if r["repo"] == "acme/vision"]
    outcomes, _, _ = harness.run(manifest, CORPUS, jobs=2, extra=("--ignore", "OPT6,OPT3"))
    table = harness.per_operator(outcomes)
    assert {op: (r["caught"], r["missed"]) for op, r in table.items() if r["mutants"]} == {
        "delete-clear": (1, 0), "swap-scheduler-optimizer": (1, 0), "clip-after-step": (1, 0),
        "clip-before-backward": (1, 0), "batch-scheduler-out-of-batch": (1, 0), "drop-group-submodule": (1, 0),
        "loss-without-item": (0, 1), "backward-in-no-grad": (0, 1), "adam-weight-decay": (0, 1), "keras-kwargs": (0, 1),
        "step-before-backward": (1, 0), "clear-between-backward-and-step": (1, 0), "delete-step": (1, 0),
    }
    assert table["loss-without-item"]["rate"] == 0.0


def test_readme_section_is_replaced_in_place(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# Benchmarks\n\n## Mutation recall\n\nold table\n\n## Later section\n\nkept\n")
    harness.write_readme("## Mutation recall\n\nnew table\n", readme)
    assert readme.read_text() == "# Benchmarks\n\n## Mutation recall\n\nnew table\n\n## Later section\n\nkept\n"


def test_corpus_is_recreated_from_a_mirror(tmp_path):
    work = tmp_path / "src"
    work.mkdir()
    (work / "train.py").write_text(SPEECH.read_text())
    (work / "notes.txt").write_text("not Python\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q", str(work)], check=True)
    subprocess.run([*git, "-C", str(work), "add", "."], check=True)
    subprocess.run([*git, "-C", str(work), "commit", "-q", "-m", "x"], check=True)
    mirrors = tmp_path / "mirrors"
    subprocess.run(["git", "clone", "-q", "--mirror", str(work), str(mirrors / "acme+speech" / "repo")], check=True)
    commit = fetch_corpus.head_commit(mirrors, "acme/speech")
    target, written, missing = fetch_corpus.extract("acme/speech", commit, tmp_path / "corpus", mirrors)
    assert (written, missing) == (1, 0)
    assert (target / "train.py").read_text() == SPEECH.read_text()
    assert not (target / "notes.txt").exists()
    assert fetch_corpus.extract("acme/speech", commit, tmp_path / "corpus", mirrors)[1:] == (0, 0)  # left alone


GAN_WITH_A_COVERING_OPTIMIZER = '''\
import itertools

import torch
from torch import nn


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Linear(4, 8)
        self.body = nn.Linear(8, 8)
        self.out = nn.Linear(8, 4)

    def forward(self, z):
        return self.out(self.body(self.stem(z)))


generator = Generator()
critic = nn.Linear(4, 1)
optimizer_g = torch.optim.Adam(generator.parameters(), lr=2e-4)
optimizer_info = torch.optim.Adam(itertools.chain(generator.parameters(), critic.parameters()), lr=2e-4)
for z in [torch.randn(2, 4)] * 3:
    optimizer_g.zero_grad()
    critic(generator(z)).mean().backward()
    optimizer_g.step()
'''


def test_a_submodule_another_optimizer_still_holds_is_an_excluded_mutant():
    mutants, _ = mutate.mutants_of(GAN_WITH_A_COVERING_OPTIMIZER)
    dropped = [m for m in mutants if m.operator == "drop-group-submodule"]
    assert [(m.site_line, m.excluded) for m in dropped] == [(20, "held-by-another-optimizer")]
    alone = GAN_WITH_A_COVERING_OPTIMIZER.replace("generator.parameters(), critic", "critic")
    dropped = [m for m in mutate.mutants_of(alone)[0] if m.operator == "drop-group-submodule"]
    assert [(m.site_line, m.excluded) for m in dropped] == [(20, None)]


ALREADY_CLIPS_TOO_EARLY = """\
import torch
from torch import nn


def fit(model, loader, epochs):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for epoch in range(epochs):
        for x, y in loader:
            optimizer.zero_grad()
            loss = nn.functional.mse_loss(model(x), y)
            nn.utils.clip_grad_norm_(model.parameters(), 0.5)
            loss.backward()
            optimizer.step()
"""


def test_a_mutant_of_a_mistake_the_original_already_has_is_excluded(tmp_path):
    # the original clips before the backward (OPT105 at the clip); moving that clip after the
    # step keeps one OPT105 there: nothing the mutation added could be caught
    (tmp_path / "acme+early").mkdir()
    (tmp_path / "acme+early" / "fit.py").write_text(ALREADY_CLIPS_TOO_EARLY)
    manifest = [{"repo": "acme/early", "commit": "-", "path": "fit.py", "locator": "fit@L8", "kind": "loop"}]
    outcomes, originals, _ = harness.run(manifest, tmp_path, jobs=1)
    assert [(o["code"], o["row"]) for o in originals] == [("OPT105", 11)]
    moved = {o.operator: (o.excluded, o.caught) for o in outcomes if o.operator.startswith("clip-")}
    assert moved == {"clip-after-step": ("original-has-it", False)}


EPOCHS_WITH_VALIDATION = """\
import torch


def train_epoch(model, loader, optimizer):
    model.train()
    for x, y in loader:
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()


def validate(model, loader):
    model.eval()
    with torch.no_grad():
        return sum(torch.nn.functional.mse_loss(model(x), y).item() for x, y in loader)


def main(model, train_loader, val_loader, epochs):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for epoch in range(epochs):
        train_epoch(model, train_loader, optimizer)
        print(validate(model, val_loader))
"""


def test_deleting_train_mode_is_a_mistake_only_where_evaluation_runs_between_epochs():
    mutants = [m for m in mutate.mutants_of(EPOCHS_WITH_VALIDATION)[0] if m.operator == "delete-train-mode"]
    assert [(m.code, m.site_line, m.unit, m.excluded, m.region) for m in mutants] == [
        ("OPT603", 5, "train_epoch", None, (1, 21))]
    assert "    model.train()\n" not in mutants[0].source
    assert codes_at(mutants[0].source, ["OPT6"]) == [("OPT603", 12)]  # validate's model.eval()
    # no evaluation in the epoch loop: the module was in training mode all along
    quiet = EPOCHS_WITH_VALIDATION.replace("        print(validate(model, val_loader))\n", "")
    mutants = [m for m in mutate.mutants_of(quiet)[0] if m.operator == "delete-train-mode"]
    assert [(m.site_line, m.excluded) for m in mutants] == [(5, "train-mode-redundant")]


def test_a_deleted_train_mode_whose_evaluation_the_original_already_reports_is_excluded(tmp_path):
    # the original restores training mode once per epoch but validates inside the step loop
    # without restoring it: OPT603 at validate's model.eval() before any mutation
    already = EPOCHS_WITH_VALIDATION.replace(
        "        optimizer.step()\n",
        "        optimizer.step()\n        print(validate(model, loader))\n", 1)
    (tmp_path / "acme+evals").mkdir()
    (tmp_path / "acme+evals" / "fit.py").write_text(already)
    manifest = [{"repo": "acme/evals", "commit": "-", "path": "fit.py", "locator": "train_epoch@L4", "kind": "loop"}]
    mutants = [m for m in mutate.mutants_of(already)[0] if m.operator == "delete-train-mode"]
    assert [(m.site_line, m.evaluations) for m in mutants] == [(5, (14,))]
    outcomes, originals, _ = harness.run(manifest, tmp_path, jobs=1)
    assert ("OPT603", 14) in [(o["code"], o["row"]) for o in originals]
    deleted = [(o.excluded, o.caught) for o in outcomes if o.operator == "delete-train-mode"]
    assert deleted == [("original-reports-the-evaluation", False)]


EMA_SAMPLES = """\
import copy
import torch


def fit(model, loader, optimizer, epochs):
    ema = copy.deepcopy(model)
    for epoch in range(epochs):
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            torch.nn.functional.mse_loss(model(x), y).backward()
            optimizer.step()
        ema.eval()
        with torch.no_grad():
            print(ema(x).mean().item())
"""


def test_deleting_train_mode_is_redundant_when_only_another_module_is_evaluated():
    # the EMA copy goes to eval mode; the trained model never leaves training mode
    mutants = [m for m in mutate.mutants_of(EMA_SAMPLES)[0] if m.operator == "delete-train-mode"]
    assert [(m.site_line, m.excluded) for m in mutants] == [(8, "train-mode-redundant")]
    # the trained model itself (or the module inside its wrapper) evaluated: a real mistake
    for evaluation in ("model.eval()", "model.module.eval()", "model.train(False)"):
        src = EMA_SAMPLES.replace("        ema.eval()\n", f"        {evaluation}\n")
        mutants = [m for m in mutate.mutants_of(src)[0] if m.operator == "delete-train-mode"]
        assert [(m.site_line, m.excluded) for m in mutants] == [(8, None)]


LOGGING_HELPER = """\
import torch


@torch.no_grad()
def weight_norms(model):
    return [p.norm().item() for p in model.parameters()]
"""
TRAIN_IN_A_PACKAGE = """\
import torch
from torch import nn

from tools.logging import weight_norms


def train(loader):
    model = nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for x, y in loader:
        optimizer.zero_grad()
        loss = (model(x) - y).pow(2).mean()
        loss.backward()
        optimizer.step()
        print(weight_norms(model))
"""


def test_mutants_are_linted_from_the_repository_root(tmp_path):
    # `tools.logging` resolves from the repository's root, not from the file's own folder
    repo = tmp_path / "acme+pkg"
    (repo / "tools").mkdir(parents=True)
    (repo / "tools" / "__init__.py").write_text("")
    (repo / "tools" / "logging.py").write_text(LOGGING_HELPER)
    (repo / "tools" / "train.py").write_text(TRAIN_IN_A_PACKAGE)
    row = {"repo": "acme/pkg", "commit": "0" * 40, "path": "tools/train.py", "locator": "train@L10", "kind": "loop"}
    outcomes, _, _ = harness.run([row], tmp_path, jobs=1)
    assert [(o.operator, o.caught) for o in outcomes if o.operator == "delete-clear"] == [("delete-clear", True)]


RUNNING_TOTALS = """\
import torch


def fit(model, optimizer, loader):
    total, seen = 0.0, 0
    for x, y in loader:
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        total += READ
"""


@pytest.mark.parametrize("read, excluded", [
    ("loss.item()", None),
    ("float(loss.cpu().item())", "number-conversion"),
    ("int(loss.item())", "number-conversion"),
    ("2 * float(loss.item())", "number-conversion"),
])
def test_a_python_number_conversion_makes_dropping_item_equivalent(read, excluded):
    mutants, _ = mutate.mutants_of(RUNNING_TOTALS.replace("READ", read))
    assert [(m.site_line, m.excluded) for m in mutants if m.operator == "loss-without-item"] == [(11, excluded)]


CLIPPED = """\
import math

import torch


def fit(model, optimizer, loader):
    for x, y in loader:
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        norm = CLIP
        optimizer.step()
"""


@pytest.mark.parametrize("clip, excluded", [
    ("torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)", None),
    ("torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=5)", None),
    ("torch.nn.utils.clip_grad_norm_(model.parameters(), float('inf'))", "measure-only-clip"),
    ("torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=math.inf)", "measure-only-clip"),
    ("torch.nn.utils.clip_grad_value_(model.parameters(), None)", "measure-only-clip"),
])
def test_a_clip_without_bound_only_measures_so_moving_it_is_equivalent(clip, excluded):
    mutants, _ = mutate.mutants_of(CLIPPED.replace("CLIP", clip))
    moved = [(m.operator, m.excluded) for m in mutants if m.operator.startswith("clip-")]
    assert moved == [("clip-after-step", excluded), ("clip-before-backward", excluded)]


@pytest.mark.parametrize("head, skipped", [
    ("import paddle\nimport paddle.nn as nn\n", True),
    ("from tensorflow import keras\n", True),
    ("import paddle\nimport torch\n", False),
    ("import torch\n", False),
])
def test_the_survey_leaves_out_scripts_of_another_framework(head, skipped):
    import survey

    assert survey.not_pytorch(head + "loss.backward()\noptimizer.step()\n") is skipped


def test_a_deleted_step_counts_opt104_reported_at_the_optimizers_construction():
    """OPT104 may name the optimizer where it is built, outside the function the step left."""
    m = mutate.Mutant("delete-step", "OPT104", "d_train", 20, 24, "", (18, 26), (18, 27), subject="d_optimizer")
    at_construction = {"code": "OPT104", "location": {"row": 9},
                       "message": "`d_optimizer` is built but never stepped, returned, stored or passed on"}
    other = {"code": "OPT104", "location": {"row": 9}, "message": "`g_optimizer` is built but never stepped"}
    assert harness.judge(m, [], [at_construction])[:3] == (True, 0, 1)
    assert harness.judge(m, [], [other])[:3] == (False, 0, 0)
    assert harness.judge(m, [at_construction], [at_construction])[:3] == (False, 1, 1)


def test_a_sum_in_an_evaluation_pass_is_an_equivalent_loss_without_item():
    src = RUNNING_TOTALS.replace("READ", "loss.item()") + """\
    held_out = 0.0
    for x, y in loader:
        loss = torch.nn.functional.mse_loss(model(x), y)
        held_out += loss.item()
"""
    mutants, _ = mutate.mutants_of(src)
    assert [(m.site_line, m.excluded) for m in mutants if m.operator == "loss-without-item"] == [
        (11, None), (15, "sum-of-evaluation-loss")]
