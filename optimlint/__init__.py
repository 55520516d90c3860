"""optimlint: a linter for PyTorch training loops.

Importing this package for static use never imports torch (or libcst, or rich):
heavy modules are imported where they are used.
"""

__version__ = "0.1.0"

__all__ = ["__version__", "watch"]


def watch(*args, **kwargs):
    """Instrument ``torch.optim`` for the duration of a ``with`` block; see optimlint.runtime."""
    from optimlint.runtime.monitor import watch as _watch

    return _watch(*args, **kwargs)
