"""pytest plugin, registered by entry point; inert unless enabled.

This module imports neither torch nor the monitor at import time: with the options absent
nothing but the options exists. ``--optimlint`` (or ``optimlint = true`` in the ini file)
installs the runtime companion for the whole session (before collection, so module-level
imports see the wrapped functions), attributes each observation to the test that triggered
it (end-of-session checks too: to the test that built the optimizer or scheduler), and prints
a report section in the terminal summary. ``--optimlint-strict`` (``optimlint_strict``)
fails the session when a finding is confirmed, naming the tests; ``--optimlint-report FILE``
(``optimlint_report``) writes the JSON report.

Under pytest-xdist every worker watches its own tests and hands its observations to the
controller (``workeroutput``), which joins them into the one report, with the strict exit
status decided there.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser):
    group = parser.getgroup("optimlint")
    group.addoption("--optimlint", action="store_true", default=None,
                    help="instrument torch.optim during the session and report training-loop mistakes")
    group.addoption("--optimlint-strict", action="store_true", default=None,
                    help="fail the session when a finding is confirmed at runtime (implies --optimlint)")
    group.addoption("--optimlint-report", metavar="FILE", default=None,
                    help="also write the runtime report as JSON to FILE (implies --optimlint)")
    parser.addini("optimlint", type="bool", default=False, help="instrument torch.optim (as --optimlint)")
    parser.addini("optimlint_strict", type="bool", default=False, help="as --optimlint-strict")
    parser.addini("optimlint_report", default="", help="as --optimlint-report FILE")


def _settings(config):
    strict = config.getoption("optimlint_strict") or config.getini("optimlint_strict")
    report = config.getoption("optimlint_report") or config.getini("optimlint_report") or None
    enabled = config.getoption("optimlint") or config.getini("optimlint") or strict or bool(report)
    return bool(enabled), bool(strict), report


def pytest_configure(config):
    enabled, strict, report = _settings(config)
    if not enabled:
        return
    try:
        import torch  # noqa: F401
    except ImportError:
        raise pytest.UsageError("--optimlint needs PyTorch: pip install 'optimlint[runtime]'") from None
    controller = config.pluginmanager.hasplugin("dsession") or _is_xdist_controller(config)
    config.pluginmanager.register(OptimlintSession(config, strict, report, watch=not controller),
                                  "optimlint-session")


def _is_xdist_controller(config) -> bool:
    """True in the process that distributes tests to xdist workers (it runs none itself)."""
    if hasattr(config, "workerinput"):
        return False
    try:
        return bool(config.getoption("numprocesses", None)) or bool(config.getoption("dist", "no") != "no")
    except ValueError:
        return False


class OptimlintSession:
    """The instrumented session: one monitor from configure to session finish (none in an
    xdist controller, which merges its workers' reports instead)."""

    def __init__(self, config, strict, report_path, watch=True):
        from optimlint.runtime.observations import RuntimeReport

        self.config = config
        self.strict = strict
        self.report_path = report_path
        self.monitor = None
        self.report = RuntimeReport()
        if watch:
            from optimlint.runtime.monitor import Monitor

            self.monitor = Monitor(self.report)
            self.monitor.install()
        self.files: list[str] = []
        self.diagnostics: list | None = None

    # ------------------------------------------------------------------ workers
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item, nextitem):
        if self.monitor is None:
            yield
            return
        self.monitor.nodeid = item.nodeid
        path = str(getattr(item, "path", None) or item.fspath)
        if path not in self.files:
            self.files.append(path)
        try:
            yield
        finally:
            self.monitor.flush()
            self.monitor.nodeid = None

    def _stop(self):
        if self.monitor is not None and self.monitor.installed:
            self.monitor.uninstall()
            self.monitor.finalize()

    # ------------------------------------------------------------------ controller (xdist)
    def pytest_testnodedown(self, node, error):
        from optimlint.runtime.observations import RuntimeReport

        data = getattr(node, "workeroutput", {}).get("optimlint")
        if data:
            self.report.merge(RuntimeReport.from_dict(data["report"]))
            for path in data.get("files", ()):
                if path not in self.files:
                    self.files.append(path)

    # ------------------------------------------------------------------ the end
    def _finish(self):
        if self.diagnostics is not None:
            return
        self._stop()
        from optimlint.runtime.report import joined_report

        try:
            self.diagnostics = joined_report(self.report, self.files)
        except Exception as exc:  # the session's result must not depend on the report
            self.report.errors.append(f"join: {type(exc).__name__}: {exc}")
            from optimlint.runtime.join import join

            self.diagnostics = join([], self.report.findings, self.report.sites)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session, exitstatus):
        if hasattr(self.config, "workerinput"):
            # an xdist worker: hand the observations to the controller, which reports
            self._stop()
            self.config.workeroutput["optimlint"] = {"report": self.report.to_dict(), "files": self.files}
            return
        self._finish()
        from optimlint.runtime.report import confirmed

        if self.report_path:
            self._write_json()
        if self.strict and confirmed(self.diagnostics) and session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _write_json(self):
        import json
        import os

        from optimlint.runtime.report import to_json_report

        path = os.path.abspath(self.report_path)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(to_json_report(self.diagnostics, self.report.errors), fh, indent=2, ensure_ascii=False)
            fh.write("\n")

    def pytest_terminal_summary(self, terminalreporter, exitstatus, config):
        if hasattr(config, "workerinput"):
            return
        self._finish()
        from optimlint.runtime.report import confirmed, text_lines

        tr = terminalreporter
        tr.write_sep("=", "optimlint runtime report")
        for line in text_lines(self.diagnostics, self.report.errors):
            tr.write_line(line)
        found = confirmed(self.diagnostics)
        if self.strict and found:
            causes = []
            for d in found:
                extra = d.extra or {}
                tests = extra.get("tests") or ([extra["test"]] if "test" in extra else [])
                causes.append(f"{d.code} in {', '.join(tests)}" if tests else d.code)
            tr.write_line("optimlint: --optimlint-strict: failing the session on confirmed findings: "
                          + "; ".join(causes))

    def pytest_unconfigure(self, config):
        self._stop()
