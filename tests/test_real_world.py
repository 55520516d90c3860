"""Precision review on real training code: faithful reproductions of correct scripts from popular
projects (``tests/real_world/*.py``: pytorch/examples, nanoGPT, minGPT, transformers/accelerate/diffusers
examples, timm, torchvision references, Lightning, SB3, ignite, DeepSpeed, ...) must produce no
finding at all through the real CLI; their classic buggy variants (one line changed) must produce
exactly the expected (code, row).

The reproduced files are test data: their names do not start with ``test_``, so pytest does not
collect them, and nothing imports them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import invoke

HERE = Path(__file__).parent / "real_world"
CORRECT = sorted(p.name for p in HERE.glob("*.py"))

# Files with a known false positive / crash, diagnosed in /work/notes/false_positives.md.
KNOWN: dict[str, str] = {}


def check(path: Path) -> tuple[list[tuple[str, int]], str, int]:
    """``([(code, row), ...], stderr, exit code)`` of ``optimlint check`` on ``path`` (JSON report)."""
    result = invoke(["check", "--select", "OPT", "--no-cache", "--output-format", "json", str(path)])
    findings = json.loads(result.stdout) if result.stdout.strip() else []
    return [(d["code"], d["location"]["row"]) for d in findings], result.stderr, result.exit_code


def test_reproductions_are_present():
    assert len(CORRECT) >= 20
    assert not [n for n in CORRECT if n.startswith("test_")]


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=KNOWN[n])) if n in KNOWN else n
    for n in CORRECT
])
def test_correct_file_is_silent(name):
    found, stderr, code = check(HERE / name)
    assert found == []
    assert "error" not in stderr
    assert code == 0


# --------------------------------------------------------------------------- buggy variants
def variant(tmp_path: Path, name: str, old: str, new: str, *more: str) -> tuple[Path, str]:
    """Copy ``name`` with the one occurrence of ``old`` replaced by ``new`` (and so on for each
    further old/new pair in ``more``); returns (path, text)."""
    text = (HERE / name).read_text(encoding="utf-8")
    pairs = [(old, new), *zip(more[::2], more[1::2])]
    for old, new in pairs:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path, text


def row_of(text: str, needle: str, nth: int = 0) -> int:
    """1-based row of the ``nth`` line containing ``needle``."""
    rows = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    return rows[nth]


def findings(path: Path) -> list[tuple[str, int]]:
    found, stderr, _ = check(path)
    assert "error" not in stderr
    return found


def test_mnist_without_zero_grad(tmp_path):
    path, text = variant(tmp_path, "pytorch_examples_mnist.py", "        optimizer.zero_grad()\n", "")
    assert findings(path) == [("OPT101", row_of(text, "loss.backward()"))]


def test_mnist_module_passed_to_optimizer(tmp_path):
    path, text = variant(tmp_path, "pytorch_examples_mnist.py",
                         "optim.Adadelta(model.parameters(), lr", "optim.Adadelta(model, lr")
    assert findings(path) == [("OPT307", row_of(text, "optim.Adadelta(model, lr"))]


def test_imagenet_clear_between_backward_and_step(tmp_path):
    path, text = variant(tmp_path, "pytorch_examples_imagenet.py",
                         "        optimizer.zero_grad()\n        loss.backward()\n",
                         "        loss.backward()\n        optimizer.zero_grad()\n")
    assert findings(path) == [("OPT102", row_of(text, "optimizer.zero_grad()"))]


def test_dcgan_discriminator_never_cleared(tmp_path):
    path, text = variant(tmp_path, "pytorch_examples_dcgan.py", "        netD.zero_grad()\n", "")
    assert findings(path) == [("OPT101", row_of(text, "errD_real.backward()"))]


def test_word_language_model_total_keeps_graph(tmp_path):
    path, text = variant(tmp_path, "pytorch_examples_word_language_model.py",
                         "total_loss += loss.item()", "total_loss += loss")
    assert findings(path) == [("OPT601", row_of(text, "total_loss += loss"))]


# nanoGPT's optimizer comes from ``model.configure_optimizers(...)`` (a method of an imported class):
# unresolved, so the order/amp rules keyed on the optimizer stay silent there. Many forks build it
# inline; the variants below do so (that inline version is itself correct and silent).
NANO_INLINE = (
    "optimizer = model.configure_optimizers(weight_decay, learning_rate, (beta1, beta2), device_type)",
    "optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, betas=(beta1, beta2))",
)


def test_nanogpt_inline_adamw_is_silent(tmp_path):
    path, _ = variant(tmp_path, "nanogpt_train.py", *NANO_INLINE)
    assert findings(path) == []


def test_nanogpt_clip_without_unscale(tmp_path):
    path, text = variant(tmp_path, "nanogpt_train.py", "        scaler.unscale_(optimizer)\n", "")
    assert findings(path) == [("OPT503", row_of(text, "clip_grad_norm_"))]


def test_nanogpt_step_bypasses_scaler(tmp_path):
    # (with the `scaler.unscale_(optimizer)` of the clipping block left in, the plain step is
    # taken on unscaled gradients when clipping is on: silent by design)
    path, text = variant(tmp_path, "nanogpt_train.py", *NANO_INLINE,
                         "    if grad_clip != 0.0:\n        scaler.unscale_(optimizer)\n"
                         "        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)\n"
                         "    # step the optimizer and scaler if training in fp16\n    scaler.step(optimizer)\n",
                         "    optimizer.step()\n")
    assert findings(path) == [("OPT501", row_of(text, "    optimizer.step()"))]


def test_nanogpt_micro_batch_loss_not_averaged(tmp_path):
    path, text = variant(tmp_path, "nanogpt_train.py", *NANO_INLINE,
                         "            loss = loss / gradient_accumulation_steps  #", "            #")
    assert findings(path) == [("OPT107", row_of(text, "scaler.scale(loss).backward()"))]


def test_glue_scheduler_before_optimizer(tmp_path):
    # (``accelerator = Accelerator(log_with=...) if args.with_tracking else Accelerator()``: both
    # arms build the accelerator, so ``accelerator.backward(loss)`` is the loop's backward)
    path, text = variant(tmp_path, "hf_run_glue_no_trainer.py",
                         "                optimizer.step()\n                lr_scheduler.step()\n",
                         "                lr_scheduler.step()\n                optimizer.step()\n")
    assert findings(path) == [("OPT201", row_of(text, "lr_scheduler.step()"))]


def test_ignite_model_moved_after_optimizer_is_silent(tmp_path):
    # a plain move keeps the Parameter objects the optimizer holds (OPT305 only for replacements)
    path, text = variant(tmp_path, "ignite_mnist.py",
                         "    model.to(device)  # Move model before creating optimizer\n"
                         "    optimizer = SGD(model.parameters(), lr=lr, momentum=momentum)\n",
                         "    optimizer = SGD(model.parameters(), lr=lr, momentum=momentum)\n"
                         "    model.to(device)\n")
    assert findings(path) == []


def test_style_transfer_lbfgs_without_closure(tmp_path):
    # the tutorial builds the LBFGS in a helper (`get_input_optimizer`), whose return is not followed:
    # the variant builds it inline
    path, text = variant(tmp_path, "pytorch_tutorial_neural_style.py",
                         "optimizer.step(closure)", "optimizer.step()",
                         "    optimizer = get_input_optimizer(input_img)\n",
                         "    optimizer = optim.LBFGS([input_img])\n")
    assert findings(path) == [("OPT306", row_of(text, "optimizer.step()"))]


def test_keras_port_with_keras_betas(tmp_path):
    path, text = variant(tmp_path, "keras_port_correct.py",
                         "lr=learning_rate, betas=(0.9, 0.999), eps=1e-7)",
                         "lr=learning_rate, beta_1=0.9, beta_2=0.999, eps=1e-7)")
    row = row_of(text, "beta_1=0.9, beta_2=0.999, eps=1e-7)")
    assert findings(path) == [("OPT301", row), ("OPT301", row)]


def test_keras_port_with_epsilon(tmp_path):
    path, text = variant(tmp_path, "keras_port_correct.py",
                         "lr=learning_rate, betas=(0.9, 0.999), eps=1e-7)",
                         "lr=learning_rate, betas=(0.9, 0.999), epsilon=1e-7)")
    assert findings(path) == [("OPT301", row_of(text, "lr=learning_rate, betas=(0.9, 0.999), epsilon=1e-7)"))]


def test_keras_port_with_adam_weight_decay(tmp_path):
    path, text = variant(tmp_path, "keras_port_correct.py",
                         "lr=learning_rate, betas=(0.9, 0.999), eps=1e-7)",
                         "lr=learning_rate, betas=(0.9, 0.999), eps=1e-7, weight_decay=1e-4)")
    assert findings(path) == [("OPT302", row_of(text, "eps=1e-7, weight_decay=1e-4)"))]


def test_keras_port_plateau_without_metric(tmp_path):
    path, text = variant(tmp_path, "keras_port_correct.py", "scheduler.step(val_loss)", "scheduler.step()")
    assert findings(path) == [("OPT204", row_of(text, "scheduler.step()"))]


def test_keras_port_steplr_per_batch(tmp_path):
    text = (HERE / "keras_port_correct.py").read_text(encoding="utf-8")
    text = text.replace(
        'torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.1, patience=10)',
        "torch.optim.lr_scheduler.StepLR(optimizer, step_size=10, gamma=0.1)")
    text = text.replace("        scheduler.step(val_loss)\n", "")
    text = text.replace("            optimizer.step()\n", "            optimizer.step()\n            scheduler.step()\n")
    path = tmp_path / "keras_port_correct.py"
    path.write_text(text, encoding="utf-8")
    assert findings(path) == [("OPT202", row_of(text, "scheduler.step()"))]


def test_torchvision_steplr_moved_into_batch_loop(tmp_path):
    """The epoch-level ``lr_scheduler.step()`` handed to ``train_one_epoch`` and stepped per batch."""
    text = (HERE / "pytorch_examples_mnist.py").read_text(encoding="utf-8")
    text = text.replace("def train(args, model, device, train_loader, optimizer, epoch):",
                        "def train(args, model, device, train_loader, optimizer, epoch, scheduler):")
    text = text.replace("        optimizer.step()\n", "        optimizer.step()\n        scheduler.step()\n")
    text = text.replace("train(args, model, device, train_loader, optimizer, epoch)",
                        "train(args, model, device, train_loader, optimizer, epoch, scheduler)")
    text = text.replace("        scheduler.step()\n\n    if args.save_model", "\n    if args.save_model")
    path = tmp_path / "mnist.py"
    path.write_text(text, encoding="utf-8")
    assert findings(path) == [("OPT202", row_of(text, "        scheduler.step()"))]


def test_dcgan_forward_called_directly(tmp_path):
    path, text = variant(tmp_path, "pytorch_examples_dcgan.py",
                         "        output = netD(real_cpu)\n", "        output = netD.forward(real_cpu)\n")
    assert findings(path) == [("OPT604", row_of(text, "netD.forward(real_cpu)"))]


@pytest.mark.xfail(strict=True, reason="recall: OPT604 silent on a module received as a parameter "
                                      "(`def train(args, model, ...)`)")
def test_mnist_forward_called_directly(tmp_path):
    path, text = variant(tmp_path, "pytorch_examples_mnist.py",
                         "        output = model(data)\n        loss = F.nll_loss(output, target)\n",
                         "        output = model.forward(data)\n        loss = F.nll_loss(output, target)\n")
    assert findings(path) == [("OPT604", row_of(text, "model.forward(data)"))]


@pytest.mark.xfail(strict=True, reason="recall: OPT604 silent on a `from_pretrained` model (not known to be "
                                      "an nn.Module)")
def test_accelerate_forward_called_directly(tmp_path):
    path, text = variant(tmp_path, "accelerate_nlp_example.py",
                         "            outputs = model(**batch)\n            loss = outputs.loss\n",
                         "            outputs = model.forward(**batch)\n            loss = outputs.loss\n")
    assert findings(path) == [("OPT604", row_of(text, "model.forward(**batch)"))]


def test_quickstart_clear_removed(tmp_path):
    path, text = variant(tmp_path, "pytorch_tutorial_quickstart.py", "        optimizer.zero_grad()\n", "")
    assert findings(path) == [("OPT101", row_of(text, "loss.backward()"))]


def test_dqn_clear_removed_in_helper_called_from_loop(tmp_path):
    path, text = variant(tmp_path, "pytorch_tutorial_dqn.py", "    optimizer.zero_grad()\n", "")
    assert findings(path) == [("OPT101", row_of(text, "loss.backward()"))]


def test_yolov5_clip_without_unscale(tmp_path):
    path, text = variant(tmp_path, "yolov5_train.py",
                         "                scaler.unscale_(optimizer)  # unscale gradients\n", "")
    assert findings(path) == [("OPT503", row_of(text, "clip_grad_norm_"))]


def test_imagenet_train_mode_never_restored(tmp_path):
    path, text = variant(tmp_path, "pytorch_examples_imagenet.py",
                         "    # switch to train mode\n    model.train()\n", "")
    assert findings(path) == [("OPT603", row_of(text, "model.eval()"))]


def test_seq2seq_decoder_never_stepped(tmp_path):
    # both optimizers are parameters of the training function: the loop clears the decoder's
    # and runs the backward, and nothing steps it
    path, text = variant(tmp_path, "pytorch_tutorial_seq2seq.py", "        decoder_optimizer.step()\n", "")
    assert findings(path) == [("OPT104", row_of(text, "loss.backward()"))]


# --------------------------------------------------------------------------- construction (OPT3xx) variants
def test_shapes_parameters_generator_consumed_before_branches(tmp_path):
    path, text = variant(tmp_path, "shapes_construction.py",
                         "    params = model.parameters()\n    if args.opt",
                         "    params = model.parameters()\n    print(sum(p.numel() for p in params))\n    if args.opt")
    # each branch's optimizer is a second consumer on its own path
    assert findings(path) == [("OPT304", row_of(text, "torch.optim.SGD(params, lr=args.lr, momentum=0.9)")),
                              ("OPT304", row_of(text, "torch.optim.AdamW(params, lr=args.lr)"))]


def test_shapes_cast_of_the_module_the_optimizer_holds_is_silent(tmp_path):
    # a plain cast keeps the Parameter objects the optimizer holds; loading with assign=True does not
    path, text = variant(tmp_path, "shapes_construction.py", "    model.backbone.half()\n", "    model.half()\n")
    assert findings(path) == []
    path, text = variant(tmp_path, "shapes_construction.py", "    model.backbone.half()\n",
                         "    model.load_state_dict(torch.load(args.init), assign=True)\n")
    assert findings(path) == [("OPT305", row_of(text, "model.load_state_dict(torch.load(args.init), assign=True)"))]


def test_shapes_module_given_to_sparse_adam(tmp_path):
    path, text = variant(tmp_path, "shapes_construction.py",
                         "torch.optim.SparseAdam(list(emb.parameters()), lr=1e-3)", "torch.optim.SparseAdam(emb, lr=1e-3)")
    assert findings(path) == [("OPT307", row_of(text, "SparseAdam(emb, lr=1e-3)"))]


def test_shapes_keras_epsilon_for_adadelta(tmp_path):
    path, text = variant(tmp_path, "shapes_construction.py", "rho=0.95, eps=1e-7)", "rho=0.95, epsilon=1e-7)")
    assert findings(path) == [("OPT301", row_of(text, "rho=0.95, epsilon=1e-7)"))]


def test_shapes_keras_rho_for_rmsprop(tmp_path):
    path, text = variant(tmp_path, "shapes_construction.py",
                         "optim.RMSprop(model.parameters(), lr=cfg.lr, alpha=0.9, eps=1e-7)",
                         "optim.RMSprop(model.parameters(), lr=cfg.lr, rho=0.9, eps=1e-7)")
    assert findings(path) == [("OPT301", row_of(text, "rho=0.9, eps=1e-7)"))]


def test_shapes_nesterov_without_momentum(tmp_path):
    path, text = variant(tmp_path, "shapes_construction.py", "momentum=cfg.momentum, nesterov=True)", "nesterov=True)")
    assert findings(path) == [("OPT303", row_of(text, "lr=cfg.lr, nesterov=True)"))]


def test_shapes_provably_nonzero_adam_decay(tmp_path):
    path, text = variant(tmp_path, "shapes_construction.py", "lr=cfg.lr, weight_decay=0)", "lr=cfg.lr, weight_decay=1e-4)")
    assert findings(path) == [("OPT302", row_of(text, "lr=cfg.lr, weight_decay=1e-4)"))]


def test_shapes_groups_backbone_trained_but_left_out(tmp_path):
    path, text = variant(tmp_path, "shapes_groups.py",
                         "        with torch.no_grad():\n            f = self.backbone(x)\n",
                         "        f = self.backbone(x)\n")
    assert findings(path) == [("OPT401", row_of(text, "opt1 = torch.optim.SGD("))]


# --------------------------------------------------------------------------- OPT302 fix: argparse defaults
ARGPARSE_ADAM = """
import argparse
import torch
from torch import nn

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=1e-3)
parser.add_argument("--wd", "--weight-decay", type=float, default=0, dest="weight_decay")
parser.add_argument("--l2", type=float, default=0.0)
parser.add_argument("--decay", type=float, default=5e-4)
args = parser.parse_args()
{extra}
model = nn.Linear(3, 1)
optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.{dest})
"""


@pytest.mark.parametrize("dest", ["weight_decay", "l2"])
def test_adam_decay_from_argparse_option_defaulting_to_zero_is_silent(tmp_path, dest):
    """An option that defaults to no decay: coupled L2 only when the user asks for it on the
    command line (pytorch-cifar-style scripts)."""
    path = tmp_path / "train.py"
    path.write_text(ARGPARSE_ADAM.format(extra="", dest=dest), encoding="utf-8")
    assert findings(path) == []


@pytest.mark.parametrize("extra,dest", [
    ("", "decay"),                                   # default 5e-4
    ("args.l2 = 1e-4\n", "l2"),                      # set in the file
    ("setattr(args, 'l2', 1e-4)\n", "l2"),
    ("parser.set_defaults(l2=1e-4)\n", "l2"),
    ("", "unknown"),                                 # not an option of this file
])
def test_adam_decay_from_argparse_option_not_provably_zero(tmp_path, extra, dest):
    path = tmp_path / "train.py"
    text = ARGPARSE_ADAM.format(extra=extra, dest=dest)
    path.write_text(text, encoding="utf-8")
    # small or unknown values with no sign of AdamW: deliberate L2 by default ...
    assert findings(path) == []
    # ... and not provably zero, which the strict form reports
    (tmp_path / "pyproject.toml").write_text("[tool.optimlint.adam-weight-decay]\nrequire-evidence = false\n")
    assert findings(path) == [("OPT302", row_of(text, "weight_decay=args."))]
