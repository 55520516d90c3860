"""The real pre-commit, installing this project as a hook repository (``pre-commit try-repo``).

Slow (pre-commit builds the project into its own virtualenv, from PyPI), so the hook
repository and pre-commit's environment are built once for the module.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


def _git(*args, cwd):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)


def _env(home: Path) -> dict:
    env = dict(os.environ)
    env.update({
        "PRE_COMMIT_HOME": str(home),
        "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
        "NO_COLOR": "1",
    })
    env.pop("GIT_DIR", None)
    env.pop("GIT_INDEX_FILE", None)
    return env


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory):
    """A git repository holding this checkout's files (committed), as pre-commit wants."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path_factory.mktemp("hookrepo")
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                            cwd=ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = ROOT / rel
        if src.is_file():
            dst = repo / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    env = _env(tmp_path_factory.mktemp("pc_home"))
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True, env=env)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True, env=env)
    subprocess.run(["git", "-c", "commit.gpgsign=false", "commit", "-qm", "snapshot"], cwd=repo, check=True,
                   env=env)
    return repo, env


def _user_repo(tmp_path, env, files: dict[str, str]) -> Path:
    user = tmp_path / "user"
    user.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=user, check=True, env=env)
    for name, text in files.items():
        path = user / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    subprocess.run(["git", "add", "-A"], cwd=user, check=True, env=env)
    return user


def _try_repo(hook_repo, user: Path, hook: str):
    repo, env = hook_repo
    return subprocess.run([sys.executable, "-m", "pre_commit", "try-repo", str(repo), hook, "--color", "never"],
                          cwd=user, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=900)


BAD = "import torch.optim\n\ndef train(:\n    pass\n"


def test_hook_fails_on_bad_file(hook_repo, tmp_path):
    user = _user_repo(tmp_path, hook_repo[1], {"train.py": BAD})
    proc = _try_repo(hook_repo, user, "optimlint")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "optimlint" in out and "Failed" in out
    assert "train.py:3:11: OPT000 SyntaxError: invalid syntax" in out


def test_hook_passes_on_clean_file(hook_repo, tmp_path):
    user = _user_repo(tmp_path, hook_repo[1], {"ok.py": "import torch\n\nx = torch.zeros(1)\n"})
    proc = _try_repo(hook_repo, user, "optimlint")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Passed" in proc.stdout


def test_commit_without_python_files_passes(hook_repo, tmp_path):
    user = _user_repo(tmp_path, hook_repo[1], {"README.md": "# hello\n", "data.json": "{}\n"})
    for hook in ("optimlint", "optimlint-fix"):
        proc = _try_repo(hook_repo, user, hook)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "(no files to check)Skipped" in proc.stdout


def test_force_exclude_skips_excluded_staged_file(hook_repo, tmp_path):
    user = _user_repo(tmp_path, hook_repo[1], {"build/gen.py": BAD, "ok.py": "x = 1\n"})
    proc = _try_repo(hook_repo, user, "optimlint")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_readme_snippet_pinned_to_a_commit(hook_repo, tmp_path):
    """The README's pre-commit snippet works as written once its placeholders are filled: no
    release is tagged, so ``rev`` is a commit SHA, which pre-commit accepts."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(repos:\n.*?)```", readme, re.S).group(1)
    assert re.search(r"^\s+rev: [0-9a-f]{40}\s", block, re.M), "the snippet's rev must be a commit SHA"
    assert "v0.1.0" not in block.split("hooks:")[0]  # a tag that does not exist
    repo, env = hook_repo
    sha = _git("rev-parse", "HEAD", cwd=repo).stdout.strip()
    config = re.sub(r"(repo: )\S+", lambda m: m.group(1) + str(repo), block)
    config = re.sub(r"(rev: )\S+", lambda m: m.group(1) + sha, config)
    user = _user_repo(tmp_path, env, {"train.py": BAD, ".pre-commit-config.yaml": config})
    proc = subprocess.run([sys.executable, "-m", "pre_commit", "run", "--all-files", "--color", "never"],
                          cwd=user, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "train.py:3:11: OPT000 SyntaxError: invalid syntax" in out
