"""Module lookups (which file an import names) hold for one engine run, not for one file:
a file created between two runs is found by the second (watch mode, the language server)."""

from __future__ import annotations

from conftest import cli_codes, write


LOOP = """
from helpers import Net, SGDW
model = Net()
updater = SGDW(model.parameters(), lr=0.1)
for x, y in data:
    loss = model(x).sum()
    loss.backward()
    updater.step()
"""

HELPERS = """
import torch
class Net(torch.nn.Module):
    pass
class SGDW(torch.optim.SGD):
    pass
"""


def test_a_module_created_between_two_runs_is_found_by_the_second(tmp_path):
    write(tmp_path / "train.py", LOOP)
    write(tmp_path / "other.py", LOOP)
    # ``helpers`` does not exist yet: ``updater`` is nothing known, no OPT101
    assert cli_codes(tmp_path, ".", "OPT101") == []
    write(tmp_path / "helpers.py", HELPERS)
    # the same process, a new run: the project's optimizer class is read, in both files
    assert cli_codes(tmp_path, ".", "OPT101") == [("OPT101", 6), ("OPT101", 6)]
