"""Where the training step lives in one source file: the harness's own reading of it.

The mutator needs to know, for each function (or the module body of a script or notebook),
which statements run a backward, step an optimizer, step a scheduler, clear, clip, unscale
and update a GradScaler, and where each of those statements sits among its siblings. This
module reads that with LibCST alone and deliberately *not* with optimlint's analysis: the
harness measures optimlint, so it must not share its blind spots. Names decide roles the way
the SPEC's vocabulary does (`optimizer`, `*_opt`, `scheduler`, `scaler`, ...), plus
assignments from the torch classes seen in the same file.

A *unit* is a function, method or the module body (nested functions are units of their
own). A unit that runs a backward and an optimizer step is a *training unit*; its outermost
loop that holds both is its *training loop* (a unit without such a loop is a step function
whose loop is in a caller).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

OPTIMIZER_CLASSES = {
    "SGD", "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "RMSprop", "Adagrad", "Adadelta",
    "ASGD", "Rprop", "LBFGS", "SparseAdam", "Adafactor", "Muon",
}
EPOCH_SCHEDULERS = {
    "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "PolynomialLR",
    "CosineAnnealingWarmRestarts", "ReduceLROnPlateau",
}
BATCH_SCHEDULERS = {"OneCycleLR", "CyclicLR"}
FREE_SCHEDULERS = {"LambdaLR", "MultiplicativeLR", "SequentialLR", "ChainedScheduler", "LinearLR", "ConstantLR"}
ITERATION_WORDS = re.compile(r"len\(|step|iter|total", re.IGNORECASE)
CLIP_NAMES = {"clip_grad_norm_", "clip_grad_value_", "clip_grad_norm"}
LOOPS = (cst.For, cst.While)


def dotted(node: cst.CSTNode | None) -> str | None:
    """`self.optimizer` for an Attribute chain of Names, None for anything else."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        inner = dotted(node.value)
        return f"{inner}.{node.attr.value}" if inner else None
    return None


def last_name(node: cst.CSTNode | None) -> str | None:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return node.attr.value
    return None


def is_optimizer_name(name: str) -> bool:
    leaf = name.rsplit(".", 1)[-1].lower()
    if "sched" in leaf or "scaler" in leaf:
        return False
    return (leaf in {"opt", "optim", "optimizer", "optimiser"} or "optimizer" in leaf or "optimiser" in leaf
            or leaf.startswith("opt_") or leaf.endswith("_opt") or leaf.startswith("optim_")
            or re.fullmatch(r"opt(im)?_?\w{0,3}\d*", leaf) is not None)


def is_scheduler_name(name: str) -> bool:
    leaf = name.rsplit(".", 1)[-1].lower()
    return ("sched" in leaf and "noise" not in leaf) or leaf in {"lr_scheduler"}


def is_scaler_name(name: str) -> bool:
    return "scaler" in name.rsplit(".", 1)[-1].lower()


@dataclass
class Level:
    """One statement on the way from a unit's body down to a call: the block that holds
    it (identified by the node that owns the list) and its index there."""

    owner: cst.CSTNode  # IndentedBlock, Module or SimpleStatementSuite
    index: int
    stmt: cst.CSTNode


@dataclass
class Event:
    kind: str  # backward, step, sched, clear, clip, unscale, update
    call: cst.Call
    receiver: str | None
    path: list[Level]  # outermost first
    line: int

    @property
    def loops(self) -> list[Level]:
        return [lv for lv in self.path if isinstance(lv.stmt, LOOPS)]


@dataclass
class Unit:
    node: cst.CSTNode  # FunctionDef or Module
    qualname: str
    start: int
    end: int
    events: list[Event] = field(default_factory=list)

    def of(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.kind == kind]

    @property
    def is_training(self) -> bool:
        return bool(self.of("backward")) and bool(self.of("step"))

    def training_loops(self) -> list[Level]:
        """Outermost loops of the unit holding both a backward and an optimizer step."""
        found: list[Level] = []
        for step in self.of("step"):
            for level in step.loops:
                if any(any(lv.stmt is level.stmt for lv in b.loops) for b in self.of("backward")):
                    if not any(level.stmt is f.stmt for f in found):
                        found.append(level)
                    break
        return found


class FileSites:
    """Every unit of one module, its events, and the file-wide facts the operators need."""

    def __init__(self, source: str):
        self.source = source
        self.module = cst.parse_module(source)
        self.wrapper = MetadataWrapper(self.module, unsafe_skip_copy=True)
        self.positions = self.wrapper.resolve(PositionProvider)
        self.units: list[Unit] = []
        self.assigned_calls: dict[str, list[cst.Call]] = {}
        self.classes: dict[str, cst.ClassDef] = {}
        self.constructions: list[tuple[cst.Call, list[Level]]] = []
        self.imports_torch = bool(re.search(r"^\s*import torch\s*$|^\s*import torch\s*[,#]", source, re.M))
        self._collect_assignments()
        self._collect_units()

    def line(self, node: cst.CSTNode) -> int:
        return self.positions[node].start.line

    def end_line(self, node: cst.CSTNode) -> int:
        return self.positions[node].end.line

    # -- file-wide facts -------------------------------------------------------------
    def _collect_assignments(self) -> None:
        sites = self

        class Assignments(cst.CSTVisitor):
            def visit_ClassDef(self, node: cst.ClassDef) -> None:
                sites.classes.setdefault(node.name.value, node)

            def visit_Assign(self, node: cst.Assign) -> None:
                if isinstance(node.value, cst.Call):
                    for target in node.targets:
                        name = dotted(target.target)
                        if name:
                            sites.assigned_calls.setdefault(name.rsplit(".", 1)[-1], []).append(node.value)

            def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
                name = dotted(node.target)
                if name and isinstance(node.value, cst.Call):
                    sites.assigned_calls.setdefault(name.rsplit(".", 1)[-1], []).append(node.value)

        self.module.visit(Assignments())

    def built_by(self, receiver: str | None) -> set[str]:
        """Class or factory names that `receiver` (by its last name) is assigned from."""
        if not receiver:
            return set()
        calls = self.assigned_calls.get(receiver.rsplit(".", 1)[-1], [])
        return {n for n in (last_name(c.func) for c in calls) if n}

    def scheduler_calls(self, receiver: str | None) -> list[cst.Call]:
        if not receiver:
            return []
        return [c for c in self.assigned_calls.get(receiver.rsplit(".", 1)[-1], [])
                if (last_name(c.func) or "") in EPOCH_SCHEDULERS | BATCH_SCHEDULERS | FREE_SCHEDULERS
                or re.match(r"get_\w*schedule", last_name(c.func) or "")]

    def scheduler_granularity(self, receiver: str | None) -> tuple[str, str | None]:
        """('epoch'|'batch'|'free'|'unknown', class name) for the scheduler `receiver`."""
        calls = self.scheduler_calls(receiver)
        if len(calls) != 1:
            return ("unknown" if not calls else "ambiguous"), None
        call = calls[0]
        name = last_name(call.func) or ""
        if name in FREE_SCHEDULERS:
            return "free", name
        if name in BATCH_SCHEDULERS or name.startswith("get_"):
            return "batch", name
        periods = [a for a in call.args[1:] if not (a.keyword and a.keyword.value in {"gamma", "eta_min", "last_epoch", "verbose", "mode", "factor", "min_lr", "T_mult", "power"})]
        text = " ".join(self.module.code_for_node(a.value) for a in periods)
        if name == "ReduceLROnPlateau":
            return "epoch", name
        return ("batch" if ITERATION_WORDS.search(text) else "epoch"), name

    # -- units and events --------------------------------------------------------------
    def _collect_units(self) -> None:
        module_unit = Unit(self.module, "<module>", 1, max(1, len(self.source.splitlines())))
        self.units.append(module_unit)
        self._walk_body(self.module, self.module.body, [], module_unit, "")

    def _walk_body(self, owner: cst.CSTNode, body, path: list[Level], unit: Unit, prefix: str) -> None:
        for index, stmt in enumerate(body):
            level = Level(owner, index, stmt)
            here = path + [level]
            if isinstance(stmt, cst.FunctionDef):
                qual = f"{prefix}{stmt.name.value}"
                inner = Unit(stmt, qual, self.line(stmt), self.end_line(stmt))
                self.units.append(inner)
                self._walk_suite(stmt.body, [], inner, qual + ".")
                continue
            if isinstance(stmt, cst.ClassDef):
                self._walk_suite(stmt.body, path, _Discard(), f"{prefix}{stmt.name.value}.")
                continue
            if isinstance(stmt, cst.SimpleStatementLine):
                self._events_in(stmt, here, unit)
                continue
            self._compound(stmt, here, unit, prefix)

    def _walk_suite(self, suite, path, unit, prefix) -> None:
        if isinstance(suite, cst.IndentedBlock):
            self._walk_body(suite, suite.body, path, unit, prefix)
        elif isinstance(suite, cst.SimpleStatementSuite):
            for index, small in enumerate(suite.body):
                self._events_in(small, path + [Level(suite, index, small)], unit)

    def _compound(self, stmt, here, unit, prefix) -> None:
        headers = []
        if isinstance(stmt, (cst.If, cst.While)):
            headers.append(stmt.test)
        if isinstance(stmt, cst.For):
            headers.append(stmt.iter)
        if isinstance(stmt, cst.With):
            headers.extend(item.item for item in stmt.items)
        for header in headers:
            self._events_in(header, here, unit)
        for suite in _suites(stmt):
            self._walk_suite(suite, here, unit, prefix)
        if isinstance(stmt, cst.If) and isinstance(stmt.orelse, cst.If):
            self._compound(stmt.orelse, here, unit, prefix)  # elif: part of the same statement

    def _events_in(self, node, path, unit) -> None:
        if isinstance(unit, _Discard):
            return
        sites = self

        class Calls(cst.CSTVisitor):
            def visit_Lambda(self, node):  # a lambda's body runs elsewhere
                return False

            def visit_Call(self, call: cst.Call) -> None:
                kind, receiver = sites.classify(call)
                if kind:
                    unit.events.append(Event(kind, call, receiver, path, sites.line(call)))
                if (last_name(call.func) or "") in OPTIMIZER_CLASSES:
                    sites.constructions.append((call, path))

        node.visit(Calls())

    def classify(self, call: cst.Call) -> tuple[str | None, str | None]:
        func = call.func
        if not isinstance(func, cst.Attribute):
            return None, None
        method = func.attr.value
        receiver = dotted(func.value)
        nargs = len(call.args)
        if method == "backward":
            if receiver and ("engine" in receiver.lower() or receiver == "torch.autograd"):
                return None, None
            if receiver and receiver.rsplit(".", 1)[-1] in {"accelerator", "fabric", "manual_backward"}:
                return "backward", receiver
            return "backward", receiver
        if method == "manual_backward":
            return "backward", receiver
        if method in CLIP_NAMES:
            return "clip", receiver
        if method == "zero_grad":
            return "clear", receiver
        if method == "unscale_":
            return "unscale", receiver
        if method == "update" and nargs == 0 and receiver and (is_scaler_name(receiver) or "GradScaler" in self.built_by(receiver)):
            return "update", receiver
        if method == "step":
            if receiver and (is_scaler_name(receiver) or "GradScaler" in self.built_by(receiver)):
                return ("step", dotted(call.args[0].value)) if nargs else (None, None)
            if not receiver or nargs > 1:
                return None, None
            built = self.built_by(receiver)
            if built & OPTIMIZER_CLASSES or (is_optimizer_name(receiver) and not built & (EPOCH_SCHEDULERS | BATCH_SCHEDULERS | FREE_SCHEDULERS)):
                return "step", receiver
            if is_scheduler_name(receiver) or built & (EPOCH_SCHEDULERS | BATCH_SCHEDULERS | FREE_SCHEDULERS) or any(
                re.match(r"get_\w*schedule", b) for b in built
            ):
                return "sched", receiver
        return None, None


class _Discard(Unit):
    """Class bodies hold no statements of a unit (their methods are units of their own)."""

    def __init__(self):
        super().__init__(cst.Module(body=[]), "", 0, 0)


def _suites(stmt) -> list:
    out = []
    if isinstance(stmt, (cst.If, cst.For, cst.While, cst.With, cst.Try)):
        out.append(stmt.body)
    if isinstance(stmt, cst.If) and isinstance(stmt.orelse, cst.Else):
        out.append(stmt.orelse.body)
    if isinstance(stmt, (cst.For, cst.While)) and stmt.orelse is not None:
        out.append(stmt.orelse.body)
    if isinstance(stmt, cst.Try):
        out.extend(h.body for h in stmt.handlers)
        if stmt.orelse is not None:
            out.append(stmt.orelse.body)
        if stmt.finalbody is not None:
            out.append(stmt.finalbody.body)
    return [s for s in out if s is not None]
