"""optimlint: a linter for PyTorch training loops.

Importing this package for static use never imports torch (or libcst, or rich):
heavy modules are imported where they are used.
"""

__version__ = "0.1.0"

__all__ = ["__version__", "watch"]


def watch(namespace: dict | None = None, *, files=()):
    """Watch ``torch.optim`` inside a ``with`` block (a notebook, a script); yields the report.

    ``report.findings``: what the run saw, filled in as it runs. ``report.diagnostics`` (on
    first access, after the block): the static findings of the files that ran, each marked
    ``runtime`` = confirmed / not-observed / not-reached, then the mistakes seen only at
    runtime, as ``optimlint run`` reports them; ``report.confirmed``: the confirmed ones.
    ``namespace`` (default: the caller's globals) names the user's modules in messages;
    ``files``: more files to lint for the join. Needs PyTorch (``optimlint[runtime]``).
    """
    try:
        import torch  # noqa: F401
    except ImportError:
        raise ModuleNotFoundError("optimlint.watch() needs PyTorch: pip install 'optimlint[runtime]'",
                                  name="torch") from None
    import sys

    from optimlint.runtime.monitor import watch as _watch

    if namespace is None:
        namespace = sys._getframe(1).f_globals
    return _watch(namespace, files=files)
