"""The VS Code extension (``editors/vscode``) installs its dependencies from the npm registry
and packages into a ``.vsix`` with ``@vscode/vsce``, as the README says to build it; the
package holds the extension, its manifest and the language client it runs."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXTENSION = ROOT / "editors" / "vscode"
NPM = shutil.which("npm")

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(NPM is None, reason="npm (Node 20+) is not installed")]


def test_the_extension_packages_into_a_vsix(tmp_path):
    work = tmp_path / "vscode"
    shutil.copytree(EXTENSION, work, ignore=shutil.ignore_patterns("node_modules", "*.vsix", "package-lock.json"))
    install = subprocess.run([NPM, "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=work,
                             capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr
    package = subprocess.run([NPM, "run", "package"], cwd=work, capture_output=True, text=True, timeout=300)
    assert package.returncode == 0, package.stdout + package.stderr
    assert "DONE  Packaged: optimlint.vsix" in package.stdout

    with zipfile.ZipFile(work / "optimlint.vsix") as vsix:
        names = set(vsix.namelist())
        manifest = json.loads(vsix.read("extension/package.json"))
        assert vsix.read("extension/extension.js") == (EXTENSION / "extension.js").read_bytes()
        vsixmanifest = vsix.read("extension.vsixmanifest").decode()
    assert manifest["main"] == "./extension.js"
    assert manifest["activationEvents"] == ["onLanguage:python", "onNotebook:jupyter-notebook"]
    assert set(manifest["contributes"]["configuration"]["properties"]) == {"optimlint.path", "optimlint.runtimeReport"}
    assert "extension/node_modules/vscode-languageclient/node.js" in names  # the client ships inside
    assert not any(n.startswith("extension/node_modules/@vscode/vsce") for n in names)  # the packager does not
    assert 'Id="optimlint"' in vsixmanifest and 'Publisher="optimlint"' in vsixmanifest

    # the extension's code is valid JavaScript and its language client resolves from where it runs
    # (loading it needs the `vscode` module, which only VS Code provides)
    check = subprocess.run(["node", "--check", "extension.js"], cwd=work, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    resolve = subprocess.run(["node", "-e", "console.log(require.resolve('vscode-languageclient/node'))"],
                             cwd=work, capture_output=True, text=True)
    assert resolve.stdout.strip() == str(work / "node_modules" / "vscode-languageclient" / "node.js"), resolve.stderr
