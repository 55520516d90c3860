"""Install and undo: one wrapper factory for the calls PyTorch has no hook for, and one undo
stack for every replaced attribute and registered hook handle.

A wrapper calls the original unchanged and reports to the monitor around it:
``before(*args, **kwargs) -> token`` runs first, ``after(token, result, *args, **kwargs)``
on success, ``error(token, exc, *args, **kwargs)`` when the original raised (the exception
then propagates unchanged), ``leave(token)`` in every case. An error inside a callback is
handed to the monitor's ``report(label, exc)``, so it is recorded for that check only and
never reaches the program (caught in the wrapper itself: no extra call per wrapped call,
which counts on a step of microseconds). ``depth`` names a counter shared by wrappers of one family (an optimizer
``__init__`` calling its base class's): only the outermost call is reported.
"""

from __future__ import annotations

import functools

from optimlint.runtime.frames import call_attributing_warnings

_MISSING = object()


def subclasses(cls, include_self=True) -> list:
    """``cls`` and every subclass defined so far, depth first."""
    seen = []
    stack = [cls]
    while stack:
        c = stack.pop()
        if c in seen:
            continue
        seen.append(c)
        try:
            stack.extend(type.__subclasses__(c))
        except TypeError:  # pragma: no cover
            pass
    return seen if include_self else seen[1:]


class Patches:
    """The undo stack: attributes replaced and hook handles registered, undone LIFO."""

    def __init__(self, report):
        self._report = report        # report(label, exc): an error inside a callback
        self._undo: list = []
        self.depths: dict[str, int] = {}

    def handle(self, handle):
        """Remember a hook handle (``.remove()`` on undo)."""
        self._undo.append(handle)
        return handle

    def replace(self, owner, name, make) -> None:
        """Replace ``owner.name`` with ``make(current)``; undo restores exactly what was there
        (for a class: its own ``__dict__`` entry, or nothing when it inherited the attribute)."""
        original = owner.__dict__.get(name, _MISSING) if isinstance(owner, type) else getattr(owner, name)
        setattr(owner, name, make(getattr(owner, name)))
        self._undo.append((owner, name, original))

    def wrap(self, owner, name, label, *, before=None, after=None, error=None, leave=None,
             depth=None, warnings=False, prepare=None) -> None:
        """Replace ``owner.name`` by ``wrapper`` (see the module docstring). ``prepare(args,
        kwargs) -> (args, kwargs)`` may hand the original an equivalent argument (a generator
        read once into a list); ``warnings`` re-issues the original's warnings at the user's line."""
        self.replace(owner, name, lambda orig: self.wrapper(orig, label, before=before, after=after, error=error,
                                                            leave=leave, depth=depth, warnings=warnings,
                                                            prepare=prepare))

    def wrapper(self, orig, label, *, before=None, after=None, error=None, leave=None, depth=None,
                warnings=False, prepare=None):
        report = self._report
        depths = self.depths
        if depth is not None:
            depths.setdefault(depth, 0)

        @functools.wraps(orig)
        def wrapper(*args, **kwargs):
            if depth is not None:
                if depths[depth]:
                    return orig(*args, **kwargs)
            if prepare is not None:
                args, kwargs = prepare(args, kwargs)
            token = None
            if before is not None:
                try:
                    token = before(*args, **kwargs)
                except Exception as exc:  # never into the user's program
                    report(label, exc)
            if depth is not None:
                depths[depth] += 1
            try:
                if warnings:
                    result = call_attributing_warnings(orig, *args, **kwargs)
                else:
                    result = orig(*args, **kwargs)
            except BaseException as exc:
                if depth is not None:
                    depths[depth] -= 1
                if leave is not None:
                    leave(token)
                if error is not None:
                    try:
                        error(token, exc, *args, **kwargs)
                    except Exception as inner:
                        report(label, inner)
                raise
            if depth is not None:
                depths[depth] -= 1
            if leave is not None:
                leave(token)
            if after is not None:
                try:
                    after(token, result, *args, **kwargs)
                except Exception as exc:
                    report(label, exc)
            return result

        wrapper.__optimlint_wrapped__ = orig
        return wrapper

    def undo(self) -> None:
        while self._undo:
            item = self._undo.pop()
            try:
                if isinstance(item, tuple):
                    owner, name, original = item
                    if original is _MISSING:
                        delattr(owner, name)
                    else:
                        setattr(owner, name, original)
                else:
                    item.remove()
            except Exception:  # pragma: no cover - defensive: restore the rest
                pass
