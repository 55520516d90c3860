"""What the runtime companion found: observations, event sites and the report object.

Torch-free on purpose: the join, the reporters and the pytest plugin read these without
importing torch. Reports travel between processes (spawned children, torchrun ranks, xdist
workers) as ``to_dict()`` / ``from_dict()``, and ``merge`` makes one report of several.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from optimlint.registry import RULES


@dataclass
class Observation:
    """One runtime finding: a rule code seen happening at a user source location.

    ``related``: other user locations the same mistake is known by (the optimizer's
    construction, the backward...), so the join can make one entry of a static finding and
    this observation when their locations differ. ``nodeids``/``ranks``: every test and
    every rank that triggered it (``nodeid``/``rank``: the first)."""

    code: str
    message: str
    filename: str | None
    row: int
    column: int = 1
    rank: int | None = None
    nodeid: str | None = None
    count: int = 1
    related: tuple = ()
    nodeids: list = field(default_factory=list)
    ranks: list = field(default_factory=list)

    def __post_init__(self):
        if self.nodeid and not self.nodeids:
            self.nodeids = [self.nodeid]
        if self.rank is not None and not self.ranks:
            self.ranks = [self.rank]

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
        if self.ranks:
            tags.append(("rank " if len(self.ranks) == 1 else "ranks ") + ", ".join(map(str, self.ranks)))
        if self.nodeids:
            tags.append(("test " if len(self.nodeids) == 1 else "tests ") + ", ".join(self.nodeids))
        suffix = f" ({', '.join(tags)})" if tags else ""
        return f"{self.where()}: {self.code} {self.message}{suffix}"

    def absorb(self, other: "Observation") -> None:
        """Count ``other`` (the same mistake seen again) into this one."""
        self.count += other.count
        for nodeid in other.nodeids:
            if nodeid not in self.nodeids:
                self.nodeids.append(nodeid)
        for rank in other.ranks:
            if rank not in self.ranks:
                self.ranks.append(rank)
                self.ranks.sort()

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "filename": self.filename, "row": self.row,
                "column": self.column, "count": self.count, "related": [list(r) for r in self.related],
                "nodeids": list(self.nodeids), "ranks": list(self.ranks)}

    @classmethod
    def from_dict(cls, d: dict) -> "Observation":
        nodeids, ranks = list(d.get("nodeids") or []), list(d.get("ranks") or [])
        return cls(d["code"], d["message"], d.get("filename"), int(d.get("row", 0)), int(d.get("column", 1)),
                   ranks[0] if ranks else None, nodeids[0] if nodeids else None, int(d.get("count", 1)),
                   tuple(tuple(r) for r in d.get("related") or ()), nodeids, ranks)


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
    #: Set by ``optimlint.watch()``: computes the joined diagnostics on first access.
    _joiner: object = field(default=None, repr=False)
    _diagnostics: object = field(default=None, repr=False)

    def add(self, obs: Observation) -> Observation:
        key = (obs.code, obs.filename, obs.row)
        found = self._index.get(key)
        if found is not None:
            found.absorb(obs)
            return found
        self._index[key] = obs
        self.findings.append(obs)
        return obs

    @property
    def codes(self) -> list[str]:
        return [o.code for o in self.findings]

    @property
    def diagnostics(self) -> list:
        """The static findings of the files that ran joined with the observations (each with
        ``runtime``), then the runtime-only ones: what ``optimlint run`` reports."""
        if self._diagnostics is None:
            from optimlint.runtime.report import joined_report

            self._diagnostics = joined_report(self, self._joiner or ())
        return self._diagnostics

    @property
    def confirmed(self) -> list:
        from optimlint.runtime.join import CONFIRMED

        return [d for d in self.diagnostics if d.runtime == CONFIRMED]

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

    def to_dict(self) -> dict:
        return {"findings": [o.to_dict() for o in self.findings], "errors": list(self.errors),
                "sites": [[f, r, sorted(k)] for (f, r), k in self.sites.items()], "rank": self.rank}

    @classmethod
    def from_dict(cls, d: dict) -> "RuntimeReport":
        report = cls(rank=d.get("rank"))
        for o in d.get("findings") or ():
            report.add(Observation.from_dict(o))
        report.errors.extend(d.get("errors") or ())
        for f, r, kinds in d.get("sites") or ():
            report.sites.setdefault((f, int(r)), set()).update(kinds)
        return report

    def merge(self, other: "RuntimeReport") -> None:
        """Add ``other``'s observations (one entry per mistake, ranks and tests listed),
        sites and errors into this report."""
        for obs in other.findings:
            self.add(Observation.from_dict(obs.to_dict()))
        for loc, kinds in other.sites.items():
            self.sites.setdefault(loc, set()).update(kinds)
        prefix = f"rank {other.rank}: " if other.rank is not None else ""
        for err in other.errors:
            if prefix + err not in self.errors:
                self.errors.append(prefix + err)
