"""What the runtime companion found: observations, event sites and the report object.

Torch-free on purpose: the join, the reporters and the pytest plugin read these without
importing torch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from optimlint.registry import RULES


@dataclass
class Observation:
    """One runtime finding: a rule code seen happening at a user source location."""

    code: str
    message: str
    filename: str | None
    row: int
    column: int = 1
    rank: int | None = None
    nodeid: str | None = None
    count: int = 1

    @property
    def name(self) -> str:
        info = RULES.get(self.code)
        return info.name if info else ""

    def where(self) -> str:
        if self.filename is None:
            return "<unknown>"
        from optimlint.report.paths import display_path

        return f"{display_path(self.filename)}:{self.row}:{self.column}"

    def __str__(self) -> str:
        tags = []
        if self.rank is not None:
            tags.append(f"rank {self.rank}")
        if self.nodeid:
            tags.append(f"test {self.nodeid}")
        suffix = f" ({', '.join(tags)})" if tags else ""
        return f"{self.where()}: {self.code} {self.message}{suffix}"


@dataclass
class RuntimeReport:
    """The result of a watched run. ``findings`` fills in as the program runs."""

    findings: list[Observation] = field(default_factory=list)
    #: Errors raised inside optimlint's own hooks (caught, never propagated).
    errors: list[str] = field(default_factory=list)
    #: (filename, row) -> set of event kinds (``EventKind.value``) seen there.
    sites: dict[tuple[str, int], set[str]] = field(default_factory=dict)
    rank: int | None = None
    _index: dict = field(default_factory=dict, repr=False)

    def add(self, obs: Observation) -> Observation:
        key = (obs.code, obs.filename, obs.row, obs.nodeid, obs.rank)
        found = self._index.get(key)
        if found is not None:
            found.count += 1
            return found
        self._index[key] = obs
        self.findings.append(obs)
        return obs

    @property
    def codes(self) -> list[str]:
        return [o.code for o in self.findings]

    def files(self) -> set[str]:
        """User files in which events or findings occurred."""
        out = {f for f, _ in self.sites}
        out.update(o.filename for o in self.findings if o.filename)
        return {f for f in out if f and not f.startswith("<") and os.path.isfile(f)}

    def format(self) -> str:
        lines = [str(o) for o in self.findings]
        for err in self.errors:
            lines.append(f"optimlint: internal error in a runtime hook (ignored): {err}")
        return "\n".join(lines)
