"""The results cache (``.optimlint_cache/``): hits, invalidation, corruption, --no-cache.

Whether a file was linted again is observed by counting calls of ``file_lint.lint_source``
(the runs are serial and in-process with ``--jobs 1``), never by timing.
"""

from __future__ import annotations

import json
import os

import pytest

from conftest import invoke, write
from optimlint import cache as cache_mod
from optimlint import dependencies, file_lint, store

TRAIN = """
    import torch

    def train(model, loader, opt):
        for x, y in loader:
            loss = model(x)
            flag_safe()
            flag_plain()
            loss.backward()
            opt.step()
"""
CLEAN = """
    def helper(x):
        return x + 1
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project with a config (its folder is the root, where the cache goes) and files."""
    write(tmp_path / "pyproject.toml", """
        [tool.optimlint]
        select = ["OPT"]
    """)
    write(tmp_path / "pkg" / "train.py", TRAIN)
    write(tmp_path / "pkg" / "util.py", CLEAN)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def linted(monkeypatch):
    """The list of paths ``lint_source`` was called for, in this test."""
    calls: list[str] = []
    real = file_lint.lint_source

    def counting(path, *args, **kwargs):
        calls.append(os.path.basename(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(file_lint, "lint_source", counting)
    return calls


def check(*args):
    return invoke(["check", "--jobs", "1", *args])


def entries(root) -> list:
    return sorted(p for p in (root / ".optimlint_cache").rglob("*.json"))


def test_second_run_reads_the_cache_and_reports_the_same(project, linted, fake_rules):
    first = check("pkg")
    assert sorted(linted) == ["train.py", "util.py"]
    assert first.exit_code == 1 and "`flag_safe()` is flagged" in first.stdout
    linted.clear()
    stamps = {p: p.stat().st_mtime_ns for p in entries(project)}
    second = check("pkg")
    assert linted == []
    assert {p: p.stat().st_mtime_ns for p in entries(project)} == stamps  # a hit writes nothing
    assert (second.exit_code, second.stdout, second.stderr) == (first.exit_code, first.stdout, first.stderr)


def test_cached_results_are_the_same_in_every_format(project, linted, fake_rules):
    expected = invoke(["check", "--no-cache", "--output-format", "json", "pkg"]).stdout
    check("--output-format", "json", "pkg")
    linted.clear()
    assert check("--output-format", "json", "pkg").stdout == expected
    assert linted == []
    assert json.loads(expected)[0]["fix"]["applicability"] == "safe"


def test_full_output_after_a_concise_run_relints_for_the_excerpts(project, linted, fake_rules):
    """A concise run stores no source excerpts; the full output needs them."""
    check("--output-format", "concise", "pkg")
    linted.clear()
    full = check("pkg")
    assert linted == ["train.py"]  # util.py has no finding: its entry serves every format
    assert full.stdout == invoke(["check", "--no-cache", "pkg"]).stdout


def test_cache_dir_is_in_the_project_root_and_ignored_by_git(project, fake_rules):
    check("pkg")
    base = project / ".optimlint_cache"
    assert (base / ".gitignore").read_text().splitlines()[-1] == "*"
    assert (base / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172789f06886806bc55")
    assert len(entries(project)) == 2


def test_changed_file_is_linted_again(project, linted, fake_rules):
    check("pkg")
    linted.clear()
    path = project / "pkg" / "train.py"
    path.write_text(path.read_text().replace("flag_plain()", "print()"))
    result = check("pkg")
    assert linted == ["train.py"]
    assert "`flag_plain()` is flagged" not in result.stdout and "`flag_safe()` is flagged" in result.stdout


def test_changed_config_lints_again(project, linted, fake_rules):
    check("pkg")
    linted.clear()
    write(project / "pyproject.toml", """
        [tool.optimlint]
        select = ["OPT"]
        ignore = ["OPT107"]
    """)
    result = check("pkg")
    assert sorted(linted) == ["train.py", "util.py"]
    assert "`flag_plain()` is flagged" not in result.stdout
    linted.clear()
    check("--select", "OPT604", "pkg")  # command-line selection is part of the key too
    assert sorted(linted) == ["train.py", "util.py"]


def test_new_optimlint_version_lints_again(project, linted, monkeypatch, fake_rules):
    check("pkg")
    linted.clear()
    import optimlint

    monkeypatch.setattr(optimlint, "__version__", "99.0.0")
    monkeypatch.setattr(store, "_CODE_KEY", None)
    check("pkg")
    assert sorted(linted) == ["train.py", "util.py"]


def test_other_checks_installed_do_not_read_the_shipped_results(project, linted, fake_rules, monkeypatch):
    """Results computed with the fake check installed are not served once it is gone."""
    assert "`flag_safe()` is flagged" in check("pkg").stdout
    from optimlint.checks import base

    monkeypatch.setattr(base, "_CHECKS", [c for c in base._CHECKS if c is not fake_rules])
    linted.clear()
    assert "`flag_safe()` is flagged" not in check("pkg").stdout
    assert sorted(linted) == ["train.py", "util.py"]


@pytest.mark.parametrize("garbage", [b"", b"{not json", b'{"path": 3}', b"\xff\xfe\x00",
                                     b'{"path": "pkg/train.py", "hash": "x"}', b"[]"])
def test_corrupt_entries_are_ignored(project, linted, fake_rules, garbage):
    first = check("pkg")
    for entry in entries(project):
        entry.write_bytes(garbage)
    linted.clear()
    again = check("pkg")
    assert sorted(linted) == ["train.py", "util.py"]
    assert (again.exit_code, again.stdout) == (first.exit_code, first.stdout)
    linted.clear()
    check("pkg")  # the entries were rewritten
    assert linted == []


def test_entry_with_a_wrong_result_shape_is_ignored(project, linted, fake_rules):
    check("pkg")
    for entry in entries(project):
        data = json.loads(entry.read_text())
        data["result"]["diagnostics"] = [{"c": "OPT604"}]
        entry.write_text(json.dumps(data))
    linted.clear()
    result = check("pkg")
    assert sorted(linted) == ["train.py", "util.py"]
    assert result.exit_code == 1 and "`flag_safe()` is flagged" in result.stdout


def test_no_cache_writes_nothing(project, linted, fake_rules):
    result = invoke(["check", "--no-cache", "--jobs", "1", "pkg"])
    assert result.exit_code == 1
    assert not (project / ".optimlint_cache").exists()


def test_no_cache_does_not_read_it_either(project, linted, fake_rules):
    check("pkg")
    linted.clear()
    invoke(["check", "--no-cache", "--jobs", "1", "pkg"])
    assert sorted(linted) == ["train.py", "util.py"]


@pytest.mark.parametrize("mode", ["--fix", "--diff"])
def test_fix_and_diff_runs_neither_read_nor_write(project, linted, fake_rules, mode):
    check("pkg")
    linted.clear()
    invoke(["check", "--jobs", "1", mode, "pkg"])
    assert "train.py" in linted and "util.py" in linted
    if mode == "--fix":
        assert "fixed_safe()" in (project / "pkg" / "train.py").read_text()
        linted.clear()
        result = check("pkg")  # the fixed file's new content is not in the cache
        assert "train.py" in linted and "`flag_safe()` is flagged" not in result.stdout


def test_unwritable_cache_dir_is_not_an_error(project, fake_rules):
    (project / ".optimlint_cache").write_text("a file where the folder should be")
    result = check("pkg")
    assert result.exit_code == 1 and "`flag_safe()` is flagged" in result.stdout and result.stderr == ""


def test_internal_errors_are_not_cached(project, linted, fake_rules, monkeypatch):
    real_run = fake_rules.run
    state = {"fail": True}

    def run(self, ctx):
        if state["fail"]:
            raise RuntimeError("bug")
        return real_run(self, ctx)

    monkeypatch.setattr(fake_rules, "run", run)
    assert check("pkg").exit_code == 2
    state["fail"] = False
    linted.clear()
    result = check("pkg")
    assert linted == ["train.py"] and result.exit_code == 1


def test_a_changed_dependency_invalidates_the_entry(tmp_path):
    """Files another file's lint read (cross-file resolution) are part of its key."""
    from optimlint.results import FileResult

    dep = write(tmp_path / "models.py", "class Net: pass\n")
    cache = cache_mod.Cache(str(tmp_path), "settings")
    result = FileResult("train.py")
    with dependencies.recording() as deps:
        dependencies.record_dependency(str(dep))
    assert deps == {str(dep)}
    cache.put("train.py", "h1", result, deps)
    assert cache.get("train.py", "h1", True) == result
    assert cache.get("train.py", "h2", True) is None
    dep.write_text("class Net:\n    x = 1\n")
    assert cache.get("train.py", "h1", True) is None
    dep.unlink()
    assert cache.get("train.py", "h1", True) is None


def test_stale_builds_are_pruned(tmp_path, monkeypatch):
    from optimlint.results import FileResult

    old = tmp_path / ".optimlint_cache" / "0.0.1-deadbeef" / "abc"
    recent = tmp_path / ".optimlint_cache" / "0.0.2-feedface" / "abc"
    for d in (old, recent):
        d.mkdir(parents=True)
        (d / "x.json").write_text("{}")
    os.utime(old, (1, 1))
    os.utime(old.parent, (1, 1))
    cache_mod.Cache(str(tmp_path), "s").put("a.py", "h", FileResult("a.py"))
    assert not old.parent.exists() and recent.exists()


def test_editing_a_model_file_in_the_project_invalidates_the_training_script(tmp_path, monkeypatch):
    """OPT401 reads the model's class from another project file: when that file changes, the
    cached result of the training script must not be served."""
    write(tmp_path / "pyproject.toml", """
        [tool.optimlint]
        select = ["OPT401"]
    """)
    write(tmp_path / "models.py", """
        from torch import nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.backbone = nn.Linear(4, 4)
                self.neck = nn.Linear(4, 4)
                self.head = nn.Linear(4, 2)

            def forward(self, x):
                return self.head(self.neck(self.backbone(x)))
    """)
    write(tmp_path / "train.py", """
        import torch
        from models import Net

        model = Net()
        optimizer = torch.optim.SGD([
            {"params": model.backbone.parameters(), "lr": 0.01},
            {"params": model.neck.parameters()},
        ], lr=0.1)
    """)
    monkeypatch.chdir(tmp_path)
    first = check("--output-format", "concise", "train.py")
    assert "OPT401" in first.stdout and "`model.head`" in first.stdout
    models = (tmp_path / "models.py").read_text()
    models = models.replace("        self.head = nn.Linear(4, 2)\n", "").replace("self.head(", "(")
    (tmp_path / "models.py").write_text(models)
    second = check("--output-format", "concise", "train.py")
    assert "OPT401" not in second.stdout, second.stdout
    assert second.exit_code == 0
