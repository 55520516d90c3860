"""The language server is an extra: without pygls, `optimlint server` says how to install
it (exit 2, no traceback), and nothing else needs pygls or imports it."""

from __future__ import annotations

import subprocess
import sys
import textwrap

WITHOUT_PYGLS = textwrap.dedent("""
    import sys

    class NoPygls:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("pygls", "lsprotocol"):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, NoPygls())
    from optimlint.cli import main
    main(sys.argv[1:])
""")


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", WITHOUT_PYGLS, *args], capture_output=True, text=True, timeout=120)


def test_server_without_pygls_says_how_to_install_it():
    proc = run("server")
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        2, "", "error: `optimlint server` needs pygls: pip install 'optimlint[server]'\n")


def test_check_and_stdin_do_not_need_pygls(tmp_path):
    path = tmp_path / "ok.py"
    path.write_text("x = 1\n")
    assert run("check", "--no-cache", str(path)).returncode == 0
    proc = subprocess.run([sys.executable, "-c", WITHOUT_PYGLS, "check", "--stdin-filename", "a.py", "-"],
                          input="y = 2\n", capture_output=True, text=True, timeout=120)
    assert (proc.returncode, proc.stdout) == (0, "All checks passed!\n")
