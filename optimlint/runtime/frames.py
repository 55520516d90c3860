"""Where an event happened in the user's code, and which process saw it.

An observation is attributed to the first stack frame outside torch, optimlint, the standard
library and pytest: the line of the user's program that called into the watched API.
"""

from __future__ import annotations

import os
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
            hit = filename.startswith((_TORCH_DIR, _OPTIMLINT_DIR))
        else:
            hit = filename.startswith(_PREFIXES)
        _internal_cache[filename] = hit
    return hit


def user_frame(depth: int = 2):
    """The first frame outside torch, optimlint, stdlib and pytest (None when there is none)."""
    try:
        frame = sys._getframe(depth)
    except ValueError:
        return None
    while frame is not None:
        if not is_internal(frame.f_code.co_filename):
            return frame
        frame = frame.f_back
    return None


def user_location(depth: int = 3) -> tuple[str, int] | None:
    """(filename, line) of ``user_frame``."""
    frame = user_frame(depth)
    return (frame.f_code.co_filename, frame.f_lineno) if frame is not None else None


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
