"""pytest plugin, registered by entry point; inert unless ``--optimlint`` is given.

This module imports neither torch nor the monitor at import time: with the options absent
nothing but the two options exists. ``--optimlint`` installs the runtime companion for the
whole session (before collection, so module-level imports see the wrapped functions),
attributes each observation to the test that triggered it, and prints a report section in
the terminal summary. ``--optimlint-strict`` (implies ``--optimlint``) fails the session
when a finding is confirmed.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser):
    group = parser.getgroup("optimlint")
    group.addoption("--optimlint", action="store_true", default=False,
                    help="instrument torch.optim during the session and report training-loop mistakes")
    group.addoption("--optimlint-strict", action="store_true", default=False,
                    help="fail the session when a finding is confirmed at runtime")


def pytest_configure(config):
    if not (config.getoption("optimlint", False) or config.getoption("optimlint_strict", False)):
        return
    try:
        import torch  # noqa: F401
    except ImportError:
        raise pytest.UsageError("--optimlint needs PyTorch: pip install 'optimlint[runtime]'") from None
    config.pluginmanager.register(OptimlintSession(config), "optimlint-session")


class OptimlintSession:
    """The instrumented session: one monitor from configure to session finish."""

    def __init__(self, config):
        from optimlint.runtime.monitor import Monitor

        self.config = config
        self.strict = bool(config.getoption("optimlint_strict", False))
        self.monitor = Monitor()
        self.monitor.install()
        self.files: list[str] = []
        self.diagnostics: list | None = None

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item, nextitem):
        self.monitor.nodeid = item.nodeid
        path = str(getattr(item, "path", None) or item.fspath)
        if path not in self.files:
            self.files.append(path)
        try:
            yield
        finally:
            self.monitor.flush()
            self.monitor.nodeid = None

    def _finish(self):
        if self.diagnostics is not None:
            return
        self.monitor.uninstall()
        report = self.monitor.finalize()
        from optimlint.runtime.report import joined_report

        try:
            self.diagnostics = joined_report(report, self.files)
        except Exception as exc:  # the session's result must not depend on the report
            report.errors.append(f"join: {type(exc).__name__}: {exc}")
            from optimlint.runtime.join import join

            self.diagnostics = join([], report.findings, report.sites)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session, exitstatus):
        self._finish()
        from optimlint.runtime.report import confirmed

        if self.strict and confirmed(self.diagnostics) and session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter, exitstatus, config):
        self._finish()
        from optimlint.runtime.report import confirmed, text_lines

        tr = terminalreporter
        tr.write_sep("=", "optimlint runtime report")
        for line in text_lines(self.diagnostics, self.monitor.report.errors, self.monitor.report.rank):
            tr.write_line(line)
        if self.strict and confirmed(self.diagnostics):
            tr.write_line("optimlint: --optimlint-strict: failing the session on confirmed findings")

    def pytest_unconfigure(self, config):
        if self.monitor.installed:
            self.monitor.uninstall()
