"""The unit of rule logic: a Check emits diagnostics for one or more codes of a family.

A Check is a small class in the spirit of Fixit: it names the codes it emits and the
byte strings a file must contain for it to possibly fire (the engine's pre-filter
skips the parse when no selected check's needle is in the file). Examples live on
the rule pages (``rules/OPTnnn.md``) and are run by the tests.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import ClassVar, Iterable, TYPE_CHECKING

from optimlint.analysis.iteration import TrainingModel, training_model

if TYPE_CHECKING:
    from optimlint.context import FileContext
    from optimlint.diagnostics import Diagnostic


class Findings:
    """The findings of one check on one file, one per (code, node).

    A site reached twice (directly and through a caller that inlines it) is reported once;
    the report that carries a fix (made where the code is written) wins. Call it as
    ``report(code, node, message, fix=None)``; ``list`` holds the findings in report order."""

    def __init__(self, ctx: "FileContext") -> None:
        self.ctx = ctx
        self.list: list["Diagnostic"] = []
        self._index: dict[tuple[str, int], int] = {}

    def __call__(self, code: str, node, message: str, fix=None) -> None:
        key = (code, id(node))
        at = self._index.get(key)
        if at is None:
            self._index[key] = len(self.list)
            self.list.append(self.ctx.diagnostic(code, node, message, fix))
        elif fix is not None and self.list[at].fix is None:
            self.list[at] = self.ctx.diagnostic(code, node, message, fix)


class Check:
    """One family's rule logic, run on one file: ``checks_for`` makes a fresh instance per lint.

    ``run(ctx)`` gives the instance the file (``self.ctx``), its findings list (``self.report``,
    a ``Findings``: one per code and node, the one with a fix wins) and calls ``check()``, which a
    family writes; ``self.model`` is the file's training-iteration model (built once per file,
    on first use). A family may still override ``run`` itself."""

    codes: ClassVar[tuple[str, ...]] = ()
    # A file that contains none of these byte strings cannot produce a finding.
    needles: ClassVar[tuple[bytes, ...]] = (b"optim", b"backward")
    # Further conditions a file must meet to be a candidate, all of them: each is a tuple of
    # regular expressions (bytes), met when any of them matches. They refine a needle hit that
    # cannot matter (``def backward(``, ``super().forward(``, "optimized" in a docstring) and
    # say "and" (a scheduler rule needs an optimizer in the file too). Ignored when the config
    # names optimizer or scheduler factories, which can be called anything. Start each
    # expression with a literal and check the context after it (``backward\((?<!def backward\()``):
    # Python's re then scans for the literal, 10-40x faster than trying every position.
    requires: ClassVar[tuple[tuple[bytes, ...], ...]] = ()

    ctx: "FileContext"
    report: Findings

    def run(self, ctx: "FileContext") -> Iterable["Diagnostic"]:
        self.ctx = ctx
        self.report = Findings(ctx)
        self.check()
        return self.report.list

    def check(self) -> None:
        """Report this family's findings on ``self.ctx`` through ``self.report(code, node, message, fix)``."""
        raise NotImplementedError

    @property
    def model(self) -> TrainingModel:
        return training_model(self.ctx)


_CHECKS: list[type[Check]] | None = None


def all_checks() -> list[type[Check]]:
    """Every Check subclass in ``optimlint.checks.*``, in a stable order."""
    global _CHECKS
    if _CHECKS is None:
        import optimlint.checks as pkg

        for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
            if info.name != "base":
                importlib.import_module(f"{pkg.__name__}.{info.name}")
        seen: list[type[Check]] = []
        stack = list(Check.__subclasses__())
        while stack:
            cls = stack.pop(0)
            if cls not in seen:
                seen.append(cls)
                stack.extend(cls.__subclasses__())
        _CHECKS = [c for c in seen if c.codes]
    return _CHECKS


def checks_for(codes: Iterable[str]) -> list[Check]:
    wanted = set(codes)
    return [cls() for cls in all_checks() if wanted.intersection(cls.codes)]
