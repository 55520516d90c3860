"""A training function (or a trainer class) in one file, stepping the scheduler that a script
of another project file builds and hands it (issue 13, shape 2 across files): the scheduler's
class and period are read off the caller's construction. Exact (code, row) from the real CLI;
silence wherever the callers do not show one construction."""

from __future__ import annotations

from tests.test_rules_heldout import lint_project

LOOP = """\
import torch


def fit(model, loader, optimizer, lr_scheduler, epochs, accumulate=1):
    for epoch in range(epochs):
        model.train()
        for i, (x, y) in enumerate(loader):
            loss = torch.nn.functional.mse_loss(model(x), y) / accumulate
            loss.backward()
            if (i + 1) % accumulate == 0:
                optimizer.step()
                lr_scheduler.step()
                optimizer.zero_grad()
"""

SCRIPT = """\
import torch
from torch.optim.lr_scheduler import StepLR

from engine.loop import fit


def main():
    model = torch.nn.Linear(6, 1)
    loader = [(torch.randn(16, 6), torch.randn(16, 1)) for _ in range(8)]
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)
    scheduler = StepLR(optimizer, step_size=1, gamma=0.85)
    fit(model, loader, optimizer, scheduler, epochs=3)


if __name__ == "__main__":
    main()
"""

TRAINER = """\
import torch


class Trainer:
    def __init__(self, model, optimizer, scheduler, loader):
        self.model = model
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.loader = loader

    def run(self, epochs):
        for epoch in range(epochs):
            for x, y in self.loader:
                self.optimizer.zero_grad()
                torch.nn.functional.mse_loss(self.model(x), y).backward()
                self.optimizer.step()
            self.scheduler.step()
"""

TRAINER_SCRIPT = """\
import torch

from trainer import Trainer

model = torch.nn.Linear(6, 1)
loader = [(torch.randn(16, 6), torch.randn(16, 1)) for _ in range(8)]
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=10 * len(loader))
Trainer(model, optimizer, scheduler, loader).run(10)
"""


def test_an_epoch_scheduler_built_by_a_script_is_stepped_per_batch_in_the_loop_file(tmp_path):
    files = {"engine/__init__.py": "", "engine/loop.py": LOOP, "run.py": SCRIPT}
    assert lint_project(tmp_path, files, "engine/loop.py", "OPT2") == [("OPT202", 12)]


def test_a_batch_scheduler_handed_to_a_trainer_of_another_file_is_stepped_per_epoch(tmp_path):
    files = {"trainer.py": TRAINER, "train.py": TRAINER_SCRIPT}
    assert lint_project(tmp_path, files, "trainer.py", "OPT2") == [("OPT203", 17)]


def test_the_module_imported_through_its_package_alias_counts(tmp_path):
    script = SCRIPT.replace("from engine.loop import fit", "from engine import loop") \
        .replace("    fit(model,", "    loop.fit(model,")
    files = {"engine/__init__.py": "", "engine/loop.py": LOOP, "run.py": script}
    assert lint_project(tmp_path, files, "engine/loop.py", "OPT2") == [("OPT202", 12)]


# ------------------------------------------------------------------ must not fire
def test_a_batch_scheduler_built_by_the_script_is_right_per_batch(tmp_path):
    script = SCRIPT.replace("StepLR(optimizer, step_size=1, gamma=0.85)",
                            "OneCycleLR(optimizer, max_lr=1e-3, total_steps=3 * len(loader))") \
        .replace("import StepLR", "import OneCycleLR")
    files = {"engine/__init__.py": "", "engine/loop.py": LOOP, "run.py": script}
    assert lint_project(tmp_path, files, "engine/loop.py", "OPT2") == []


def test_an_epoch_scheduler_handed_to_a_trainer_is_right_per_epoch(tmp_path):
    script = TRAINER_SCRIPT.replace(
        "OneCycleLR(optimizer, max_lr=0.1, total_steps=10 * len(loader))", "StepLR(optimizer, step_size=3)")
    files = {"trainer.py": TRAINER, "train.py": script}
    assert lint_project(tmp_path, files, "trainer.py", "OPT2") == []


def test_two_scripts_building_two_schedules_leave_the_scheduler_unknown(tmp_path):
    other = SCRIPT.replace("StepLR(optimizer, step_size=1, gamma=0.85)",
                           "OneCycleLR(optimizer, max_lr=1e-3, total_steps=3 * len(loader))") \
        .replace("import StepLR", "import OneCycleLR")
    files = {"engine/__init__.py": "", "engine/loop.py": LOOP, "run.py": SCRIPT, "run_cycle.py": other}
    assert lint_project(tmp_path, files, "engine/loop.py", "OPT2") == []


def test_a_scheduler_the_script_gets_from_a_factory_stays_unknown(tmp_path):
    script = SCRIPT.replace("scheduler = StepLR(optimizer, step_size=1, gamma=0.85)",
                            "scheduler = make_schedule(optimizer)") \
        .replace("def main():", "def make_schedule(optimizer):\n    return StepLR(optimizer, step_size=1)\n\n\ndef main():")
    files = {"engine/__init__.py": "", "engine/loop.py": LOOP, "run.py": script}
    assert lint_project(tmp_path, files, "engine/loop.py", "OPT2") == []


def test_a_same_named_function_of_another_module_is_not_a_caller(tmp_path):
    files = {"engine/__init__.py": "", "engine/loop.py": LOOP,
             "other.py": LOOP,
             "run.py": SCRIPT.replace("from engine.loop import fit", "from other import fit")}
    assert lint_project(tmp_path, files, "engine/loop.py", "OPT2") == []


def test_a_period_read_from_the_scripts_own_parser_is_not_read_in_the_loop_file(tmp_path):
    # ``args.decay_every`` is an option of the script; the loop file defines an option of the
    # same name with another default, which says nothing of what the script passes
    script = SCRIPT.replace("step_size=1, gamma=0.85", "step_size=args.decay_every") \
        .replace("def main():", "def main(args):").replace("    main()", "    main(parse())")
    loop = "import argparse\n" + LOOP + (
        "\n\ndef options():\n    p = argparse.ArgumentParser()\n"
        "    p.add_argument('--decay_every', type=int, default=2)\n    return p.parse_args()\n")
    files = {"engine/__init__.py": "", "engine/loop.py": loop, "run.py": script}
    assert lint_project(tmp_path, files, "engine/loop.py", "OPT2") == []


def test_a_scheduler_the_caller_is_handed_itself_stays_unknown(tmp_path):
    # ``main(scheduler=None)`` builds one only when its own caller hands none
    script = SCRIPT.replace("def main():", "def main(scheduler=None):") \
        .replace("    scheduler = StepLR(", "    if scheduler is None:\n        scheduler = StepLR(")
    files = {"engine/__init__.py": "", "engine/loop.py": LOOP, "run.py": script}
    assert lint_project(tmp_path, files, "engine/loop.py", "OPT2") == []
