"""A string's method is no call that could clear or step: ``args.optimizer.lower()`` in a
training script that picks its optimizer class by name (diffusers' DreamBooth scripts) was an
opaque call on something named like an optimizer, between the optimizer's constructions, and
excused a loop whose step was lost (main manifest: 5 delete-step mutants). An unknown method of
the same object stays opaque."""

from __future__ import annotations


from tests.conftest import codes_at

NAMED = """\
import torch


def main(args, model, batches):
    if args.optimizer.lower() == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
    else:
        if args.optimizer.lower() != "adamw":
            print("unknown optimizer, using AdamW")
        optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    for x, y in batches:
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.zero_grad()
"""


def test_opt104_a_string_method_on_an_argument_named_optimizer_steps_nothing():
    assert codes_at(NAMED, ["OPT104"]) == [("OPT104", 13)]


def test_opt104_an_unknown_method_of_the_argument_stays_opaque():
    src = NAMED.replace('if args.optimizer.lower() != "adamw":', "if args.optimizer.configure(model):")
    assert codes_at(src, ["OPT104"]) == []
