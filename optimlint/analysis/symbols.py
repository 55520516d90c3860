"""What things are: torch optimizer, scheduler and GradScaler classes by qualified name.

Reads the tables of ``vocabulary.py`` (taken from torch 2.x; no torch import at lint time) plus
the configured factories. Binding analysis (which variable holds which optimizer) lives
in the analyses that need it and builds on ``classify_call``.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst

from optimlint.vocabulary import OPTIMIZER_KEYS, SCALER_QUALNAMES, SCHEDULER_CLASSES, VENDORED_SCHEDULE_FACTORIES

if TYPE_CHECKING:
    from optimlint.context import FileContext

_OPTIM_PREFIXES = ("torch.optim.",)
_SCHED_PREFIXES = ("torch.optim.lr_scheduler.",)


def optimizer_class(qualname: str | None) -> str | None:
    """``Adam`` for ``torch.optim.Adam`` / ``torch.optim.adam.Adam``; None for anything else."""
    if not qualname or not qualname.startswith(_OPTIM_PREFIXES):
        return None
    last = qualname.rsplit(".", 1)[-1]
    if last not in OPTIMIZER_KEYS:
        return None
    middle = qualname[len("torch.optim."): -len(last)].strip(".")
    # torch.optim.Adam or torch.optim.adam.Adam (the defining submodule).
    if middle in ("", last.lower(), "sparse_adam" if last == "SparseAdam" else last.lower()):
        return last
    return None


def scheduler_class(qualname: str | None) -> str | None:
    """``StepLR`` for ``torch.optim.lr_scheduler.StepLR``; ``transformers`` schedules by name."""
    if not qualname:
        return None
    if qualname.startswith(_SCHED_PREFIXES):
        last = qualname.rsplit(".", 1)[-1]
        return last if last in SCHEDULER_CLASSES else None
    last = qualname.rsplit(".", 1)[-1]
    if qualname.startswith(("transformers.", "diffusers.")):  # diffusers.optimization copies them
        if last == "get_scheduler" or (last.startswith("get_") and "schedule" in last):
            return last
    elif last in VENDORED_SCHEDULE_FACTORIES or (last.startswith("get_") and last.endswith("_schedule_with_warmup")):
        # SPEC: "vendored copies count by evidence": transformers' factories copied into a
        # project (``from utils.optimization import get_linear_schedule_with_warmup``)
        return last
    return None


def is_scaler(qualname: str | None) -> bool:
    return qualname in SCALER_QUALNAMES


def _matches_factory(qualname: str | None, patterns: tuple[str, ...]) -> bool:
    return bool(qualname) and any(fnmatch.fnmatchcase(qualname, p) for p in patterns)


@dataclass(frozen=True)
class CallKind:
    kind: str  # "optimizer", "scheduler", "scaler"
    cls: str  # class name (``Adam``), or the factory's qualified name
    qualname: str


def classify_call(ctx: "FileContext", call: cst.Call) -> CallKind | None:
    """What a call constructs, if it is a torch optimizer, scheduler, scaler or a configured factory."""
    qn = ctx.qualify(call.func)
    if qn is None:
        return None
    cls = optimizer_class(qn)
    if cls:
        return CallKind("optimizer", cls, qn)
    cls = scheduler_class(qn)
    if cls:
        return CallKind("scheduler", cls, qn)
    if is_scaler(qn):
        return CallKind("scaler", "GradScaler", qn)
    settings = ctx.settings
    if settings is not None:
        if _matches_factory(qn, tuple(settings.optimizer_factories)):
            return CallKind("optimizer", qn, qn)
        if _matches_factory(qn, tuple(settings.scheduler_factories)):
            return CallKind("scheduler", qn, qn)
    return None


# Names that say "a module" (its call is a forward) or "a loss function": ``model(x)``,
# ``self.net(x)``, ``criterion(out, y)``.
_MODULE_NAME = re.compile(
    r"(^|_)(model|net|network|module|encoder|decoder|generator|discriminator|critic|actor|backbone|"
    r"head|classifier|criterion|loss_fn|loss_func|loss_function|lossfn|policy|unet|vae|transformer|layer|G|D|pipe|pipeline)$")


def name_says_module(name: str) -> bool:
    return bool(_MODULE_NAME.search(name))


# Names that say "optimizer" / "scheduler" for unannotated parameters and attributes
# (SPEC vocabulary); callers must still see ``.step()`` called on them.
# ``optimizer_type``, ``opt_level``, ``optimizer_kwargs``, ``optimizer_train_fn``: a name that
# describes an optimizer (its kind, settings, factory or saved state) or a function named after
# it that neither steps nor updates, and holds no optimizer (kohya's ``args.optimizer_type``
# handed to a logging helper is a string; its ``optimizer_train_fn()`` switches a schedule-free
# optimizer's mode: neither is an optimizer the call may step)
_DESCRIBES_OPTIMIZER = re.compile(r"^(optimi[sz]er|optim|opt)_((type|types|name|names|args|kwargs|cls|class|"
                                  r"config|cfg|conf|state|state_dict|path|file|factory|level|str|id)|"
                                  r"(?!\w*(step|update))(\w+_)?(fn|fns|func|funcs))$")


def name_says_optimizer(name: str) -> bool:
    name = _bare(name)
    if _DESCRIBES_OPTIMIZER.match(name):
        return False
    return (
        name in ("optimizer", "opt", "optim", "optimizers")
        or name.endswith("_optimizer")
        or name.startswith("optimizer_")
        or name.startswith("opt_")
        or name.endswith("_opt")
    )


# A name that says it holds a learning-rate schedule (``scheduler``, ``lr_scheduler``, ``sched``,
# ``_schedule``, ``warmup_scheduler``, ``LR_SCHEDULERS``): one answer for the bindings (a
# parameter or attribute so named is a scheduler) and the iteration model (an unresolved
# receiver so named steps a rate, never an optimizer).
_SCHEDULER_NAME = re.compile(r"(^|_)(lr_)?sched(ule|uler)?s?$", re.I)


def name_says_scheduler(name: str) -> bool:
    return _SCHEDULER_NAME.search(_bare(name)) is not None


def _bare(name: str) -> str:
    """``name`` without the underscores around it: ``self.__optimizer__`` (a dunder-style
    private attribute), ``optimizer_`` (a trailing underscore against shadowing)."""
    return name.strip("_") or name


# A class named as a learning-rate schedule (``WarmupCosineSchedule``, ``MegatronLMDummyScheduler``):
# built on an optimizer, it drives its rate and never steps it.
_SCHEDULE_CLASS_NAME = re.compile(r"^[A-Z]\w*Schedul(e|er)$")


def class_name_says_scheduler(name: str) -> bool:
    return _SCHEDULE_CLASS_NAME.search(name) is not None


def callee_name(func: cst.BaseExpression | None) -> str:
    """The last name a call's callee is spelled with: ``save`` for ``ckpt.save(...)`` and
    ``save(...)``; "" for anything else (``fns[0](...)``)."""
    if isinstance(func, cst.Name):
        return func.value
    if isinstance(func, cst.Attribute):
        return func.attr.value
    return ""
