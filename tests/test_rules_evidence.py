"""OPT302 speaks only where the code shows decoupled decay (AdamW) was meant; the
``[tool.optimlint.adam-weight-decay]`` table restores the strict form."""

from __future__ import annotations

import textwrap

import pytest

from conftest import invoke
from optimlint.config import load_file


# =========================================================================== the setting
def test_adam_weight_decay_table_is_read(tmp_path):
    cfg = tmp_path / "pyproject.toml"
    cfg.write_text("[tool.optimlint.adam-weight-decay]\nrequire-evidence = false\n")
    strict = load_file(str(cfg))
    assert strict.adam_weight_decay_require_evidence is False
    cfg.write_text("[tool.optimlint]\n")
    default = load_file(str(cfg))
    assert default.adam_weight_decay_require_evidence is True
    # results cached under one setting are not reused under the other
    assert strict.fingerprint() != default.fingerprint()


@pytest.mark.parametrize("table, says, row", [
    ("[tool.optimlint.adam-weight-decay]\nrequire-evidence = \"no\"\n",
     "`require-evidence` must be true or false, got a string", 2),
    ("[tool.optimlint.adam-weight-decay]\nrequire-evidnce = false\n",
     "unknown key `require-evidnce` in [tool.optimlint.adam-weight-decay]; known keys: require-evidence", 2),
    ("[tool.optimlint]\nadam-weight-decay = 1\n", "`adam-weight-decay` must be a table, got an integer", 2),
])
def test_bad_adam_weight_decay_table_is_a_config_error(tmp_path, table, says, row):
    (tmp_path / "train.py").write_text("import torch\n")
    (tmp_path / "pyproject.toml").write_text(table)
    result = invoke(["check", "--no-cache", str(tmp_path)])
    assert result.exit_code == 2
    assert says in result.output
    assert f"pyproject.toml:{row}:" in result.output


# =========================================================================== evidence: must fire
from conftest import codes_at, lint  # noqa: E402

SEL = ["OPT302"]

EVIDENCE = {
    "a value in AdamW's range": ("""\
    import torch
    opt = torch.optim.Adam(net.parameters(), lr=3e-4, weight_decay=0.05)
    """, 2, "`weight_decay=0.05` (at least 0.01, AdamW's range"),
    "a value assigned once to the name it reads": ("""\
    import torch
    WD = 0.1
    opt = torch.optim.Adam(net.parameters(), weight_decay=WD)
    """, 3, "`WD = 0.1`"),
    "the default of the argparse option it reads": ("""\
    import argparse
    import torch
    cli = argparse.ArgumentParser()
    cli.add_argument("--wd", type=float, default=0.05)
    args = cli.parse_args()
    opt = torch.optim.Adam(net.parameters(), weight_decay=args.wd)
    """, 6, "`--wd` defaults to 0.05"),
    "a parameter's default": ("""\
    import torch
    def make(net, weight_decay=0.02):
        return torch.optim.RAdam(net.parameters(), weight_decay=weight_decay)
    """, 3, "`weight_decay` defaults to 0.02"),
    "decay/no-decay groups in a list built before": ("""\
    import torch
    skip = ("bias", "norm")
    groups = [
        {"params": [p for n, p in net.named_parameters() if not any(s in n for s in skip)],
         "weight_decay": cfg.wd},
        {"params": [p for n, p in net.named_parameters() if any(s in n for s in skip)],
         "weight_decay": 0.0},
    ]
    opt = torch.optim.Adam(groups, lr=cfg.lr)
    """, 5, "decay/no-decay parameter groups"),
    "AdamW in a comment above": ("""\
    import torch
    # AdamW-style regularization as in the paper
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.wd)
    """, 3, "'AdamW' named on line 2"),
    "AdamW in a config key": ("""\
    import torch
    opt = torch.optim.Adam(net.parameters(), weight_decay=cfg.adamw_decay)
    """, 2, "'adamw' named on line 2"),
    "AdamW in the argparse help": ("""\
    import argparse
    import torch
    cli = argparse.ArgumentParser()
    cli.add_argument("--decay", type=float, help="decay as in AdamW")
    args = cli.parse_args()
    opt = torch.optim.Adam(net.parameters(), weight_decay=args.decay)
    """, 6, "the help of `--decay` says 'AdamW'"),
    "a name dispatch where adamw builds Adam": ("""\
    import torch
    def pick(name, net, wd):
        if name in ("adam", "adamw"):
            return torch.optim.Adam(net.parameters(), weight_decay=wd)
        return torch.optim.SGD(net.parameters(), lr=0.1, weight_decay=wd)
    """, 4, "an optimizer-name dispatch where \"adamw\" builds `Adam`"),
    "Keras-ported code": ("""\
    import torch
    # ported from the Keras notebook
    def build(net, wd):
        return torch.optim.Adam(net.parameters(), weight_decay=wd)
    """, 4, "Keras-ported code"),
}


@pytest.mark.parametrize("name", list(EVIDENCE))
def test_opt302_fires_with_evidence_and_names_it(name):
    src, row, says = EVIDENCE[name]
    ds = lint(src, SEL)
    assert [(d.code, d.location.row) for d in ds] == [("OPT302", row)]
    assert says in ds[0].message
    assert "the code points to decoupled decay (AdamW)" in ds[0].message


def test_opt302_add_param_group_is_read():
    src = """\
    import torch
    opt = torch.optim.Adam(backbone.parameters(), lr=1e-4)
    opt.add_param_group({"params": head.parameters(), "weight_decay": 0.05})
    opt.add_param_group({"params": probe.parameters(), "weight_decay": 1e-4})
    """
    assert codes_at(src, SEL) == [("OPT302", 3)]
    assert codes_at(src, SEL, adam_weight_decay_require_evidence=False) == [("OPT302", 3), ("OPT302", 4)]


# =========================================================================== evidence: must not fire
SILENT = {
    "a small literal: L2 as written": """\
    import torch
    opt = torch.optim.Adam(probe.parameters(), lr=1e-3, weight_decay=1e-4)
    """,
    "a config value with nothing around it": """\
    import torch
    def build(net, cfg):
        return torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    """,
    "one shared option for SGD, ASGD and Adam": """\
    import argparse
    import torch
    cli = argparse.ArgumentParser()
    cli.add_argument("--wdecay", type=float, default=1.2e-6)
    args = cli.parse_args()
    if args.optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=args.lr, weight_decay=args.wdecay)
    if args.optimizer == "asgd":
        opt = torch.optim.ASGD(params, lr=args.lr, t0=0, lambd=0.0, weight_decay=args.wdecay)
    if args.optimizer == "adam":
        opt = torch.optim.Adam(params, lr=args.lr, weight_decay=args.wdecay)
    """,
    "a dispatch that builds AdamW for adamw": """\
    import torch
    def pick(name, net, wd):
        if name == "adamw":
            return torch.optim.AdamW(net.parameters(), weight_decay=wd)
        elif name == "adam":
            return torch.optim.Adam(net.parameters(), weight_decay=wd)
    """,
    "L2 named in the help": """\
    import argparse
    import torch
    cli = argparse.ArgumentParser()
    cli.add_argument("--weight_decay", type=float, default=5e-4, help="L2 penalty on the weights")
    args = cli.parse_args()
    opt = torch.optim.Adam(net.parameters(), lr=0.005, weight_decay=args.weight_decay)
    """,
    "a large value said to be L2": """\
    import torch
    opt = torch.optim.Adam(critic.parameters(), weight_decay=0.05)  # L2 on the critic, as in the paper
    """,
    "coupled decay written out": """\
    import torch
    opt = torch.optim.Adam(net.parameters(), weight_decay=0.05, decoupled_weight_decay=False)
    """,
    "groups that all decay": """\
    import torch
    opt = torch.optim.Adam([
        {"params": net.body.parameters(), "weight_decay": cfg.wd},
        {"params": net.head.parameters(), "weight_decay": cfg.wd, "lr": 1e-2},
    ])
    """,
}


@pytest.mark.parametrize("name", list(SILENT))
def test_opt302_stays_silent_without_evidence(name):
    assert codes_at(SILENT[name], SEL) == []


def test_opt302_strict_setting_fires_without_evidence(tmp_path):
    (tmp_path / "train.py").write_text(textwrap.dedent(SILENT["a config value with nothing around it"]))
    assert invoke(["check", "--no-cache", "--select", "OPT302", str(tmp_path)]).exit_code == 0
    (tmp_path / "pyproject.toml").write_text("[tool.optimlint.adam-weight-decay]\nrequire-evidence = false\n")
    result = invoke(["check", "--no-cache", "--select", "OPT302", "--output-format", "concise", str(tmp_path)])
    assert result.exit_code == 1
    assert "train.py:3:" in result.stdout and "OPT302" in result.stdout
    assert "the code points to" not in result.stdout


def test_opt302_message_with_evidence():
    (d,) = lint(EVIDENCE["a value in AdamW's range"][0], SEL)
    assert d.message == (
        "`torch.optim.Adam` with `weight_decay` adds an L2 term to the gradient, which the adaptive step "
        "rescales away for weights with large gradients, but the code points to decoupled decay (AdamW): "
        "`weight_decay=0.05` (at least 0.01, AdamW's range; L2 values are 1e-5 to 1e-3). To decouple it, "
        "use `torch.optim.AdamW` (or `decoupled_weight_decay=True`); AdamW multiplies `weight_decay` by "
        "`lr`, so the value needs retuning. Where L2 is intended, add `# noqa: OPT302`")
    assert d.fix is not None and d.fix.applicability.value == "unsafe"
