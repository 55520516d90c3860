"""A real editor: headless Neovim (Debian's ``neovim``, installed by .ci/run) configured with
the README's Neovim snippet starts ``optimlint server`` on a Python buffer; the diagnostics
are read back through Neovim's own API, before and after an edit made in the buffer."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import TRAIN_OPT102_MESSAGE, TRAIN_OPT301_MESSAGE, TRAIN_TWO_FINDINGS as TRAIN, write

ROOT = Path(__file__).resolve().parent.parent
NVIM = shutil.which("nvim")
pytestmark = pytest.mark.skipif(
    NVIM is None, reason="Neovim is not installed here (`apt-get install neovim`, as .ci/run does, "
                         "needs root and Debian's package registry)")

# Runs after the README's configuration: wait for the server's diagnostics, record them,
# change `learning_rate` to `lr` in the buffer (not on disk), wait again, record, quit.
PROBE = r"""
local out = {}
local function snapshot()
  local items = {}
  for _, d in ipairs(vim.diagnostic.get(0)) do
    local lsp = d.user_data and d.user_data.lsp or {}
    table.insert(items, { code = d.code or lsp.code, lnum = d.lnum, col = d.col, end_lnum = d.end_lnum,
                          end_col = d.end_col, severity = d.severity, source = d.source, message = d.message })
  end
  table.sort(items, function(a, b) return a.lnum < b.lnum end)
  return items
end
local function settle(count)
  return vim.wait(60000, function() return #vim.diagnostic.get(0) == count end, 50)
end
out.first_ok = settle(2)
out.clients = #vim.lsp.get_active_clients()
out.first = snapshot()
local line = vim.api.nvim_buf_get_lines(0, 4, 5, false)[1]
local s, e = line:find("learning_rate", 1, true)
vim.api.nvim_buf_set_text(0, 4, s - 1, 4, e, { "lr" })
out.second_ok = settle(1)
out.second = snapshot()
out.name = vim.lsp.get_active_clients()[1].name
vim.fn.writefile({ vim.fn.json_encode(out) }, vim.env.OPTIMLINT_PROBE_OUT)
vim.cmd("qa!")
"""


def readme_neovim_config() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("**Neovim**"):]
    return re.search(r"```lua\n(.*?)```", section, re.S).group(1)


def test_neovim_shows_the_servers_diagnostics_and_updates_them_after_an_edit(tmp_path):
    project = tmp_path / "project"
    write(project / "pyproject.toml", '[tool.optimlint]\nselect = ["OPT1", "OPT3"]\n')
    write(project / "train.py", TRAIN)
    write(tmp_path / "init.lua", "vim.cmd('filetype on')\n" + readme_neovim_config())
    write(tmp_path / "probe.lua", PROBE)
    out = tmp_path / "out.json"
    env = dict(os.environ, OPTIMLINT_PROBE_OUT=str(out), HOME=str(tmp_path), XDG_STATE_HOME=str(tmp_path / "state"),
               XDG_DATA_HOME=str(tmp_path / "data"), XDG_CONFIG_HOME=str(tmp_path / "config"),
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    proc = subprocess.run([NVIM, "--headless", "-n", "-i", "NONE", "-u", str(tmp_path / "init.lua"), "train.py",
                           "-c", f"luafile {tmp_path / 'probe.lua'}"],
                          cwd=project, env=env, capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
    assert out.exists(), proc.stdout + proc.stderr
    result = json.loads(out.read_text())
    assert (result["clients"], result["name"], result["first_ok"], result["second_ok"]) == (1, "optimlint", True, True)
    warn = 2  # vim.diagnostic.severity.WARN
    opt301 = {"code": "OPT301", "lnum": 4, "col": 47, "end_lnum": 4, "end_col": 60, "severity": warn,
              "source": "optimlint", "message": TRAIN_OPT301_MESSAGE}
    opt102 = {"code": "OPT102", "lnum": 8, "col": 8, "end_lnum": 8, "end_col": 23, "severity": warn,
              "source": "optimlint", "message": TRAIN_OPT102_MESSAGE}
    assert result["first"] == [opt301, opt102]
    assert result["second"] == [opt102]  # the unsaved edit was linted
    assert (project / "train.py").read_text() == TRAIN
