"""The data every check produces and every reporter, fixer and the runtime join consume.

Locations are Ruff's: 1-based rows and 1-based columns (columns count characters,
not bytes). An Edit replaces the text between two locations (end exclusive) with
``content``; an insertion has ``start == end``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace


class Applicability(str, enum.Enum):
    SAFE = "safe"
    UNSAFE = "unsafe"

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.value


@dataclass(frozen=True, order=True)
class Location:
    """A 1-based row and 1-based column (characters, not bytes)."""

    row: int
    column: int


@dataclass(frozen=True)
class Edit:
    """Replace the text from ``location`` to ``end_location`` (exclusive) with ``content``."""

    content: str
    location: Location
    end_location: Location

    @classmethod
    def insertion(cls, content: str, at: Location) -> "Edit":
        return cls(content, at, at)

    @classmethod
    def deletion(cls, start: Location, end: Location) -> "Edit":
        return cls("", start, end)


@dataclass(frozen=True)
class Fix:
    """Edits that fix one diagnostic, with how safe applying them is."""

    applicability: Applicability
    message: str
    edits: tuple[Edit, ...]

    @classmethod
    def safe(cls, message: str, *edits: Edit) -> "Fix":
        return cls(Applicability.SAFE, message, tuple(edits))

    @classmethod
    def unsafe(cls, message: str, *edits: Edit) -> "Fix":
        return cls(Applicability.UNSAFE, message, tuple(edits))


DOCS_URL = "https://optimlint.dev/rules/{code}"


@dataclass
class Diagnostic:
    """One finding: Ruff's JSON fields, plus the rule's name and the runtime verdict."""

    code: str
    name: str
    message: str
    filename: str
    location: Location
    end_location: Location
    fix: Fix | None = None
    noqa_row: int | None = None
    # Set by the runtime join: "confirmed", "not-observed" or "not-reached".
    runtime: str | None = None
    # Extra positional context, e.g. notebook cell index; reporters may use it.
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.noqa_row is None:
            self.noqa_row = self.location.row

    @property
    def url(self) -> str:
        return DOCS_URL.format(code=self.code)

    @property
    def sort_key(self) -> tuple:
        return (self.filename, (self.extra or {}).get("cell") or 0, self.location.row, self.location.column, self.code)

    def fixable(self, unsafe: bool) -> bool:
        """Whether ``--fix`` applies this diagnostic's fix (unsafe ones only when allowed)."""
        return self.fix is not None and (unsafe or self.fix.applicability == Applicability.SAFE)

    def with_fix(self, fix: Fix | None) -> "Diagnostic":
        return replace(self, fix=fix)
