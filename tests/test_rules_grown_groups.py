"""An optimizer built from a list of parameter groups that starts empty and is grown in place
(``groups.append(group)``, ``groups.extend([...])``, a group dict whose ``"params"`` is set by
subscript, a parameter list filled from ``named_parameters()`` in a loop): the modules those
parameters come from tell that ``model.zero_grad()`` clears that optimizer, as when the groups
are written as one literal. Must-fire cases and silent twins, in the project's own words."""

from __future__ import annotations

from tests.conftest import codes_at

# A trainer whose groups are assembled before the optimizer is built; the clearing was moved
# to the top of the micro-batch loop, so each windowed step sees only the last micro-batch.
GROWN_GROUPS = """\
import torch


def fit(model, loader, extra_groups, accumulate, decay_names):
    groups = []
    seen = set()
    for spec in extra_groups:
        names = spec.pop("names")
        seen.update(names)
        group = {**spec}
        group["params"] = [p for n, p in model.named_parameters() if n in names]
        groups.append(group)
    decayed = []
    for n, p in model.named_parameters():
        if n not in seen and n in decay_names:
            decayed.append(p)
    groups.append({"params": decayed, "weight_decay": 0.01})
    groups.extend([{"params": [p for n, p in model.named_parameters() if n not in seen and n not in decay_names],
                    "weight_decay": 0.0}])
    optimizer = torch.optim.AdamW(groups, lr=1e-4)
    for i, batch in enumerate(loader):
        model.zero_grad()
        loss = model(batch).mean() / accumulate
        loss.backward()
        if (i + 1) % accumulate == 0:
            optimizer.step()
"""


def test_a_module_cleared_every_micro_batch_clears_its_grown_groups_optimizer():
    assert codes_at(GROWN_GROUPS, ["OPT106"]) == [("OPT106", 22)]


def test_groups_grown_with_plus_equals_are_read_the_same():
    src = GROWN_GROUPS.replace("    groups.extend([{", "    groups += [{").replace(
        '"weight_decay": 0.0}])', '"weight_decay": 0.0}]')
    assert codes_at(src, ["OPT106"]) == [("OPT106", 22)]


def test_the_clearing_after_the_windowed_step_is_right():
    src = GROWN_GROUPS.replace("        model.zero_grad()\n", "").replace(
        "            optimizer.step()\n", "            optimizer.step()\n            model.zero_grad()\n")
    assert codes_at(src, ["OPT106"]) == []


def test_a_group_of_another_module_leaves_the_clearing_partial():
    # the head's parameters are in the optimizer too: clearing `model` clears only part of it
    src = GROWN_GROUPS.replace("    optimizer = torch.optim.AdamW(",
                               "    groups.append({\"params\": head.parameters()})\n"
                               "    optimizer = torch.optim.AdamW(").replace(
        "def fit(model,", "def fit(model, head,")
    assert codes_at(src, ["OPT106"]) == []


def test_a_group_from_a_config_list_is_unknown():
    # an element appended from outside (a config's groups) may hold any parameters
    src = GROWN_GROUPS.replace("    groups.append({\"params\": decayed",
                               "    groups.extend(extra_params)\n    groups.append({\"params\": decayed").replace(
        "def fit(model,", "def fit(extra_params, model,")
    assert codes_at(src, ["OPT106"]) == []


def test_a_group_whose_params_come_from_another_module_is_unknown():
    src = GROWN_GROUPS.replace(
        'group["params"] = [p for n, p in model.named_parameters() if n in names]',
        'group["params"] = [p for n, p in encoder.named_parameters() if n in names]').replace(
        "def fit(model,", "def fit(encoder, model,")
    assert codes_at(src, ["OPT106"]) == []


def test_a_list_stored_into_by_index_is_unknown():
    src = GROWN_GROUPS.replace("    optimizer = torch.optim.AdamW(",
                               "    groups[0] = frozen_group\n    optimizer = torch.optim.AdamW(").replace(
        "def fit(model,", "def fit(frozen_group, model,")
    assert codes_at(src, ["OPT106"]) == []
