"""OPT301-OPT305 and OPT307: firing rows, exact fixed text, lookalikes and tricky non-firing code."""

from __future__ import annotations

import ast
import shutil
import textwrap
from pathlib import Path

import pytest

from optimlint.config import Settings
from optimlint.fixing import fix_text

from conftest import codes_at, invoke, lint

CODES = ["OPT301", "OPT302", "OPT303", "OPT304", "OPT305", "OPT307"]
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


# OPT302's strict form (``[tool.optimlint.adam-weight-decay] require-evidence = false``): every
# non-zero decay, evidence or not. Its evidence is tested in test_rules_evidence.py.
STRICT = {"adam_weight_decay_require_evidence": False}


def fixed(source: str, select: list[str] | None = None, unsafe: bool = False, strict: bool = False) -> str:
    """The text ``--fix`` (``--unsafe-fixes``) writes for dedented ``source``."""
    text = textwrap.dedent(source)
    settings = Settings(select=select or CODES, **(STRICT if strict else {}))
    out = fix_text("train.py", text, settings, unsafe).text
    # --fix twice changes nothing.
    assert fix_text("train.py", out, settings, unsafe).text == out
    return out


# =========================================================================== OPT301
KERAS_ADAM = """\
import torch

model = torch.nn.Linear(4, 2)
opt = torch.optim.Adam(model.parameters(), learning_rate=1e-3, beta_1=0.9, epsilon=1e-7)
"""


def test_opt301_one_diagnostic_per_keyword():
    ds = lint(KERAS_ADAM, ["OPT301"])
    assert [(d.code, d.location.row, d.location.column) for d in ds] == [
        ("OPT301", 4, 44), ("OPT301", 4, 64), ("OPT301", 4, 76)]
    assert "use `lr`" in ds[0].message
    assert "betas=(beta_1, beta_2)" in ds[1].message
    assert "use `eps`" in ds[2].message
    assert all(d.fix is not None and d.fix.applicability.value == "safe" for d in ds)


def test_opt301_fix_renames_and_takes_torch_default_beta2():
    assert fixed(KERAS_ADAM) == KERAS_ADAM.replace(
        "learning_rate=1e-3, beta_1=0.9, epsilon=1e-7", "lr=1e-3, betas=(0.9, 0.999), eps=1e-7")


def test_opt301_both_betas_merge_into_one_tuple():
    src = """\
    from torch import optim
    opt = optim.AdamW(net.parameters(), lr=3e-4, beta_1=0.8, beta_2=0.95, weight_decay=0.1)
    """
    assert codes_at(src, ["OPT301"]) == [("OPT301", 2), ("OPT301", 2)]
    assert fixed(src) == textwrap.dedent(src).replace("beta_1=0.8, beta_2=0.95", "betas=(0.8, 0.95)")


def test_opt301_betas_apart_and_on_their_own_lines():
    src = """\
    import torch
    opt = torch.optim.Adam(
        model.parameters(),
        beta_2=0.98,
        lr=1e-4,
        beta_1=0.9,
    )
    """
    assert codes_at(src, ["OPT301"]) == [("OPT301", 4), ("OPT301", 6)]
    assert fixed(src) == textwrap.dedent("""\
    import torch
    opt = torch.optim.Adam(
        model.parameters(),
        betas=(0.9, 0.98),
        lr=1e-4,
    )
    """)


def test_opt301_only_beta2_takes_default_beta1():
    src = """\
    import torch.optim as optim
    opt = optim.NAdam(model.parameters(), beta_2=0.99)
    """
    assert fixed(src) == textwrap.dedent(src).replace("beta_2=0.99", "betas=(0.9, 0.99)")


def test_opt301_rmsprop_rho_renamed_alpha():
    src = """\
    import torch
    opt = torch.optim.RMSprop(model.parameters(), lr=1e-3, rho=0.9)
    """
    assert codes_at(src) == [("OPT301", 2)]
    assert fixed(src) == textwrap.dedent(src).replace("rho=", "alpha=")


def test_opt301_imported_under_another_name():
    src = """\
    from torch.optim import Adam as A
    from torch.optim.adamw import AdamW
    a = A(model.parameters(), learning_rate=1e-3)
    b = AdamW(model.parameters(), epsilon=1e-6)
    """
    assert codes_at(src, ["OPT301"]) == [("OPT301", 3), ("OPT301", 4)]
    assert fixed(src) == textwrap.dedent(src).replace("learning_rate", "lr").replace("epsilon", "eps")


def test_opt301_no_fix_when_lr_also_given_or_positional():
    src = """\
    import torch
    a = torch.optim.SGD(model.parameters(), lr=0.1, learning_rate=0.1)
    b = torch.optim.Adam(model.parameters(), 1e-3, learning_rate=1e-3)
    c = torch.optim.Adam(model.parameters(), betas=(0.9, 0.99), beta_1=0.5)
    """
    ds = lint(src, ["OPT301"])
    assert [(d.code, d.location.row) for d in ds] == [("OPT301", 2), ("OPT301", 3), ("OPT301", 4)]
    assert all(d.fix is None for d in ds)


@pytest.mark.parametrize("kw, says", [
    ("decay=1e-6", "scheduler"),
    ("clipnorm=1.0", "torch.nn.utils.clip_grad_norm_"),
    ("global_clipnorm=1.0", "torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)"),
    ("clipvalue=0.5", "torch.nn.utils.clip_grad_value_"),
    ("use_ema=True", "torch.optim.swa_utils.AveragedModel"),
    ("ema_momentum=0.99", "torch.optim.swa_utils.AveragedModel"),
])
def test_opt301_no_torch_equivalent_says_what_to_use(kw, says):
    src = f"import torch\nopt = torch.optim.Adam(model.parameters(), lr=1e-3, {kw})\n"
    ds = lint(src, ["OPT301"])
    assert [(d.code, d.location.row, d.location.column) for d in ds] == [("OPT301", 2, 53)]
    assert says in ds[0].message
    assert ds[0].fix is None


def test_opt301_param_group_keys():
    src = """\
    import torch
    opt = torch.optim.Adam(
        [
            {"params": model.backbone.parameters(), "learning_rate": 1e-4},
            {'params': model.head.parameters(), 'epsilon': 1e-6, "clipnorm": 1.0},
        ],
        lr=1e-3,
    )
    """
    ds = lint(src, ["OPT301"])
    assert [(d.code, d.location.row, d.location.column) for d in ds] == [
        ("OPT301", 4, 49), ("OPT301", 5, 45), ("OPT301", 5, 62)]
    assert "silently ignores" in ds[0].message
    assert fixed(src) == textwrap.dedent(src).replace('"learning_rate"', '"lr"').replace("'epsilon'", "'eps'")


def test_opt301_param_group_betas_merge():
    src = """\
    import torch
    opt = torch.optim.Adam([{"params": a.parameters(), "beta_1": 0.5, "beta_2": 0.9}], lr=2e-4)
    """
    assert codes_at(src) == [("OPT301", 2), ("OPT301", 2)]
    assert fixed(src) == textwrap.dedent(src).replace('"beta_1": 0.5, "beta_2": 0.9', '"betas": (0.5, 0.9)')


def test_opt301_param_group_single_beta_no_fix_when_optimizer_sets_betas():
    src = """\
    import torch
    opt = torch.optim.Adam([{"params": a.parameters(), "beta_1": 0.5}], betas=(0.8, 0.99))
    """
    ds = lint(src, ["OPT301"])
    assert [(d.code, d.location.row) for d in ds] == [("OPT301", 2)]
    assert ds[0].fix is None


def test_opt301_self_attribute_in_a_class():
    src = """\
    import torch
    from torch import nn

    class Trainer:
        def __init__(self, model: nn.Module):
            self.model = model
            self.opt = torch.optim.SGD(self.model.parameters(), learning_rate=0.01, momentum=0.9)
    """
    assert codes_at(src, CODES) == [("OPT301", 7)]
    assert "self.opt = torch.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9)" in fixed(src)


def test_opt301_subclass_defined_in_file():
    src = """\
    import torch

    class MyAdam(torch.optim.Adam):
        pass

    class Custom(torch.optim.Adam):
        def __init__(self, params, learning_rate=1e-3):
            super().__init__(params, lr=learning_rate)

    a = MyAdam(model.parameters(), learning_rate=1e-3)
    b = Custom(model.parameters(), learning_rate=1e-3)
    """
    assert codes_at(src, ["OPT301"]) == [("OPT301", 10)]


@pytest.mark.parametrize("src", [
    "import tensorflow as tf\nopt = tf.keras.optimizers.Adam(learning_rate=1e-3, beta_1=0.9, epsilon=1e-7)\n",
    "import keras\nopt = keras.optimizers.RMSprop(learning_rate=1e-3, rho=0.9, clipnorm=1.0)\n",
    "from tensorflow.keras.optimizers import Adam\nopt = Adam(learning_rate=1e-3, beta_1=0.9)\n",
    "import optax\nopt = optax.adam(learning_rate=1e-3)\n",
    "import torch\nopt = torch.optim.Adadelta(model.parameters(), rho=0.9, eps=1e-6)\n",
    "from mylib import Adam\nopt = Adam(model.parameters(), learning_rate=1e-3, weight_decay=1e-4)\n",
    "opt = Adam(model.parameters(), learning_rate=1e-3, beta_1=0.9)\n",
    "import torch\nopt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)\n",
    # a group key that user code reads back (``decay``) is not Keras's argument
    "import torch\nopt = torch.optim.SGD([{'params': p, 'decay': True}], lr=0.1)\n",
])
def test_opt301_lookalikes_and_correct_code_do_not_fire(src):
    assert codes_at(src, CODES) == []


# =========================================================================== OPT302
def test_opt302_adam_weight_decay_fix_keeps_spelling():
    src = """\
    import torch
    from torch import optim
    a = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    b = optim.Adam(model.parameters(), weight_decay=args.weight_decay)
    """
    ds = lint(src, ["OPT302"], **STRICT)
    assert [(d.code, d.location.row, d.location.column) for d in ds] == [("OPT302", 3, 51), ("OPT302", 4, 36)]
    assert "# noqa: OPT302" in ds[0].message and "by `lr`" in ds[0].message
    assert all(d.fix.applicability.value == "unsafe" for d in ds)
    assert fixed(src, ["OPT302"], strict=True) == textwrap.dedent(src)  # unsafe: not applied by --fix
    assert fixed(src, ["OPT302"], unsafe=True, strict=True) == textwrap.dedent(src).replace(
        "torch.optim.Adam(", "torch.optim.AdamW(").replace("optim.Adam(", "optim.AdamW(")


def test_opt302_imported_adam_uses_imported_adamw():
    src = """\
    from torch.optim import Adam, AdamW
    opt = Adam(model.parameters(), weight_decay=5e-4)
    """
    assert fixed(src, unsafe=True, strict=True) == textwrap.dedent(src).replace("opt = Adam(", "opt = AdamW(")


def test_opt302_imported_adam_adds_adamw_to_the_import():
    src = """\
    from torch.optim import SGD, Adam
    opt = Adam(model.parameters(), weight_decay=5e-4)
    """
    assert fixed(src, unsafe=True, strict=True) == textwrap.dedent("""\
    from torch.optim import SGD, Adam, AdamW
    opt = AdamW(model.parameters(), weight_decay=5e-4)
    """)


def test_opt301_and_opt302_fixes_on_one_call():
    src = """\
    from torch.optim import Adam
    opt = Adam(model.parameters(), learning_rate=1e-3, weight_decay=1e-4)
    """
    assert fixed(src, strict=True) == textwrap.dedent(src).replace("learning_rate", "lr")
    assert fixed(src, unsafe=True, strict=True) == textwrap.dedent("""\
    from torch.optim import Adam, AdamW
    opt = AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    """)


def test_opt302_two_adams_one_import_added():
    src = """\
    from torch.optim import Adam
    enc_opt = Adam(encoder.parameters(), weight_decay=1e-4)
    dec_opt = Adam(decoder.parameters(), weight_decay=1e-4)
    """
    assert fixed(src, ["OPT302"], unsafe=True, strict=True) == textwrap.dedent("""\
    from torch.optim import Adam, AdamW
    enc_opt = AdamW(encoder.parameters(), weight_decay=1e-4)
    dec_opt = AdamW(decoder.parameters(), weight_decay=1e-4)
    """)


def test_opt302_aliased_import_has_no_fix():
    src = """\
    from torch.optim import Adam as A
    opt = A(model.parameters(), weight_decay=5e-4)
    """
    ds = lint(src, ["OPT302"], **STRICT)
    assert [(d.code, d.location.row) for d in ds] == [("OPT302", 2)]
    assert ds[0].fix is None


def test_opt302_nadam_radam_suggest_decoupled_flag_without_fix():
    src = """\
    import torch
    a = torch.optim.NAdam(model.parameters(), weight_decay=1e-2)
    b = torch.optim.RAdam(model.parameters(), weight_decay=1e-2)
    """
    ds = lint(src, ["OPT302"], **STRICT)
    assert [(d.code, d.location.row) for d in ds] == [("OPT302", 2), ("OPT302", 3)]
    assert all("decoupled_weight_decay=True" in d.message and d.fix is None for d in ds)


def test_opt302_param_group_weight_decay():
    src = """\
    import torch
    opt = torch.optim.Adam([
        {"params": decay, "weight_decay": 0.01},
        {"params": no_decay, "weight_decay": 0.0},
    ], lr=1e-3)
    """
    assert codes_at(src, ["OPT302"], **STRICT) == [("OPT302", 3)]


@pytest.mark.parametrize("src", [
    "import torch\nopt = torch.optim.Adam(model.parameters(), weight_decay=0)\n",
    "import torch\nopt = torch.optim.Adam(model.parameters(), weight_decay=0.0)\n",
    "import torch\nopt = torch.optim.AdamW(model.parameters(), weight_decay=1e-2)\n",
    "import torch\nopt = torch.optim.Adam(model.parameters(), weight_decay=1e-2, decoupled_weight_decay=True)\n",
    "import torch\nopt = torch.optim.NAdam(model.parameters(), weight_decay=1e-2, decoupled_weight_decay=True)\n",
    "import torch\nopt = torch.optim.Adam(model.parameters(), lr=1e-3)\n",
    "import torch\nopt = torch.optim.Adam(model.parameters(), weight_decay=1e-4)  # noqa: OPT302\n",
    "import torch\nWD = 0.0\nopt = torch.optim.Adam(model.parameters(), weight_decay=WD)\n",
    "import torch\nopt = torch.optim.SGD(model.parameters(), lr=0.1, weight_decay=1e-4)\n",
    "import tensorflow as tf\nopt = tf.keras.optimizers.Adam(weight_decay=1e-4)\n",
    # a zero default that no caller in the file overrides
    """import torch\ndef build(model, lr=1e-3, weight_decay=0.0):
    return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
opt = build(net, lr=1e-4)
""",
])
def test_opt302_does_not_fire(src):
    assert codes_at(src, CODES) == []


ADAM_FACTORY = """\
import torch

class AdamFactory:
    def __init__(self, lr: float = 1e-3, weight_decay: float = 0):
        self.lr = lr
        self.weight_decay = weight_decay

    def create(self, params):
        return torch.optim.Adam(params, lr=self.lr, weight_decay=self.weight_decay)
"""


def test_opt302_zero_default_passed_through_an_attribute_is_zero():
    """tianshou's AdamOptimizerFactory: Adam's own signature, passed through."""
    assert codes_at(ADAM_FACTORY, CODES, **STRICT) == []
    assert codes_at(ADAM_FACTORY + "factory = AdamFactory(lr=1e-4)\n", CODES, **STRICT) == []


def test_opt302_attribute_default_overridden_by_a_constructor_call_fires():
    assert codes_at(ADAM_FACTORY + "factory = AdamFactory(weight_decay=1e-4)\n", CODES, **STRICT) == [("OPT302", 9)]
    assert codes_at(ADAM_FACTORY + "factory = AdamFactory(1e-4, 1e-2)\n", CODES, **STRICT) == [("OPT302", 9)]
    assert codes_at(ADAM_FACTORY + "factory = AdamFactory(1e-4)\n", CODES, **STRICT) == []


def test_opt302_zero_default_overridden_by_a_caller_fires():
    src = """\
    import torch
    def build(model, lr=1e-3, weight_decay=0.0):
        return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    opt = build(net, weight_decay=1e-4)
    """
    assert codes_at(src, ["OPT302"], **STRICT) == [("OPT302", 3)]


def test_opt302_unknown_parameter_without_default_fires():
    src = """\
    import torch
    def build(model, weight_decay):
        return torch.optim.Adam(model.parameters(), weight_decay=weight_decay)
    """
    assert codes_at(src, ["OPT302"], **STRICT) == [("OPT302", 3)]


# =========================================================================== OPT303
def test_opt303_nesterov_without_momentum():
    src = """\
    import torch
    a = torch.optim.SGD(model.parameters(), lr=0.1, nesterov=True)
    b = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0, nesterov=True)
    c = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)
    d = torch.optim.SGD(model.parameters(), 0.1, 0.0, nesterov=True)
    """
    ds = lint(src, ["OPT303"])
    assert [(d.code, d.location.row, d.location.column) for d in ds] == [
        ("OPT303", 2, 49), ("OPT303", 3, 61), ("OPT303", 4, 78), ("OPT303", 5, 51)]
    assert "no `momentum`" in ds[0].message and "`dampening=0.1`" in ds[2].message
    assert all(d.fix is None for d in ds)


@pytest.mark.parametrize("src", [
    "import torch\nopt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)\n",
    "import torch\nopt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=args.momentum, nesterov=True)\n",
    "import torch\nopt = torch.optim.SGD(model.parameters(), 0.1, 0.9, 0, 5e-4, True)\n",
    "import torch\nopt = torch.optim.SGD(model.parameters(), lr=0.1, nesterov=args.nesterov)\n",
    "import torch\nopt = torch.optim.SGD(model.parameters(), lr=0.1, **cfg, nesterov=True)\n",
    "import tensorflow as tf\nopt = tf.keras.optimizers.SGD(nesterov=True)\n",
])
def test_opt303_does_not_fire(src):
    assert codes_at(src, CODES) == []


@pytest.mark.parametrize("src", [
    """import pytest, torch
def test_nesterov_needs_momentum(model):
    with pytest.raises(ValueError, match="Nesterov"):
        torch.optim.SGD(model.parameters(), lr=0.01, nesterov=True)
""",
    """import unittest, torch
class T(unittest.TestCase):
    def test_keras_name(self):
        with self.assertRaises(TypeError):
            torch.optim.Adam(self.model.parameters(), learning_rate=1e-3)
        with self.assertRaisesRegex(TypeError, "iterable"):
            torch.optim.SGD(torch.nn.Linear(2, 2), lr=0.1)
""",
])
def test_tests_expecting_torch_errors_do_not_fire(src):
    assert codes_at(src, CODES) == []


# A helper defined inside the block that expects the error belongs to that test (the OPT602
# answer, ``analysis.expected_errors``); the same helper defined after the block does not.
NESTED_HELPER = """import pytest, torch
def test_nesterov_needs_momentum(model):
    with pytest.raises(ValueError, match="Nesterov"):
        def build():
            return torch.optim.SGD(model.parameters(), lr=0.01, nesterov=True)
        build()
"""


def test_construction_in_a_helper_defined_inside_a_test_of_the_error_is_silent():
    assert codes_at(NESTED_HELPER, CODES) == []


def test_construction_in_a_helper_defined_after_the_block_fires():
    src = NESTED_HELPER.replace("        def build():", "        pass\n    def build():").replace(
        "            return torch", "        return torch").replace("        build()\n", "    build()\n")
    assert codes_at(src, CODES) == [("OPT303", 6)]


# =========================================================================== OPT304
def test_opt304_generator_passed_to_two_optimizers():
    src = """\
    import torch

    def build(model):
        params = model.parameters()
        opt = torch.optim.SGD(params, lr=0.1)
        swa = torch.optim.SGD(params, lr=0.05)
        return opt, swa
    """
    ds = lint(src, ["OPT304"])
    assert [(d.code, d.location.row, d.location.column) for d in ds] == [("OPT304", 6, 27)]
    assert "line 5" in ds[0].message
    assert fixed(src) == textwrap.dedent(src).replace("params = model.parameters()",
                                                      "params = list(model.parameters())")


def test_opt304_found_from_the_lines_that_name_parameters():
    """The candidates are read only off the lines that call ``parameters(`` (CRLF line endings
    too); a class of the file defining its own ``parameters`` silences the rule,
    ``def my_parameters(`` does not."""
    src = (
        "import torch\r\n"
        "def build(model):\r\n"
        "    params = model.parameters()\r\n"
        "    opt = torch.optim.SGD(params, lr=0.1)\r\n"
        "    swa = torch.optim.SGD(params, lr=0.05)\r\n"
        "    return opt, swa\r\n"
    )
    assert codes_at(src, ["OPT304"]) == [("OPT304", 5)]
    helper = "def my_parameters(m):\r\n    return list(m.parameters())\r\n"
    assert codes_at(src + helper, ["OPT304"]) == [("OPT304", 5)]
    own = "class Net:\r\n    def parameters(self):\r\n        return []\r\n"
    assert codes_at(src + own, ["OPT304"]) == []


def test_opt304_list_then_optimizer_and_iterated_twice():
    src = """\
    import torch
    params = model.named_parameters()
    names = [n for n, p in params]
    opt = torch.optim.Adam(p for n, p in params)
    for n, p in params:
        print(n)
    """
    # the generator expression passed to Adam is not a consumer the analysis knows; the
    # ``for`` loop is the second consumer.
    assert codes_at(src, ["OPT304"]) == [("OPT304", 5)]


def test_opt304_filter_then_clip_in_loop():
    src = """\
    import torch
    trainable = filter(lambda p: p.requires_grad, model.parameters())
    opt = torch.optim.Adam(trainable, lr=1e-3)
    for x, y in loader:
        loss = model(x).sum()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        opt.step()
    """
    assert codes_at(src, ["OPT304"]) == [("OPT304", 7)]


def test_opt304_parameter_count_printed_first():
    src = """\
    import torch
    params = filter(lambda p: p.requires_grad, model.parameters())
    print(f"{sum(p.numel() for p in params)} trainable parameters")
    optimizer = torch.optim.AdamW(params, lr=3e-4)
    """
    ds = lint(src, ["OPT304"])
    assert [(d.code, d.location.row, d.location.column) for d in ds] == [("OPT304", 4, 31)]
    assert "`sum(...)` on line 3" in ds[0].message
    assert fixed(src) == textwrap.dedent(src).replace(
        "params = filter(lambda p: p.requires_grad, model.parameters())",
        "params = list(filter(lambda p: p.requires_grad, model.parameters()))")


def test_opt304_single_use_inside_a_loop():
    src = """\
    import torch
    params = model.parameters()
    for x in loader:
        loss = model(x).sum()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, max_norm=1.0)
    """
    ds = lint(src, ["OPT304"])
    assert [(d.code, d.location.row) for d in ds] == [("OPT304", 6)]
    assert "second pass" in ds[0].message


def test_opt304_not_silenced_by_other_functions_named_like_parameters():
    src = """\
    import torch
    def parameters_count(m):
        return sum(p.numel() for p in m.parameters())
    params = model.parameters()
    a = torch.optim.SGD(params, lr=0.1)
    b = torch.optim.SGD(params, lr=0.1)
    """
    assert codes_at(src, ["OPT304"]) == [("OPT304", 6)]


def test_opt304_param_groups_sharing_one_generator():
    src = """\
    import torch
    params = model.parameters()
    opt = torch.optim.Adam([{"params": params}, {"params": params, "lr": 1e-4}])
    """
    assert codes_at(src, ["OPT304"]) == [("OPT304", 3)]


@pytest.mark.parametrize("src", [
    # used once
    "import torch\nparams = model.parameters()\nopt = torch.optim.SGD(params, lr=0.1)\n",
    # already a list
    "import torch\nparams = list(model.parameters())\na = torch.optim.SGD(params, lr=0.1)\nb = torch.optim.SGD(params, lr=0.1)\n",
    # reassigned between
    """import torch
params = model.parameters()
a = torch.optim.SGD(params, lr=0.1)
params = model.parameters()
b = torch.optim.SGD(params, lr=0.1)
""",
    # exclusive branches
    """import torch
params = model.parameters()
if args.opt == "sgd":
    opt = torch.optim.SGD(params, lr=0.1)
else:
    opt = torch.optim.Adam(params)
""",
    # conditional first use does not prove the second sees an empty iterator
    """import torch
params = model.parameters()
if args.verbose:
    print(sum(p.numel() for p in params))
opt = torch.optim.SGD(params, lr=0.1)
""",
    # assignment inside the loop: a fresh generator each pass
    """import torch
for x in loader:
    params = model.parameters()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
""",
    # a loop that leaves after the first use
    """import torch
params = model.parameters()
for x in loader:
    opt = torch.optim.SGD(params, lr=0.1)
    break
""",
    # uses that do not consume
    """import torch
params = model.parameters()
print(params)
opt = torch.optim.SGD(params, lr=0.1)
""",
    # a different name each time
    """import torch
a = model.parameters()
b = model.parameters()
opt1 = torch.optim.SGD(a, lr=0.1)
opt2 = torch.optim.SGD(b, lr=0.1)
""",
    # a class of the file defines its own parameters() (may return a list)
    """import torch
class Wrapper:
    def parameters(self):
        return [self.w]
params = w.parameters()
a = torch.optim.SGD(params, lr=0.1)
b = torch.optim.SGD(params, lr=0.1)
""",
    # not torch
    "import paddle\nparams = model.parameters()\na = paddle.optimizer.SGD(parameters=params)\nb = list(params)\n",
])
def test_opt304_does_not_fire(src):
    assert codes_at(src, CODES) == []


# =========================================================================== OPT305
def test_opt305_move_after_construction_fix_hoists_it():
    src = """\
    import torch

    def main(device):
        model = torch.nn.Linear(4, 2)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        # materialize it on the accelerator
        model.to_empty(device=device)
        for x, y in loader:
            optimizer.zero_grad()
            torch.nn.functional.mse_loss(model(x), y).backward()
            optimizer.step()
    """
    ds = lint(src, ["OPT305"])
    assert [(d.code, d.location.row, d.location.column) for d in ds] == [("OPT305", 7, 5)]
    assert ds[0].fix.applicability.value == "unsafe"
    assert fixed(src, ["OPT305"]) == textwrap.dedent(src)
    assert fixed(src, ["OPT305"], unsafe=True) == textwrap.dedent("""\
    import torch

    def main(device):
        model = torch.nn.Linear(4, 2)
        # materialize it on the accelerator
        model.to_empty(device=device)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        for x, y in loader:
            optimizer.zero_grad()
            torch.nn.functional.mse_loss(model(x), y).backward()
            optimizer.step()
    """)


def test_opt305_reassigning_move_and_casts_under_the_overwrite_flag():
    src = """\
    import torch
    torch.__future__.set_overwrite_module_params_on_conversion(True)
    model = Net()
    opt = torch.optim.Adam(model.parameters())
    model = model.to("cuda")
    model.half()
    train(model, opt)
    """
    assert codes_at(src, ["OPT305"]) == [("OPT305", 5), ("OPT305", 6)]
    assert fixed(src, ["OPT305"], unsafe=True) == textwrap.dedent("""\
    import torch
    torch.__future__.set_overwrite_module_params_on_conversion(True)
    model = Net()
    model = model.to("cuda")
    model.half()
    opt = torch.optim.Adam(model.parameters())
    train(model, opt)
    """)


def test_opt305_script_whose_loop_function_is_defined_before_the_sharding():
    src = """\
    import torch
    from torch.distributed.fsdp import fully_shard
    model = Net()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def train_epoch(loader):
        for x, y in loader:
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()

    fully_shard(model)
    train_epoch(loader)
    """
    assert codes_at(src, ["OPT305"]) == [("OPT305", 12)]
    # sharded only once training is over: the optimizer is not used again
    done = textwrap.dedent(src).replace("fully_shard(model)\ntrain_epoch(loader)\n",
                                        "train_epoch(loader)\nfully_shard(model)\n")
    assert done != textwrap.dedent(src) and codes_at(done, ["OPT305"]) == []


def test_opt305_in_a_class_no_fix_when_the_move_reads_a_name_bound_after():
    src = """\
    import torch

    class Trainer:
        def __init__(self, model, cfg):
            self.model = model
            self.opt = torch.optim.SGD(self.model.parameters(), lr=cfg.lr)
            device = torch.device(cfg.device)
            self.model.to_empty(device=device)
    """
    ds = lint(src, ["OPT305"])
    assert [(d.code, d.location.row) for d in ds] == [("OPT305", 8)]
    assert ds[0].fix is None


@pytest.mark.parametrize("src", [
    # moved first
    """import torch
model = Net().cuda()
opt = torch.optim.SGD(model.parameters(), lr=0.1)
opt.step()
""",
    # another module moved
    """import torch
opt = torch.optim.SGD(model.parameters(), lr=0.1)
teacher.cuda()
loss = loss.to(device)
x = x.to(device)
opt.step()
""",
    # the name now holds another module
    """import torch
opt = torch.optim.SGD(model.parameters(), lr=0.1)
model = build_other()
model.cuda()
opt.step()
""",
    # a different scope
    """import torch
def make(model):
    return torch.optim.SGD(model.parameters(), lr=0.1)
def run(model):
    model.cuda()
""",
    # moved for export after training, optimizer never used again
    """import torch
def train(model, loader):
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for x in loader:
        opt.zero_grad(); model(x).sum().backward(); opt.step()
    model.cpu()
    torch.save(model.state_dict(), "m.pt")
""",
    # a tensor attribute of the module: ``.to`` returns a copy
    """import torch
opt = torch.optim.SGD(model.parameters(), lr=0.1)
mask = model.mask.to(device)
opt.step()
""",
    # exclusive branches
    """import torch
if resume:
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
else:
    model.cuda()
opt.step()
""",
])
def test_opt305_does_not_fire(src):
    assert codes_at(src, CODES) == []


# =========================================================================== OPT307
def test_opt307_module_passed_as_params():
    src = """\
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 2)

    model = Net().to("cpu")
    head = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    opt = torch.optim.SGD(model, lr=0.1)
    opt2 = torch.optim.Adam([{"params": head, "lr": 1e-3}])
    """
    ds = lint(src, ["OPT307"])
    assert [(d.code, d.location.row, d.location.column) for d in ds] == [("OPT307", 11, 23), ("OPT307", 12, 37)]
    assert fixed(src) == textwrap.dedent(src).replace("SGD(model,", "SGD(model.parameters(),").replace(
        '"params": head,', '"params": head.parameters(),')


def test_opt307_self_attribute():
    src = """\
    import torch

    class LitModel:
        def __init__(self):
            self.encoder = torch.nn.LSTM(8, 16)

        def configure(self):
            return torch.optim.Adam(self.encoder, lr=1e-3)
    """
    assert codes_at(src, ["OPT307"]) == [("OPT307", 8)]
    assert "torch.optim.Adam(self.encoder.parameters(), lr=1e-3)" in fixed(src)


# A module class of torch.nn at any of its sub-packages (``vocabulary.torch_module_class``, which
# OPT604 reads too): the quantization-aware and quantizable layers are modules.
@pytest.mark.parametrize("import_line, built", [
    ("from torch.nn.quantizable import LSTM", "LSTM(4, 4)"),
    ("import torch.nn.qat as nnqat", "nnqat.Linear(4, 2, qconfig=qconfig)"),
    ("from torch.nn.modules.linear import Linear", "Linear(4, 2)"),
])
def test_opt307_torch_nn_module_classes_of_every_package(import_line, built):
    src = f"import torch\n{import_line}\nlayer = {built}\nopt = torch.optim.SGD(layer, lr=0.1)\n"
    assert codes_at(src, ["OPT307"]) == [("OPT307", 4)]


@pytest.mark.parametrize("built", [
    "torch.nn.attention.SDPBackend.MATH",  # an enum of torch.nn's attention package
    "torch.nn.ParameterDict({'w': torch.nn.Parameter(torch.ones(2))})",
    "torch.nn.parameter.Parameter(torch.ones(2))",
])
def test_opt307_silent_on_torch_nn_classes_that_are_not_computing_modules(built):
    src = f"import torch\nlayer = {built}\nopt = torch.optim.SGD([layer], lr=0.1)\nopt2 = torch.optim.SGD(layer, lr=0.1)\n"
    assert codes_at(src, ["OPT307"]) == []


@pytest.mark.parametrize("src", [
    "import torch\nopt = torch.optim.SGD(params, lr=0.1)\n",
    "import torch\nparams = [p for p in model.parameters() if p.requires_grad]\nopt = torch.optim.SGD(params, lr=0.1)\n",
    "import torch\nfrom torch import nn\npl = nn.ParameterList([nn.Parameter(torch.ones(2))])\nopt = torch.optim.SGD(pl, lr=0.1)\n",
    "import torch\ndef f(model):\n    return torch.optim.SGD(model, lr=0.1)\n",
    # reassigned: not provably a module
    "import torch\nmodel = torch.nn.Linear(2, 2)\nmodel = list(model.parameters())\nopt = torch.optim.SGD(model, lr=0.1)\n",
    "import tensorflow as tf\nmodel = tf.keras.Sequential()\nopt = tf.keras.optimizers.SGD(model)\n",
    # a module class that iterates its own parameters
    """import torch
class Bank(torch.nn.Module):
    def __iter__(self):
        return iter(self.parameters())
bank = Bank()
opt = torch.optim.SGD(bank, lr=0.1)
""",
])
def test_opt307_does_not_fire(src):
    assert codes_at(src, CODES) == []


# =========================================================================== fixture / CLI
KERAS_PORT_EXPECTED = [
    ("OPT301", 43), ("OPT301", 43), ("OPT301", 43), ("OPT301", 46), ("OPT302", 49),
    ("OPT301", 49), ("OPT303", 52),
]


def test_keras_port_fixture_findings():
    result = invoke(["check", "--no-cache", "--output-format", "concise", "--select", ",".join(CODES),
                     str(FIXTURES / "keras_port.py")])
    assert result.exit_code == 1
    rows = [(line.split(": ")[1].split()[0], int(line.split(":")[1]))
            for line in result.stdout.splitlines() if ": OPT" in line]
    assert rows == KERAS_PORT_EXPECTED


def test_keras_port_fixture_fix_twice(tmp_path):
    path = tmp_path / "keras_port.py"
    shutil.copy(FIXTURES / "keras_port.py", path)
    result = invoke(["check", "--no-cache", "--fix", "--select", ",".join(CODES), str(path)])
    assert result.exit_code == 1  # OPT302 (unsafe), OPT301 clipnorm, OPT303 (no fix) remain
    text = path.read_text(encoding="utf-8")
    ast.parse(text)
    assert "torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)" in text
    assert "torch.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9)" in text
    remaining = [(d.code, d.location.row) for d in lint(text, CODES)]
    assert remaining == [("OPT302", 49), ("OPT301", 49), ("OPT303", 52)]
    again = invoke(["check", "--no-cache", "--fix", "--select", ",".join(CODES), str(path)])
    assert again.exit_code == 1
    assert path.read_text(encoding="utf-8") == text


@pytest.mark.parametrize("default, expected", [
    ("0", []),                       # the parser's default is a literal zero: no decay unless given
    ("0.0", []),
    ("1e-4", [("OPT302", 8)]),      # a real default: coupled L2
])
def test_opt302_reads_the_argparse_default_of_the_decay(default, expected):
    src = f"""\
        import argparse
        import torch
        parser = argparse.ArgumentParser()
        parser.add_argument("--weight-decay", type=float, default={default})
        args = parser.parse_args()
        model = torch.nn.Linear(4, 1)

        opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=args.weight_decay)
    """
    # the strict form (require-evidence = false) speaks on any non-zero decay; a zero default
    # silences both forms, and by default 1e-4 reads as deliberate L2
    assert codes_at(src, ["OPT302"], **STRICT) == expected
    assert codes_at(src, ["OPT302"]) == []


def test_opt302_fires_when_the_file_sets_the_argparse_destination_elsewhere():
    src = """\
        import argparse
        import torch
        parser = argparse.ArgumentParser()
        parser.add_argument("--weight-decay", type=float, default=0)
        args = parser.parse_args()
        args.weight_decay = 1e-4
        model = torch.nn.Linear(4, 1)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=args.weight_decay)
    """
    assert codes_at(src, ["OPT302"], **STRICT) == [("OPT302", 8)]
