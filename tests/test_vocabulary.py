"""The shared torch vocabulary: stdlib only, and the static OPT403 and its runtime confirmation
agree on what a misspelt param-group key is (they once used different similarity cut-offs)."""

import subprocess
import sys

import pytest

from optimlint.vocabulary import NO_ARGUMENT, close_group_key, grad_mode


def test_importing_the_vocabulary_loads_neither_libcst_nor_torch():
    code = ("import sys, optimlint.vocabulary; "
            "print(sorted(m for m in ('libcst', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("qualname, arg, mode", [
    ("torch.no_grad", NO_ARGUMENT, False),
    ("torch.autograd.grad_mode.inference_mode", NO_ARGUMENT, False),
    ("torch.inference_mode", "True", False),
    ("torch.inference_mode", "False", None),
    ("torch.no_grad", None, None),
    ("torch.set_grad_enabled", "False", False),
    ("torch.set_grad_enabled", "True", True),
    ("torch.set_grad_enabled", None, None),
    ("torch.autograd.grad_mode.enable_grad", NO_ARGUMENT, True),
    ("contextlib.nullcontext", NO_ARGUMENT, None),
])
def test_grad_mode_of_each_context(qualname, arg, mode):
    assert grad_mode(qualname, arg) is mode


@pytest.mark.parametrize("key, close", [
    ("weight_decays", "weight_decay"), ("lr_rate", "lr"), ("Weight_Decay", "weight_decay"),
    ("momentun", "momentum"), ("lr_scale", None), ("base_lr", None), ("layer_lr", None), ("tag", None),
])
def test_close_group_key(key, close):
    from optimlint.vocabulary import OPTIMIZER_KEYS

    assert close_group_key(key, OPTIMIZER_KEYS["SGD"]) == close


def test_runtime_reads_the_same_close_key_as_the_static_check():
    from optimlint.checks import groups as static
    from optimlint.runtime.verdicts import groups as runtime

    assert static.close_group_key is runtime.close_group_key


def test_runtime_times_schedulers_with_the_static_check_tables():
    from optimlint.analysis import schedules as static
    from optimlint.runtime.verdicts import schedulers as runtime

    assert static.EPOCH_SCHEDULERS is runtime.EPOCH_SCHEDULERS
    assert static.BATCH_SCHEDULERS is runtime.BATCH_SCHEDULERS
