"""Settings: what to select and how to fix. (Loading [tool.optimlint] is done here too.)"""

from __future__ import annotations

from dataclasses import dataclass, field

from optimlint.registry import RULES, ALWAYS_ON, expand_selector


@dataclass
class Settings:
    select: list[str] = field(default_factory=lambda: ["OPT"])
    ignore: list[str] = field(default_factory=list)
    extend_select: list[str] = field(default_factory=list)
    per_file_ignores: dict[str, list[str]] = field(default_factory=dict)
    exclude: list[str] = field(default_factory=list)
    extend_exclude: list[str] = field(default_factory=list)
    unsafe_fixes: bool = False
    optimizer_factories: list[str] = field(default_factory=list)
    scheduler_factories: list[str] = field(default_factory=list)

    def enabled_codes(self) -> set[str]:
        codes: set[str] = set()
        for sel in [*self.select, *self.extend_select]:
            codes.update(expand_selector(sel))
        for sel in self.ignore:
            codes.difference_update(expand_selector(sel))
        return codes | set(ALWAYS_ON)

    def fingerprint(self) -> str:
        """A stable string of everything that changes lint results (for the cache key)."""
        return repr((sorted(self.enabled_codes()), sorted(self.per_file_ignores.items()),
                     self.optimizer_factories, self.scheduler_factories))


__all__ = ["Settings", "RULES"]
