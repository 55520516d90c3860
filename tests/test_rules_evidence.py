"""OPT302 speaks only where the code shows decoupled decay (AdamW) was meant; the
``[tool.optimlint.adam-weight-decay]`` table restores the strict form."""

from __future__ import annotations

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
