"""Record classes with a dataclass's behaviour, without ``import dataclasses``.

``dataclasses`` imports ``inspect`` (with ``ast``, ``dis`` and ``tokenize``): ~14 ms, and
creating each dataclass ~0.5 ms more, on the start-up path of every run, where a clean
file through the pre-commit hook takes ~25 ms in all. The classes on that path (settings,
diagnostics, run results) derive from these two instead and write their ``__init__``.
"""

from __future__ import annotations


class Frozen:
    """An immutable value from ``__slots__``: equality and hash by value, ``repr``, no
    assignment (``__init__`` sets fields with ``object.__setattr__``), picklable."""

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


class Record:
    """A mutable record of the fields named in ``_FIELDS`` (its ``__init__`` takes them as
    keywords): ``repr`` and equality by value, unhashable, ``replace(**changes)``."""

    _FIELDS: tuple[str, ...] = ()

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._FIELDS)
        return f"{self.__class__.__qualname__}({fields})"

    def __eq__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self._FIELDS)

    __hash__ = None  # mutable

    def replace(self, **changes):
        """A copy with ``changes`` applied (``dataclasses.replace``)."""
        values = {name: getattr(self, name) for name in self._FIELDS}
        values.update(changes)
        return self.__class__(**values)
