"""The data every check produces and every reporter, fixer and the runtime join consume.

Locations are Ruff's: 1-based rows and 1-based columns (columns count characters,
not bytes). An Edit replaces the text between two locations (end exclusive) with
``content``; an insertion has ``start == end``.

``Location``, ``Edit`` and ``Fix`` are immutable values and ``Diagnostic`` a mutable record,
written on ``optimlint.records`` rather than as dataclasses (they are on the start-up path
of every run); they behave as the dataclasses did: keyword or positional construction,
``repr``, equality by value (and hash and ordering for ``Location``), picklable.
"""

from __future__ import annotations

import enum

from optimlint.records import Frozen, Record


class Applicability(str, enum.Enum):
    SAFE = "safe"
    UNSAFE = "unsafe"

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.value


class Location(Frozen):
    """A 1-based row and 1-based column (characters, not bytes); ordered by row, then column."""

    __slots__ = ("row", "column")
    __match_args__ = __slots__

    def __init__(self, row: int, column: int) -> None:
        object.__setattr__(self, "row", row)
        object.__setattr__(self, "column", column)

    def __lt__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        return (self.row, self.column) < (other.row, other.column)

    def __le__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        return (self.row, self.column) <= (other.row, other.column)

    def __gt__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        return (self.row, self.column) > (other.row, other.column)

    def __ge__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        return (self.row, self.column) >= (other.row, other.column)


class Edit(Frozen):
    """Replace the text from ``location`` to ``end_location`` (exclusive) with ``content``."""

    __slots__ = ("content", "location", "end_location")
    __match_args__ = __slots__

    def __init__(self, content: str, location: Location, end_location: Location) -> None:
        object.__setattr__(self, "content", content)
        object.__setattr__(self, "location", location)
        object.__setattr__(self, "end_location", end_location)

    @classmethod
    def insertion(cls, content: str, at: Location) -> "Edit":
        return cls(content, at, at)

    @classmethod
    def deletion(cls, start: Location, end: Location) -> "Edit":
        return cls("", start, end)


class Fix(Frozen):
    """Edits that fix one diagnostic, with how safe applying them is."""

    __slots__ = ("applicability", "message", "edits")
    __match_args__ = __slots__

    def __init__(self, applicability: Applicability, message: str, edits: tuple[Edit, ...]) -> None:
        object.__setattr__(self, "applicability", applicability)
        object.__setattr__(self, "message", message)
        object.__setattr__(self, "edits", edits)

    @classmethod
    def safe(cls, message: str, *edits: Edit) -> "Fix":
        return cls(Applicability.SAFE, message, tuple(edits))

    @classmethod
    def unsafe(cls, message: str, *edits: Edit) -> "Fix":
        return cls(Applicability.UNSAFE, message, tuple(edits))


DOCS_URL = "https://optimlint.dev/rules/{code}"


class Diagnostic(Record):
    """One finding: Ruff's JSON fields, plus the rule's name and the runtime verdict."""

    _FIELDS = ("code", "name", "message", "filename", "location", "end_location", "fix", "noqa_row",
               "runtime", "extra")
    __match_args__ = _FIELDS

    def __init__(self, code: str, name: str, message: str, filename: str, location: Location,
                 end_location: Location, fix: Fix | None = None, noqa_row: int | None = None,
                 runtime: str | None = None, extra: dict | None = None) -> None:
        self.code = code
        self.name = name
        self.message = message
        self.filename = filename
        self.location = location
        self.end_location = end_location
        self.fix = fix
        self.noqa_row = location.row if noqa_row is None else noqa_row
        # Set by the runtime join: "confirmed", "not-observed" or "not-reached".
        self.runtime = runtime
        # Extra positional context, e.g. notebook cell index; reporters may use it.
        self.extra = {} if extra is None else extra

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
        return self.replace(fix=fix)
