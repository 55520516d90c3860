"""The pre-filter: which checks can fire on a file, decided from its bytes before any parse.

Each check declares ``needles`` (byte strings, one of which a file must hold) and
``requires`` (groups of regular expressions that must all match). Importing the checks
imports LibCST (~0.2 s), more than linting a clean file costs, so the table of every check's
``codes``, ``needles`` and ``requires`` is read from the checks' source text (class
attributes written as literal tuples, the documented convention) without importing them.
Anything it cannot read for sure makes it fall back to importing; tests/test_lazy_imports.py
checks that both ways agree.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from optimlint.config import Settings

Table = list[tuple[frozenset[str], tuple[bytes, ...], tuple[tuple[bytes, ...], ...]]]
_STATIC: Table | None | bool = False
_CLASS = None
_ATTR = None
_TOP = None


def _static_checks() -> Table | None:
    """``[(codes, needles, requires)]`` of every check class, read from source; None when unsure."""
    global _STATIC
    if _STATIC is False:
        try:
            _STATIC = _read_checks_statically()
        except Exception:
            _STATIC = None
    return _STATIC  # type: ignore[return-value]


def _literal_after(text: str, start: int):
    """The literal that starts at ``text[start]`` and ends at the end of a line."""
    end = text.find("\n", start)
    for _ in range(40):  # a literal of at most 40 lines
        if end < 0:
            end = len(text)
        try:
            return _literal(text[start:end].split("  #")[0] if "\n" not in text[start:end]
                            else text[start:end])
        except (SyntaxError, ValueError):
            if end >= len(text):
                break
            end = text.find("\n", end + 1)
    raise ValueError("not a literal")


def _literal(text: str):
    """``ast.literal_eval`` for what a check's attributes hold (tuples of str and bytes),
    without importing ``ast`` (5-14 ms of a run): compiled code that names nothing and
    defines no function or comprehension can only build constants."""
    code = compile(text, "<checks>", "eval")
    if code.co_names or any(type(c) is type(code) for c in code.co_consts):
        raise ValueError("not a literal")
    return eval(code, {"__builtins__": {}}, {})


def _read_checks_statically():
    import bisect
    import re

    global _CLASS, _ATTR, _TOP
    if _CLASS is None:
        _TOP = re.compile(r"^[^\s#]", re.M)
        _CLASS = re.compile(r"^class\s+(\w+)\s*(?:\(([^)]*)\))?\s*:", re.M)
        _ATTR = re.compile(r"^    (codes|needles|requires)\s*(?::[^=\n]*)?=\s*", re.M)
    folder = os.path.join(os.path.dirname(os.path.abspath(__file__)), "checks")
    classes: dict[str, tuple[list[str], dict[str, object]]] = {}
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".py") or name.startswith("_"):
            continue
        with open(os.path.join(folder, name), encoding="utf-8") as fh:
            text = fh.read()
        heads = list(_CLASS.finditer(text))
        starts = [h.end() for h in heads]
        # Lines that start with code at column 0 end a class body.
        tops = [m.start() for m in _TOP.finditer(text)]
        found: list[dict[str, object]] = [{} for _ in heads]
        for m in _ATTR.finditer(text):
            k = bisect.bisect_right(starts, m.start()) - 1
            if k < 0:
                continue
            t = bisect.bisect_right(tops, starts[k])
            if t < len(tops) and tops[t] < m.start():
                continue  # not inside the class body
            found[k][m.group(1)] = _literal_after(text, m.end())
        for head, attrs in zip(heads, found):
            bases = [b.strip().split(".")[-1] for b in (head.group(2) or "").split(",") if b.strip()]
            if head.group(1) in classes:
                return None  # two classes of one name: cannot tell which is which
            classes[head.group(1)] = (bases, attrs)
    if "Check" not in classes or "needles" not in classes["Check"][1]:
        return None

    def attr(cls: str, key: str, seen=()):
        if cls not in classes or cls in seen:
            raise LookupError(cls)
        bases, attrs = classes[cls]
        if key in attrs:
            return attrs[key]
        if len(bases) != 1:
            raise LookupError(cls)
        return attr(bases[0], key, (*seen, cls))

    def is_check(cls: str, seen=()) -> bool:
        if cls == "Check":
            return True
        if cls not in classes or cls in seen:
            return False
        return any(is_check(b, (*seen, cls)) for b in classes[cls][0])

    out = []
    for cls, (bases, attrs) in classes.items():
        if cls == "Check" or not is_check(cls):
            continue
        try:
            codes, needles, requires = attr(cls, "codes"), attr(cls, "needles"), attr(cls, "requires")
        except LookupError:
            return None
        if not isinstance(codes, tuple) or not all(isinstance(c, str) for c in codes):
            return None
        if not _bytes_tuple(needles) or not isinstance(requires, tuple) \
                or not all(_bytes_tuple(group) for group in requires):
            return None
        if codes:
            out.append((frozenset(codes), needles, requires))
    return out


def _bytes_tuple(value) -> bool:
    return isinstance(value, tuple) and all(isinstance(n, bytes) for n in value)


def _table(checks) -> Table:
    return [(frozenset(c.codes), tuple(c.needles), tuple(c.requires)) for c in checks]


def checks_fingerprint() -> str:
    """What the cache must know about the checks beyond optimlint's own code: empty, unless
    check classes other than the shipped ones are loaded (a test or a plugin installed one)."""
    import sys

    base = sys.modules.get("optimlint.checks.base")
    loaded = getattr(base, "_CHECKS", None) if base is not None else None
    if loaded is None:
        return ""
    table = sorted((f"{c.__module__}.{c.__qualname__}", sorted(c.codes), list(c.needles), list(c.requires))
                   for c in loaded)
    static = _static_checks()
    shipped = sorted((sorted(codes), list(needles), list(requires)) for codes, needles, requires in static or [])
    if static is not None and sorted(row[1:] for row in table) == shipped:
        return ""
    return repr(table)


def may_fire(raw: bytes, enabled, factories: tuple[bytes, ...] = (),
             hits: dict[bytes, bool] | None = None) -> bool:
    """False when no check of an ``enabled`` code can fire on a file of bytes ``raw``.

    Uses the imported check classes when they are loaded already (tests install extra
    ones), else the checks' source text, so a run over clean files never imports LibCST.
    ``factories``, ``hits``: see ``is_candidate``.
    """
    import sys

    base = sys.modules.get("optimlint.checks.base")
    loaded = getattr(base, "_CHECKS", None) if base is not None else None
    if loaded is not None:
        table = _table(loaded)
    else:
        table = _static_checks()
        if table is None:  # unsure of the source: import the checks (LibCST, ~0.2 s: start-up time)
            from optimlint.checks.base import all_checks

            table = _table(all_checks())
    # Most files hold no needle at all: scan for each distinct needle once (checks share some).
    if hits is None:
        hits = {}
    return any(codes.intersection(enabled) and is_candidate(raw, needles, requires, factories, hits)
               for codes, needles, requires in table)


def is_candidate(raw: bytes, needles, requires, factories: tuple[bytes, ...] = (),
                 hits: dict[bytes, bool] | None = None) -> bool:
    """``raw`` holds one of ``needles`` and meets every group of ``requires`` (a group is met
    when one of its regular expressions matches).

    ``factories`` (from ``factory_needles``): with configured factories, which can be called
    anything, a file is a candidate when it holds a needle or a factory's name.
    ``hits``: what earlier calls found of each needle in ``raw`` (read and filled).
    """
    if factories:
        return any(n in raw for n in needles) or any(f in raw for f in factories)
    if hits is None:
        hits = {}
    for n in needles:
        hit = hits.get(n)
        if hit is None:
            hit = hits[n] = n in raw
        if hit:
            break
    else:
        return False
    return all(any(_regex(p).search(raw) for p in group) for group in requires)


def factory_needles(settings: Settings) -> tuple[bytes, ...]:
    """What a file calling each configured factory must hold: its last name up to the first
    wildcard (``make_opt`` of ``mylib.make_opt``; ``b""``, in every file, for ``mylib.*``)."""
    import re

    return tuple(re.split(r"[*?\[]", pattern.rsplit(".", 1)[-1])[0].encode("utf-8")
                 for pattern in (*settings.optimizer_factories, *settings.scheduler_factories))


_REGEXES: dict[bytes, object] = {}


def _regex(pattern: bytes):
    compiled = _REGEXES.get(pattern)
    if compiled is None:
        import re

        compiled = _REGEXES[pattern] = re.compile(pattern, re.M)
    return compiled
