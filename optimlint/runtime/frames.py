"""Where an event happened in the user's code, and which process saw it.

An observation is attributed to the first frame in the user's project: outside torch,
optimlint, the standard library, pytest and every installed package (site-packages): under
Lightning, accelerate or the transformers Trainer, the user's line, never the framework's.
When the watched call came through a framework (``via_library``), the verdicts prefer the
user's declaration (the optimizer's construction in ``configure_optimizers``) as location.
"""

from __future__ import annotations

import linecache
import os
import re
import sys
import sysconfig

import torch

_TORCH_DIR = os.path.dirname(torch.__file__) + os.sep
_OPTIMLINT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _internal_prefixes() -> tuple[str, ...]:
    out = [_TORCH_DIR, _OPTIMLINT_DIR]
    for key in ("stdlib", "platstdlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            out.append(os.path.realpath(path) + os.sep)
            out.append(path + os.sep)
    for mod in ("_pytest", "pluggy"):
        m = sys.modules.get(mod)
        if m is not None and getattr(m, "__file__", None):
            out.append(os.path.dirname(m.__file__) + os.sep)
    return tuple(dict.fromkeys(out))


_PREFIXES = _internal_prefixes()
_internal_cache: dict[str, bool] = {}


def is_internal(filename: str) -> bool:
    hit = _internal_cache.get(filename)
    if hit is None:
        if filename.startswith("<"):
            hit = filename.startswith("<frozen")
        elif "site-packages" in filename or "dist-packages" in filename:
            hit = True  # an installed package: a framework, never the user's project
        else:
            hit = filename.startswith(_PREFIXES)
        _internal_cache[filename] = hit
    return hit


#: (id(code), f_lasti) -> (code, (filename, line)): a call site's line, computed once. A
#: frame's ``f_lineno`` scans its code's line table from the start (its cost grows with the
#: function's length); the instruction offset is read directly. The code object is kept in
#: the value so that an id reused by a new code object is not mistaken for the old one.
_site_lines: dict = {}


def site(frame) -> tuple[str, int]:
    """``(filename, line)`` of ``frame``, from the per-call-site cache."""
    code = frame.f_code
    key = (id(code), frame.f_lasti)
    hit = _site_lines.get(key)
    if hit is None or hit[0] is not code:
        hit = _site_lines[key] = (code, (code.co_filename, frame.f_lineno))
    return hit[1]


_library_cache: dict[str, bool] = {}


def _library(filename: str) -> bool:
    """An installed package other than torch and optimlint (a framework)."""
    hit = _library_cache.get(filename)
    if hit is None:
        hit = _library_cache[filename] = ("site-packages" in filename or "dist-packages" in filename) \
            and not filename.startswith((_TORCH_DIR, _OPTIMLINT_DIR))
    return hit


def walk_to_user(frame) -> tuple:
    """``(user_frame, depth, via_library)``: the first frame from ``frame`` outward that is the
    user's (None when there is none), how many frames that is from ``frame`` (1: ``frame``
    itself), and whether an installed package (a framework, not torch) stands on the way.

    The one walk of the runtime: ``user_frame``, ``user_location`` and ``user_call`` below
    and the hot paths' first sighting of a call site (``hotpath``) all go through it."""
    depth = 1
    via = False
    cache = _internal_cache
    library_cache = _library_cache
    while frame is not None:
        filename = frame.f_code.co_filename
        internal = cache.get(filename)
        if internal is None:
            internal = is_internal(filename)
        if not internal:
            return frame, depth, via
        if not via:
            library = library_cache.get(filename)
            via = _library(filename) if library is None else library
        frame = frame.f_back
        depth += 1
    return None, depth, via


def user_frame(depth: int = 2):
    """The first frame outside torch, optimlint, stdlib and pytest (None when there is none)."""
    try:
        frame = sys._getframe(depth)
    except ValueError:
        return None
    return walk_to_user(frame)[0]


def user_location(depth: int = 3) -> tuple[str, int] | None:
    """(filename, line) of ``user_frame``."""
    try:
        frame = sys._getframe(depth - 1)
    except ValueError:
        return None
    frame = walk_to_user(frame)[0]
    return site(frame) if frame is not None else None


def user_call(depth: int = 3):
    """``(location, via_library)``: the user's line, and whether an installed package (a
    framework, not torch) stands between it and the watched call."""
    try:
        frame = sys._getframe(depth)
    except ValueError:
        return None, False
    frame, _depth, via = walk_to_user(frame)
    return (site(frame) if frame is not None else None), via


def user_frames(depth: int = 3, limit: int = 6):
    """Up to ``limit`` user frames, innermost first."""
    out = []
    frame = user_frame(depth + 1)
    while frame is not None and len(out) < limit:
        if not is_internal(frame.f_code.co_filename):
            out.append(frame)
        frame = frame.f_back
    return out


_ASSIGNED = re.compile(r"^\s*([A-Za-z_][\w.]*(?:\[[^\]]*\])?)\s*(?::[^=]*)?=(?!=)")


def assigned_name(loc) -> str | None:
    """The name the statement at ``loc`` assigns to (``optimizer_d``, ``self.opt``), read from
    the source: how messages name an optimizer rather than only its class."""
    if loc is None:
        return None
    filename, row = loc
    for r in range(row, max(row - 4, 0), -1):
        line = linecache.getline(filename, r)
        if not line:
            return None
        m = _ASSIGNED.match(line)
        if m:
            name = m.group(1)
            return None if name in ("return",) else name
        if r != row and not line.rstrip().endswith(("(", ",", "[", "{")):
            return None
    return None


def rank() -> int | None:
    try:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            return dist.get_rank()
    except Exception:  # pragma: no cover - defensive
        pass
    value = os.environ.get("RANK")
    if value is not None and value.isdigit():
        return int(value)
    return None


def call_attributing_warnings(fn, *args, **kwargs):
    """Call ``fn``; warnings it raises are re-issued at the user's frame, where PyTorch's
    ``stacklevel`` would have pointed without optimlint's wrapper in between."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn(*args, **kwargs)
    if caught:
        frame = sys._getframe(1)
        while frame is not None and is_internal(frame.f_code.co_filename):
            frame = frame.f_back
        for w in caught:
            if frame is None:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
            else:
                g = frame.f_globals
                warnings.warn_explicit(w.message, w.category, frame.f_code.co_filename, frame.f_lineno,
                                       module=g.get("__name__"), registry=g.setdefault("__warningregistry__", {}),
                                       module_globals=g)
    return result
