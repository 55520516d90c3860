"""``--jobs``: many files in worker processes, results in input order, failures per file."""

from __future__ import annotations

import os

import pytest

from conftest import invoke, write
from optimlint import parallel
from optimlint.config import Settings
from optimlint.engine import run
from optimlint.results import RunOptions

TEMPLATE = """
    def step_{i}(model, batch):
        flag_safe()
        {extra}
        return model(batch)
"""


@pytest.fixture
def tree(tmp_path, monkeypatch):
    """Twelve files of different sizes, some with findings, one that does not parse."""
    for i in range(12):
        extra = "flag_plain()\n" + "        x = 1\n" * (i * 40) if i % 3 == 0 else "pass"
        write(tmp_path / "src" / f"mod_{i:02d}.py", TEMPLATE.format(i=i, extra=extra))
    write(tmp_path / "src" / "mod_05.py", "def broken(:\n    flag_safe()\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def force_pool(monkeypatch):
    """Use the pool even for these small files."""
    monkeypatch.setattr(parallel, "MIN_FILES", 2)
    monkeypatch.setattr(parallel, "MIN_CANDIDATE_BYTES", 0)


@pytest.fixture
def pool_used(monkeypatch):
    used = []
    real = parallel.lint_in_pool

    def spy(paths, *args, **kwargs):
        used.append(len(paths))
        return real(paths, *args, **kwargs)

    monkeypatch.setattr(parallel, "lint_in_pool", spy)
    return used


def shape(result):
    return [(f.path, [(d.code, d.location.row, d.message) for d in f.diagnostics], f.error)
            for f in result.files]


def test_pool_results_equal_serial_results_in_input_order(tree, fake_rules, force_pool, pool_used):
    settings = Settings(root=str(tree))
    serial = run(["src"], settings, RunOptions(jobs=1, cache=False))
    assert pool_used == []
    pooled = run(["src"], settings, RunOptions(jobs=2, cache=False))
    assert pool_used == [12]
    assert shape(pooled) == shape(serial)
    assert [f.path for f in pooled.files] == sorted(f.path for f in pooled.files)
    codes = {os.path.basename(f.path): [d.code for d in f.diagnostics] for f in pooled.files}
    assert codes["mod_05.py"] == ["OPT000"]
    assert codes["mod_03.py"] == ["OPT604", "OPT107"]
    assert codes["mod_04.py"] == ["OPT604"]


def test_pool_keeps_excerpts_and_fixes(tree, fake_rules, force_pool, pool_used):
    settings = Settings(root=str(tree))
    pooled = run(["src"], settings, RunOptions(jobs=3, cache=False))
    f = next(f for f in pooled.files if f.path.endswith("mod_04.py"))
    assert f.diagnostics[0].fix.edits[0].content == "fixed_safe"
    assert f.excerpts[0].lines[f.diagnostics[0].location.row - f.excerpts[0].first_row].strip() == "flag_safe()"


def test_cli_jobs_output_is_identical(tree, fake_rules, force_pool, pool_used):
    one = invoke(["check", "--no-cache", "--jobs", "1", "src"])
    two = invoke(["check", "--no-cache", "--jobs", "2", "src"])
    assert pool_used == [12]
    assert (two.exit_code, two.stdout, two.stderr) == (one.exit_code, one.stdout, one.stderr)
    assert one.exit_code == 1 and "OPT000" in one.stdout


def test_pool_fills_the_cache_and_reads_it(tree, fake_rules, force_pool, pool_used):
    first = invoke(["check", "--jobs", "2", "src"])
    assert pool_used == [12]
    second = invoke(["check", "--jobs", "2", "src"])
    assert pool_used == [12]  # everything came from the cache: no pool the second time
    assert second.stdout == first.stdout


def test_fix_in_the_pool_writes_files(tree, fake_rules, force_pool, pool_used):
    result = invoke(["check", "--no-cache", "--jobs", "2", "--fix", "src"])
    assert pool_used == [12]
    assert "fixed_safe()" in (tree / "src" / "mod_04.py").read_text()
    assert "flag_safe" in (tree / "src" / "mod_05.py").read_text()  # does not parse: untouched
    assert result.exit_code == 1


def test_few_files_stay_serial(tree, fake_rules, pool_used):
    """Without forcing, twelve tiny files are not worth a pool."""
    result = run(["src"], Settings(root=str(tree)), RunOptions(jobs=2, cache=False))
    assert pool_used == [] and len(result.files) == 12


def test_worth_a_pool():
    assert not parallel.worth_a_pool(1, 1000, 10**9, 10**9)  # --jobs 1: always serial
    assert not parallel.worth_a_pool(8, 1, 10**9, 10**9)  # one file
    assert not parallel.worth_a_pool(8, 100, 1000, 10_000)  # little work
    assert parallel.worth_a_pool(2, 100, parallel.MIN_CANDIDATE_BYTES, 0)
    assert parallel.worth_a_pool(2, 100, 0, parallel.MIN_TOTAL_BYTES)


def test_default_jobs_is_the_number_of_usable_cpus():
    assert RunOptions().jobs is None
    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert parallel.default_jobs() == expected


def test_a_worker_that_dies_fails_only_its_file(tree, fake_rules, force_pool, monkeypatch):
    """A crash in a worker (native code, out of memory) is a per-file error, never a traceback."""
    real_run = fake_rules.run

    def run_or_die(self, ctx):
        if "die_here" in ctx.source:
            os._exit(3)
        return real_run(self, ctx)

    monkeypatch.setattr(fake_rules, "run", run_or_die)
    write(tree / "src" / "mod_07.py", "def f():\n    flag_safe()\n    die_here()\n")
    result = invoke(["check", "--no-cache", "--jobs", "2", "--output-format", "concise", "src"])
    assert result.exit_code == 2
    assert "error: src/mod_07.py: internal error: the worker process linting this file stopped " \
           "unexpectedly" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert "src/mod_04.py:2:5: OPT604" in result.stdout  # the other files are reported
    assert "mod_07.py:" not in result.stdout


def test_an_exception_in_a_worker_is_a_file_error(tree, fake_rules, force_pool, monkeypatch):
    real_run = fake_rules.run

    def run_or_raise(self, ctx):
        if "raise_here" in ctx.source:
            raise RuntimeError("boom")
        return real_run(self, ctx)

    monkeypatch.setattr(fake_rules, "run", run_or_raise)
    write(tree / "src" / "mod_08.py", "def f():\n    flag_safe()\n    raise_here()\n")
    result = invoke(["check", "--no-cache", "--jobs", "2", "--output-format", "concise", "src"])
    assert result.exit_code == 2
    assert "error: src/mod_08.py: internal error: RuntimeError: boom" in result.stderr
    assert "src/mod_04.py:2:5: OPT604" in result.stdout


def test_progress_counts_every_file_once(tree, fake_rules, force_pool):
    seen = []
    run(["src"], Settings(root=str(tree)), RunOptions(jobs=2, cache=False),
        progress=lambda done, total: seen.append((done, total)))
    assert seen == [(i, 12) for i in range(1, 13)]
