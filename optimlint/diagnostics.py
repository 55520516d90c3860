"""The data every check produces and every reporter, fixer and the runtime join consume.

Locations are Ruff's: 1-based rows and 1-based columns (columns count characters,
not bytes). An Edit replaces the text between two locations (end exclusive) with
``content``; an insertion has ``start == end``.

``Location``, ``Edit`` and ``Fix`` are immutable value classes written out by hand rather
than frozen dataclasses: creating a dataclass costs ~0.5 ms at import, on the start-up
path of every run (the pre-commit hook's budget is tens of milliseconds). They behave as
the dataclasses did: keyword or positional construction, ``repr``, equality and hash by
value, ordering for ``Location``, assignment refused, picklable.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace


class Applicability(str, enum.Enum):
    SAFE = "safe"
    UNSAFE = "unsafe"

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.value


class _Frozen:
    """Value semantics from ``__slots__``: equality, hash, repr, no assignment, pickling."""

    __slots__ = ()

    def _values(self) -> tuple:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{self.__class__.__qualname__}({fields})"

    def __setattr__(self, name, value):
        raise AttributeError(f"cannot assign to field {name!r}")

    def __delattr__(self, name):
        raise AttributeError(f"cannot delete field {name!r}")

    def __reduce__(self):
        return self.__class__, self._values()


class Location(_Frozen):
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


class Edit(_Frozen):
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


class Fix(_Frozen):
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

    def replace(self, **changes) -> "Diagnostic":
        """A copy with ``changes`` applied. Use this rather than ``dataclasses.replace``:
        Diagnostic is the last dataclass on the start-up path of a run (with engine.py's
        and registry.py's), and ``import dataclasses`` (with inspect, ast, dis, tokenize)
        costs ~8 ms of the pre-commit hook's ~40; as a plain class it keeps this method."""
        return replace(self, **changes)

    def with_fix(self, fix: Fix | None) -> "Diagnostic":
        return self.replace(fix=fix)
