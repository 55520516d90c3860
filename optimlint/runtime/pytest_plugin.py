"""pytest plugin, registered by entry point; inert unless ``--optimlint`` is given."""

from __future__ import annotations


def pytest_addoption(parser):
    group = parser.getgroup("optimlint")
    group.addoption("--optimlint", action="store_true", default=False,
                    help="instrument torch.optim during the session and report training-loop mistakes")
    group.addoption("--optimlint-strict", action="store_true", default=False,
                    help="fail the session when a finding is confirmed at runtime")
