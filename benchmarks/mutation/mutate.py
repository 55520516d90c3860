"""Bug-injecting mutation operators for PyTorch training loops (issue 13's harness).

Each operator takes one file's `FileSites` and yields `Mutant`s: the whole mutated source,
the rule code that should report it, and the region (rows of the mutant) where that code
must appear. One mutant carries exactly one injected mistake. Every mutant is re-parsed
before it is kept; an operator that cannot build a parseable mutant at a site skips it.

Some mutants are *equivalent* (the change is not a bug there, or the mutant is not a
program anyone would run): the operator still emits them, with `excluded` set to the
reason, so the runner counts them apart and the report can say why. The reasons are fixed
strings (`EXCLUSIONS`), one per class, so the table can group them.

Usage: python benchmarks/mutation/mutate.py FILE [--operator NAME] [--show]
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import libcst as cst

sys.path.insert(0, str(Path(__file__).resolve().parent))

from editing import Edit, remove_call_statement  # noqa: E402
from training_sites import (  # noqa: E402
    LOOPS, OPTIMIZER_CLASSES, Event, FileSites, Level, Unit, dotted, is_optimizer_name, is_scaler_name, last_name,
)

EXCLUSIONS = {
    "other-clearing": "the loop also clears with `p.grad = None` / `.grad.zero_()`: deleting zero_grad leaves the gradients cleared",
    "metric-step": "a metric-driven scheduler step (`scheduler.step(val_loss)`) moved away from its metric: the mutant reads a metric that does not exist yet, not an order bug",
    "reads-moved-name": "the moved statement binds or reads a name the statements it jumps over use: the mutant would not run (NameError), not a realistic bug",
    "granularity-free": "the scheduler has no fixed granularity (LambdaLR, SequentialLR, LinearLR, ...): stepping it per batch or per epoch can both be intended",
    "granularity-unknown": "the scheduler's class is not visible in the file (built elsewhere or from a config): whether the move is a bug cannot be told by reading the file",
    "already-right-place": "the move puts the scheduler where its class wants it (an iteration-period scheduler into the batch loop, an epoch scheduler out of it): the mutant fixes rather than breaks",
    "frozen-or-trained-elsewhere": "the dropped submodule is frozen or, by its name, trained by another optimizer (teacher, ema, target, discriminator, critic): leaving it out is intended",
    "sum-under-no-grad": "the running sum is taken under `torch.no_grad()`: the total keeps no graph",
    "sum-of-evaluation-loss": "the running sum is in a loop that backpropagates nothing of that name (an evaluation pass after the training loop): OPT601 is about the backpropagated loss",
    "number-conversion": "the detached read sits inside `float(...)` / `int(...)`, which returns a Python number: without `.item()` the total still keeps no graph",
    "original-reports-the-evaluation": "delete-train-mode where the original already reports OPT603 at an evaluation the deleted `.train()` calls would have restored from (MONAI's swin UNETR notebook: validation inside the step loop never restores training mode): the mistake the mutant makes is reported before the mutation",
    "original-has-it": "the original already reports the expected code at the mutated statement (TCN's clip before the backward): the mistake is there before the mutation, so moving the statement cannot add one",
    "train-mode-redundant": "no evaluation of the trained module runs between training iterations (no `.eval()` of it, nor a function of the file that leaves a module in eval mode, in the training loop or in a loop calling it; an EMA copy or a frozen backbone in eval mode does not count): a module starts in training mode, so the deleted `.train()` changed nothing",
    "measure-only-clip": "the clip has no bound (`clip_grad_norm_(params, float('inf'))`, `clip_grad_value_(params, None)`): it only measures the gradients for a log, so moving it changes no update",
    "held-by-another-optimizer": "another optimizer of the file is built over the dropped submodule or a module holding it (InfoGAN's `Adam(chain(generator.parameters(), ...))`): its parameters are still updated, which is all OPT401 asks",
}

PARAMETERLESS = {"ReLU", "GELU", "SiLU", "Tanh", "Sigmoid", "Dropout", "Dropout2d", "Identity", "MaxPool2d",
                 "AvgPool2d", "AdaptiveAvgPool2d", "AdaptiveAvgPool1d", "Flatten", "Softmax", "LogSoftmax",
                 "LeakyReLU", "MaxPool1d", "Upsample", "CrossEntropyLoss", "MSELoss", "L1Loss", "BCELoss",
                 "BCEWithLogitsLoss", "NLLLoss", "Parameter", "tensor", "zeros", "ones", "randn", "Tensor"}
TRAINED_ELSEWHERE = re.compile(r"teacher|ema|target|disc|critic|momentum|key_enc|frozen|clip_model|vae|text_encoder", re.I)


@dataclass
class Mutant:
    operator: str
    code: str
    unit: str
    loop_line: int  # the training loop's row in the original (the def's row for a step function)
    site_line: int  # the mutated statement's row in the original
    source: str
    region: tuple[int, int]  # rows of the mutant where `code` is expected
    original_region: tuple[int, int]  # the same region in the original
    excluded: str | None = None  # a key of EXCLUSIONS
    # the optimizer the mutant is about: a finding of `code` naming it counts wherever it is reported
    # (OPT104 names an optimizer no pass steps at its construction, which may be outside the unit)
    subject: str | None = None
    # delete-train-mode: rows of the original's evaluations that the deleted `.train()` calls
    # would have restored from (`.eval()` of the trained module, or in an evaluator the loop calls)
    evaluations: tuple[int, ...] = ()


# -- helpers -----------------------------------------------------------------------------

def common(a: Event, b: Event) -> tuple[Level, Level] | None:
    """The two statements, siblings in one block, that hold `a` and `b`, or None."""
    for la, lb in zip(a.path, b.path):
        if la.stmt is lb.stmt:
            continue
        return (la, lb) if la.owner is lb.owner else None
    return None


def movable(level: Level) -> bool:
    return isinstance(level.owner, (cst.IndentedBlock, cst.Module))


def holds_only(unit: Unit, level: Level, kinds: set[str]) -> bool:
    """Whether the statement holds no training event but those of `kinds` (a moved statement
    must carry one mistake, not a whole step)."""
    return all(e.kind in kinds for e in unit.events if any(lv.stmt is level.stmt for lv in e.path))


def loop_line(sites: FileSites, unit: Unit, event: Event) -> int:
    loops = unit.training_loops()
    for level in event.loops:
        if any(level.stmt is lp.stmt for lp in loops):
            return sites.line(level.stmt)
    return sites.line(loops[0].stmt) if loops else unit.start


def names_bound(node: cst.CSTNode) -> set[str]:
    """Plain names a statement binds (assignment and loop targets, `with ... as`, `:=`)."""
    out: set[str] = set()

    def targets(t: cst.CSTNode) -> None:
        if isinstance(t, cst.Name):
            out.add(t.value)
        elif isinstance(t, (cst.Tuple, cst.List)):
            for el in t.elements:
                targets(el.value)
        elif isinstance(t, cst.StarredElement):
            targets(t.value)

    class V(cst.CSTVisitor):
        def visit_AssignTarget(self, n):
            targets(n.target)

        def visit_AugAssign(self, n):
            targets(n.target)

        def visit_AnnAssign(self, n):
            targets(n.target)

        def visit_For(self, n):
            targets(n.target)

        def visit_AsName(self, n):
            targets(n.name)

        def visit_NamedExpr(self, n):
            targets(n.target)

    node.visit(V())
    return out


def names_read(node: cst.CSTNode) -> set[str]:
    return {n.value for n in _names(node)}


def _names(node: cst.CSTNode) -> list[cst.Name]:
    found: list[cst.Name] = []

    class V(cst.CSTVisitor):
        def visit_Name(self, n):
            found.append(n)

        def visit_Attribute(self, n):
            n.value.visit(self)
            return False

    node.visit(V())
    return found


def between(a: Level, b: Level) -> list[cst.CSTNode]:
    """Statements of the block strictly between two siblings, in either order."""
    body = a.owner.body
    lo, hi = sorted((a.index, b.index))
    return list(body[lo + 1:hi])


class Builder:
    """Collects one file's mutants, re-parsing each."""

    def __init__(self, sites: FileSites):
        self.sites = sites
        self.mutants: list[Mutant] = []
        self.total_lines = len(sites.source.splitlines())

    def add(self, operator: str, code: str, unit: Unit, event_line: int, loop: int, edit: Edit,
            excluded: str | None = None, region: tuple[int, int] | None = None,
            subject: str | None = None, evaluations: tuple[int, ...] = ()) -> None:
        try:
            text = edit.apply(self.sites.module)
            cst.parse_module(text)
        except Exception:  # a mutant that does not parse is never kept
            return
        if text == self.sites.source:
            return
        start, end = region or (unit.start, unit.end)
        delta = len(text.splitlines()) - self.total_lines
        self.mutants.append(Mutant(operator, code, unit.qualname, loop, event_line, text,
                                   (start, end + delta), (start, end), excluded, subject, evaluations))


def training_units(sites: FileSites) -> list[Unit]:
    return [u for u in sites.units if u.is_training]


# -- the operators -----------------------------------------------------------------------

def delete_clear(b: Builder, unit: Unit) -> None:
    """OPT101: delete every `zero_grad()` of the training unit."""
    clears = unit.of("clear")
    if not clears:
        return
    edit = Edit()
    if not all(remove_call_statement(edit, e.path[-1], e.call) for e in clears):
        return
    text = b.sites.module.code_for_node(unit.node)
    other = re.search(r"\.grad\s*=\s*None|\.grad(\.data)?\.zero_\(\)", text)
    b.add("delete-clear", "OPT101", unit, clears[0].line, loop_line(b.sites, unit, clears[0]), edit,
          "other-clearing" if other else None)


def swap_scheduler_optimizer(b: Builder, unit: Unit) -> None:
    """OPT201: move the scheduler step before the optimizer step it follows (in the same
    block, or before the batch loop that holds the optimizer step)."""
    for sched in unit.of("sched"):
        pairs = [(common(step, sched), step) for step in unit.of("step")]
        pairs = [(p, s) for p, s in pairs if p and p[0].index < p[1].index and movable(p[1])
                 and holds_only(unit, p[1], {"sched"})]
        if not pairs:
            continue
        (step_level, sched_level), step = max(pairs, key=lambda ps: ps[0][0].index)
        excluded = None
        if sched.call.args:
            excluded = "metric-step"
        elif names_bound(sched_level.stmt) & set().union(*(names_read(s) for s in [step_level.stmt, *between(step_level, sched_level)])):
            excluded = "reads-moved-name"
        b.add("swap-scheduler-optimizer", "OPT201", unit, sched.line, loop_line(b.sites, unit, step),
              Edit().move_before(sched_level, step_level), excluded)


NO_BOUND = re.compile(r"^(None|float\(\s*['\"]inf['\"]\s*\)|(math|np|numpy|torch)\.inf|inf)$")
BOUND_KEYWORDS = {"max_norm", "clip_value", "max_value", "value", "clip"}


def _measure_only(call: cst.Call) -> str | None:
    """`clip_grad_norm_(params, float('inf'))`, `clip_grad_value_(params, None)`: a clip with no
    bound only measures the gradients (for a log), so moving it changes no update."""
    bounds = [a.value for i, a in enumerate(call.args)
              if (a.keyword is None and i >= 1) or (a.keyword is not None and a.keyword.value in BOUND_KEYWORDS)]
    if bounds and all(NO_BOUND.match(cst.Module([]).code_for_node(v).strip()) for v in bounds[:1]):
        return "measure-only-clip"
    return None


def clip_after_step(b: Builder, unit: Unit) -> None:
    """OPT105: move the clip to just after the optimizer step."""
    for clip in unit.of("clip"):
        for step in unit.of("step"):
            pair = common(clip, step)
            if not pair or pair[0].index > pair[1].index or not movable(pair[0]) or not holds_only(unit, pair[0], {"clip", "unscale"}):
                continue
            clip_level, step_level = pair
            jumped = [*between(clip_level, step_level), step_level.stmt]
            excluded = "reads-moved-name" if names_bound(clip_level.stmt) & set().union(*(names_read(s) for s in jumped)) else None
            excluded = excluded or _measure_only(clip.call)
            b.add("clip-after-step", "OPT105", unit, clip.line, loop_line(b.sites, unit, clip),
                  Edit().move_after(clip_level, step_level), excluded)
            break


def clip_before_backward(b: Builder, unit: Unit) -> None:
    """OPT105: move the clip to just before the backward."""
    for clip in unit.of("clip"):
        for backward in unit.of("backward"):
            pair = common(backward, clip)
            if not pair or pair[0].index > pair[1].index or not movable(pair[1]) or not holds_only(unit, pair[1], {"clip", "unscale"}):
                continue
            backward_level, clip_level = pair
            jumped = [backward_level.stmt, *between(backward_level, clip_level)]
            excluded = "reads-moved-name" if names_read(clip_level.stmt) & set().union(*(names_bound(s) for s in jumped)) else None
            excluded = excluded or _measure_only(clip.call)
            b.add("clip-before-backward", "OPT105", unit, clip.line, loop_line(b.sites, unit, clip),
                  Edit().move_before(clip_level, backward_level), excluded)
            break


def drop_unscale(b: Builder, unit: Unit) -> None:
    """OPT503: delete `scaler.unscale_(opt)` that precedes a clip."""
    for unscale in unit.of("unscale"):
        if not any((p := common(unscale, clip)) and p[0].index < p[1].index for clip in unit.of("clip")):
            continue
        edit = Edit()
        if remove_call_statement(edit, unscale.path[-1], unscale.call):
            b.add("drop-unscale", "OPT503", unit, unscale.line, loop_line(b.sites, unit, unscale), edit)


def _window_condition(test: cst.CSTNode, module: cst.Module) -> bool:
    text = module.code_for_node(test)
    return bool(re.search(r"%|sync_gradients|accum", text)) and not re.search(r"log|print|save|eval|val", text, re.I)


def clear_inside_window(b: Builder, unit: Unit) -> None:
    """OPT106: move the clear that follows a windowed step to the top of the micro-batch
    loop, so it runs on every micro-batch."""
    module = b.sites.module
    for clear in unit.of("clear"):
        for step in unit.of("step"):
            pair = common(step, clear)
            if not pair or pair[0].index > pair[1].index:
                continue
            depth = next(i for i, lv in enumerate(step.path) if lv.stmt is pair[0].stmt)
            # (a) step and clear under an accumulation condition, in a loop
            guards = [i for i, lv in enumerate(step.path[:depth])
                      if isinstance(lv.stmt, cst.If) and _window_condition(lv.stmt.test, module)]
            loops = [lv for lv in step.path[:depth] if isinstance(lv.stmt, LOOPS)]
            target = None
            if guards and loops:
                target = loops[-1].stmt.body
            # (b) a step after an inner loop of backward passes: clear inside that loop; the
            # step and the clear share an enclosing loop (not two cells of a notebook)
            elif loops:
                for sibling in pair[0].owner.body[:pair[0].index]:
                    if isinstance(sibling, LOOPS) and any(any(lv.stmt is sibling for lv in bw.path) for bw in unit.of("backward")):
                        target = sibling.body
            if target is None or not isinstance(target, cst.IndentedBlock):
                continue
            clear_level = clear.path[-1]
            if not isinstance(clear_level.stmt, cst.SimpleStatementLine) or len(clear_level.stmt.body) != 1:
                continue
            edit = Edit().remove(clear_level).insert_first(target, clear_level.stmt)
            b.add("clear-inside-window", "OPT106", unit, clear.line, loop_line(b.sites, unit, clear), edit)
            return


def epoch_scheduler_into_batch(b: Builder, unit: Unit) -> None:
    """OPT202: move a scheduler stepped after the batch loop into it, after the step."""
    for sched in unit.of("sched"):
        for step in unit.of("step"):
            pair = common(step, sched)
            if not pair or pair[0].index > pair[1].index or not movable(pair[1]) or not holds_only(unit, pair[1], {"sched"}):
                continue
            depth = next(i for i, lv in enumerate(step.path) if lv.stmt is pair[0].stmt)
            inner = [i for i in range(depth, len(step.path)) if isinstance(step.path[i].stmt, LOOPS)]
            if not inner or not any(isinstance(lv.stmt, LOOPS) for lv in sched.path):
                continue
            anchor = step.path[inner[0] + 1]  # the statement of the batch loop's body holding the step
            granularity, _ = b.sites.scheduler_granularity(sched.receiver)
            excluded = _granularity_exclusion(granularity, "epoch", sched)
            b.add("epoch-scheduler-into-batch", "OPT202", unit, sched.line, loop_line(b.sites, unit, step),
                  Edit().remove(pair[1]).insert_after(anchor, pair[1].stmt), excluded)
            break


def batch_scheduler_out_of_batch(b: Builder, unit: Unit) -> None:
    """OPT203: move a scheduler stepped in the batch loop (after the step) out of it, to
    just after that loop."""
    for sched in unit.of("sched"):
        for step in unit.of("step"):
            pair = common(step, sched)
            if not pair or pair[0].index > pair[1].index or not movable(pair[1]) or not holds_only(unit, pair[1], {"sched"}):
                continue
            if not sched.loops or not step.loops or sched.loops[-1].stmt is not step.loops[-1].stmt:
                continue  # the scheduler is not in the loop that steps the optimizer
            batch_loop = sched.loops[-1]
            if not movable(batch_loop):
                continue
            granularity, _ = b.sites.scheduler_granularity(sched.receiver)
            excluded = _granularity_exclusion(granularity, "batch", sched)
            b.add("batch-scheduler-out-of-batch", "OPT203", unit, sched.line, loop_line(b.sites, unit, step),
                  Edit().remove(pair[1]).insert_after(batch_loop, pair[1].stmt), excluded)
            break


def _granularity_exclusion(granularity: str, wanted: str, sched: Event) -> str | None:
    if sched.call.args:
        return "metric-step"
    if granularity in {"unknown", "ambiguous"}:
        return "granularity-unknown"
    if granularity == "free":
        return "granularity-free"
    return None if granularity == wanted else "already-right-place"


def _torch_optimizer_call(sites: FileSites, call: cst.Call) -> bool:
    """A construction that resolves to torch.optim by reading the file's imports."""
    func = dotted(call.func) or ""
    parts = func.split(".")
    if parts[-1] not in OPTIMIZER_CLASSES - {"Adafactor", "Muon"}:
        return False
    src = sites.source
    if len(parts) >= 2 and parts[-2] == "optim":
        return "torch" in src
    if len(parts) == 1:
        return bool(re.search(rf"from torch\.optim import[^\n]*\b{parts[0]}\b|from torch\.optim import \(", src))
    return bool(re.search(rf"import torch\.optim as {re.escape(parts[-2])}\b", src))


def _construction_region(sites: FileSites, path: list) -> tuple[int, int]:
    stmt = path[-1].stmt
    return sites.line(stmt), sites.end_line(stmt)


def _unit_of(sites: FileSites, call: cst.Call) -> Unit:
    line = sites.line(call)
    inner = [u for u in sites.units if u.start <= line <= u.end]
    return max(inner, key=lambda u: u.start)


def adam_weight_decay(b: Builder, call: cst.Call, path: list) -> None:
    """OPT302: an Adam-family construction becomes `torch.optim.Adam(..., weight_decay=0.05)`
    (the AdamW recipe's value, with Adam's coupled decay)."""
    sites = b.sites
    if (last_name(call.func) or "") not in {"Adam", "AdamW"} or not sites.imports_torch:
        return
    def make(node: cst.Call) -> cst.Call:
        args = [a for a in node.args if not (a.keyword and a.keyword.value == "weight_decay")]
        args = [a.with_changes(comma=cst.MaybeSentinel.DEFAULT) for a in args]
        args.append(cst.Arg(cst.Float("0.05"), keyword=cst.Name("weight_decay"), equal=TIGHT))
        return node.with_changes(func=cst.parse_expression("torch.optim.Adam"), args=args)
    unit = _unit_of(sites, call)
    b.add("adam-weight-decay", "OPT302", unit, sites.line(call), sites.line(call),
          Edit().replace(call, make), region=_construction_region(sites, path))


KERAS = {"lr": "learning_rate", "eps": "epsilon"}
TIGHT = cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace(""))


def keras_kwargs(b: Builder, call: cst.Call, path: list) -> None:
    """OPT301: torch keywords renamed to Keras's (`learning_rate`, `epsilon`, `beta_1`/`beta_2`,
    `rho` for RMSprop), or Keras's `epsilon=1e-07` added when none is there to rename."""
    sites = b.sites
    if not _torch_optimizer_call(sites, call):
        return
    cls = (last_name(call.func) or "")
    def make(node: cst.Call) -> cst.Call:
        out, renamed = [], False
        for a in node.args:
            key = a.keyword.value if a.keyword else None
            if key in KERAS:
                out.append(a.with_changes(keyword=cst.Name(KERAS[key])))
                renamed = True
            elif key == "alpha" and cls == "RMSprop":
                out.append(a.with_changes(keyword=cst.Name("rho")))
                renamed = True
            elif key == "betas" and isinstance(a.value, cst.Tuple) and len(a.value.elements) == 2:
                b1, b2 = (e.value for e in a.value.elements)
                out.append(cst.Arg(b1, keyword=cst.Name("beta_1"), equal=TIGHT))
                out.append(a.with_changes(value=b2, keyword=cst.Name("beta_2")))
                renamed = True
            else:
                out.append(a)
        if not renamed:
            out = [a.with_changes(comma=cst.MaybeSentinel.DEFAULT) for a in out]
            out.append(cst.Arg(cst.Float("1e-07"), keyword=cst.Name("epsilon"), equal=TIGHT))
        return node.with_changes(args=out)
    unit = _unit_of(sites, call)
    b.add("keras-kwargs", "OPT301", unit, sites.line(call), sites.line(call),
          Edit().replace(call, make), region=_construction_region(sites, path))


def drop_group_submodule(b: Builder, call: cst.Call, path: list) -> None:
    """OPT401: leave one submodule of the model out of the optimizer's groups — drop the
    last group of a `[{"params": model.a.parameters()}, ...]` split, or split
    `model.parameters()` over the submodules its class (defined in the file) builds."""
    sites = b.sites
    if not call.args or call.args[0].keyword:
        return
    first = call.args[0].value
    unit = _unit_of(sites, call)
    region = _construction_region(sites, path)
    # at least two groups must remain: one group is a single-module optimizer (linear
    # probing), which OPT401 leaves alone by design
    if isinstance(first, cst.List) and len(first.elements) >= 3:
        subs = []
        for el in first.elements:
            if not isinstance(el.value, cst.Dict):
                return
            params = next((e.value for e in el.value.elements if isinstance(e, cst.DictElement)
                           and isinstance(e.key, cst.SimpleString) and e.key.evaluated_value == "params"), None)
            name = dotted(params.func.value) if isinstance(params, cst.Call) and isinstance(params.func, cst.Attribute) \
                and params.func.attr.value == "parameters" else None
            if not name or "." not in name:
                return
            subs.append(name)
        if len({s.rsplit(".", 1)[0] for s in subs}) != 1:
            return
        dropped = subs[-1].rsplit(".", 1)[-1]
        def make(node: cst.Call) -> cst.Call:
            elements = list(node.args[0].value.elements[:-1])
            elements[-1] = elements[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
            return node.with_changes(args=[node.args[0].with_changes(value=node.args[0].value.with_changes(elements=elements)), *node.args[1:]])
        b.add("drop-group-submodule", "OPT401", unit, sites.line(call), sites.line(call), Edit().replace(call, make),
              _frozen(sites, dropped) or _held_elsewhere(sites, call, subs[-1]), region)
        return
    if not (isinstance(first, cst.Call) and isinstance(first.func, cst.Attribute) and first.func.attr.value == "parameters"
            and isinstance(first.func.value, cst.Name) and not first.args):
        return
    model = first.func.value.value
    classes = [last_name(c.func) for c in sites.assigned_calls.get(model, [])]
    if len(classes) != 1 or classes[0] not in sites.classes:
        return
    subs = _submodules(sites.classes[classes[0]])
    if len(subs) < 3:
        return
    kept, dropped = subs[:-1], subs[-1]
    groups = ", ".join(f'{{"params": {model}.{s}.parameters()}}' for s in kept)
    new_arg = cst.parse_expression(f"[{groups}]")
    def make(node: cst.Call) -> cst.Call:
        return node.with_changes(args=[node.args[0].with_changes(value=new_arg), *node.args[1:]])
    b.add("drop-group-submodule", "OPT401", unit, sites.line(call), sites.line(call), Edit().replace(call, make),
          _frozen(sites, dropped) or _held_elsewhere(sites, call, f"{model}.{dropped}"), region)


def _submodules(cls: cst.ClassDef) -> list[str]:
    init = next((s for s in cls.body.body if isinstance(s, cst.FunctionDef) and s.name.value == "__init__"), None)
    if init is None:
        return []
    subs: list[str] = []

    class V(cst.CSTVisitor):
        def visit_Assign(self, node: cst.Assign) -> None:
            if not isinstance(node.value, cst.Call) or len(node.targets) != 1:
                return
            target = node.targets[0].target
            name = last_name(node.value.func) or ""
            if (isinstance(target, cst.Attribute) and dotted(target.value) == "self" and name[:1].isupper()
                    and name not in PARAMETERLESS and target.attr.value not in subs):
                subs.append(target.attr.value)

    init.visit(V())
    return subs


def _held_elsewhere(sites: FileSites, call: cst.Call, path: str) -> str | None:
    """``path`` (``generator.l1``), or a module holding it (``generator``), is read in the
    arguments of another optimizer construction of the file."""
    prefixes = {".".join(path.split(".")[:i]) for i in range(1, path.count(".") + 2)}

    class Finder(cst.CSTVisitor):
        found = False

        def visit_Call(self, node: cst.Call) -> None:
            if node is call or (last_name(node.func) or "") not in OPTIMIZER_CLASSES:
                return
            for sub in _dotted_in(node):
                if sub in prefixes:
                    Finder.found = True

    sites.module.visit(Finder())
    return "held-by-another-optimizer" if Finder.found else None


def _dotted_in(node: cst.CSTNode) -> set[str]:
    """Dotted names read anywhere inside ``node`` (``generator.parameters`` gives ``generator``
    and ``generator.parameters``)."""
    out: set[str] = set()

    class V(cst.CSTVisitor):
        def visit_Attribute(self, n: cst.Attribute) -> None:
            d = dotted(n)
            if d:
                out.add(d)
                out.add(d.rsplit(".", 1)[0])

        def visit_Name(self, n: cst.Name) -> None:
            out.add(n.value)

    node.visit(V())
    return out


def _frozen(sites: FileSites, sub: str) -> str | None:
    if TRAINED_ELSEWHERE.search(sub) or re.search(rf"\b{re.escape(sub)}\b[^\n]*requires_grad", sites.source):
        return "frozen-or-trained-elsewhere"
    return None


DETACHED = re.compile(r"^(?P<n>\w+)(\.detach\(\))?(\.cpu\(\))?(\.data)?\.item\(\)$|^(?P<m>\w+)\.(detach\(\)|data)$|^float\((?P<f>\w+)\)$")


def _backpropagated_in(loop: cst.CSTNode) -> set[str]:
    """Names read by the `.backward()` calls inside `loop` (its receivers and arguments)."""
    found: set[str] = set()

    class V(cst.CSTVisitor):
        def visit_Call(self, call: cst.Call) -> None:
            if isinstance(call.func, cst.Attribute) and call.func.attr.value in ("backward", "manual_backward"):
                found.update(names_read(call))

    loop.visit(V())
    return found


def loss_without_item(b: Builder, unit: Unit) -> None:
    """OPT601: `total += loss.item()` of a backpropagated loss becomes `total += loss`."""
    module = b.sites.module
    backed = {n for e in unit.of("backward") for n in names_read(e.call) | (
        {dotted(e.call.func.value)} if isinstance(e.call.func, cst.Attribute) else set())}
    done: set[int] = set()

    class V(cst.CSTVisitor):
        def __init__(self):
            self.no_grad = 0
            self.loops: list[cst.CSTNode] = []

        def visit_For(self, node):
            self.loops.append(node)

        def leave_For(self, node):
            self.loops.pop()

        def visit_While(self, node):
            self.loops.append(node)

        def leave_While(self, node):
            self.loops.pop()

        def visit_With(self, node):
            if re.search(r"no_grad|inference_mode", module.code_for_node(node.items[0])):
                self.no_grad += 1

        def leave_With(self, node):
            if re.search(r"no_grad|inference_mode", module.code_for_node(node.items[0])):
                self.no_grad -= 1

        def visit_FunctionDef(self, node):
            return node is unit.node

        def visit_AugAssign(self, node: cst.AugAssign) -> None:
            if not isinstance(node.operator, cst.AddAssign) or id(node) in done:
                return
            hits = []

            class Find(cst.CSTVisitor):
                def visit_Call(self, c):
                    m = DETACHED.match(module.code_for_node(c))
                    if m and (m.group("n") or m.group("f")) in backed:
                        hits.append((c, m.group("n") or m.group("f")))
                        return False

                def visit_Attribute(self, a):
                    m = DETACHED.match(module.code_for_node(a))
                    if m and m.group("m") in backed:
                        hits.append((a, m.group("m")))
                        return False

            node.value.visit(Find())
            if not hits:
                return
            done.add(id(node))
            target, name = hits[0]
            edit = Edit().replace(target, lambda _n, name=name: cst.Name(name))
            line = b.sites.line(node)
            converted = re.search(r"\b(float|int)\(\s*" + re.escape(module.code_for_node(target)) + r"\s*\)",
                                  module.code_for_node(node.value))
            evaluation = bool(self.loops) and name not in _backpropagated_in(self.loops[-1])
            b.add("loss-without-item", "OPT601", unit, line, _loop_at(b.sites, unit, line), edit,
                  "sum-under-no-grad" if self.no_grad else "number-conversion" if converted else
                  "sum-of-evaluation-loss" if evaluation else None)

    unit.node.visit(V()) if isinstance(unit.node, cst.FunctionDef) else _visit_module_body(unit.node, V())


def _visit_module_body(module: cst.Module, visitor: cst.CSTVisitor) -> None:
    for stmt in module.body:
        if not isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            stmt.visit(visitor)


def _loop_at(sites: FileSites, unit: Unit, line: int) -> int:
    for loop in unit.training_loops():
        if sites.line(loop.stmt) <= line <= sites.end_line(loop.stmt):
            return sites.line(loop.stmt)
    return unit.start


def backward_in_no_grad(b: Builder, unit: Unit) -> None:
    """OPT602: run the loss's computation and its backward under `torch.no_grad()` (the
    statements from the last one binding the loss through the backward). Wrapping the
    backward alone is no bug: a graph built outside `no_grad` backpropagates inside it."""
    if not b.sites.imports_torch:
        return
    for backward in unit.of("backward"):
        level = backward.path[-1]
        if not isinstance(level.stmt, cst.SimpleStatementLine) or not movable(level):
            continue
        loss = _loss_name(backward.call)
        body = level.owner.body
        start = next((i for i in range(level.index - 1, -1, -1) if loss in names_bound(body[i])), None)
        if start is None:
            continue
        stmts = list(body[start:level.index + 1])
        wrapped = cst.With(items=[cst.WithItem(cst.parse_expression("torch.no_grad()"))],
                           body=cst.IndentedBlock([stmts[0].with_changes(leading_lines=[]), *stmts[1:]]),
                           leading_lines=stmts[0].leading_lines)
        edit = Edit()
        for i in range(start, level.index + 1):
            edit.remove(Level(level.owner, i, body[i]))
        edit.insert_before(Level(level.owner, start, body[start]), wrapped)
        b.add("backward-in-no-grad", "OPT602", unit, backward.line, loop_line(b.sites, unit, backward), edit)
        return


def _loss_name(call: cst.Call) -> str | None:
    """The name holding the loss a backward call differentiates."""
    func = call.func
    if isinstance(func, cst.Attribute) and func.attr.value == "backward" and not call.args:
        inner = func.value
        if isinstance(inner, cst.Call) and inner.args:  # scaler.scale(loss).backward()
            inner = inner.args[0].value
        name = dotted(inner)
        return name.split(".")[0] if name else None
    if call.args:  # accelerator.backward(loss), self.manual_backward(loss)
        name = dotted(call.args[0].value)
        return name.split(".")[0] if name else None
    return None


def scaler_step_without_update(b: Builder, unit: Unit) -> None:
    """OPT502: delete `scaler.update()` from a unit that calls `scaler.step(opt)`."""
    updates = unit.of("update")
    scaled_steps = [e for e in unit.of("step") if isinstance(e.call.func, cst.Attribute)
                    and "scaler" in (dotted(e.call.func.value) or "").lower()]
    if not updates or not scaled_steps:
        return
    edit = Edit()
    if all(remove_call_statement(edit, e.path[-1], e.call) for e in updates):
        b.add("scaler-step-without-update", "OPT502", unit, updates[0].line,
              loop_line(b.sites, unit, updates[0]), edit)


# -- operators for the order rules the first fourteen left unmeasured --------------------

def _plain_step(step: Event) -> bool:
    """`opt.step()` itself (not `scaler.step(opt)`, not a closure step) alone on its line."""
    call = step.call
    level = step.path[-1]
    return (isinstance(call.func, cst.Attribute) and not call.args and not is_scaler_name(dotted(call.func.value) or "")
            and isinstance(level.stmt, cst.SimpleStatementLine) and len(level.stmt.body) == 1)


def step_before_backward(b: Builder, unit: Unit) -> None:
    """OPT103: move an optimizer step (a statement of its own) to just before the first
    backward of its pass in the same block: the first after the last clear or step that
    precedes it there (a step between two backward passes of its own is another bug)."""
    for step in unit.of("step"):
        level = step.path[-1]
        if not isinstance(level.stmt, cst.SimpleStatementLine) or len(level.stmt.body) != 1:
            continue
        pairs = [common(bw, step) for bw in unit.of("backward")]
        pairs = [p for p in pairs if p and p[0].index < p[1].index and p[1].stmt is level.stmt and movable(p[1])]
        if not pairs:
            continue
        fences = [p[0].index for p in (common(e, step) for e in unit.events if e.kind in {"clear", "step"} and e is not step)
                  if p and p[1].stmt is level.stmt and p[0].index < level.index]
        fence = max(fences, default=-1)
        pairs = [p for p in pairs if p[0].index > fence]
        if not pairs:
            continue
        backward_level, step_level = min(pairs, key=lambda p: p[0].index)
        jumped = [backward_level.stmt, *between(backward_level, step_level)]
        excluded = "reads-moved-name" if names_read(step_level.stmt) & set().union(*(names_bound(s) for s in jumped)) else None
        b.add("step-before-backward", "OPT103", unit, step.line, loop_line(b.sites, unit, step),
              Edit().move_before(step_level, backward_level), excluded)


def clear_between_backward_and_step(b: Builder, unit: Unit) -> None:
    """OPT102: move the clear of an optimizer to just before its step, after the backward
    (the clear and the step siblings in one block, a backward between them once moved)."""
    for step in unit.of("step"):
        for clear in unit.of("clear"):
            pair = common(clear, step)
            if not pair or not movable(pair[0]) or not holds_only(unit, pair[0], {"clear"}):
                continue
            clear_level, step_level = pair
            backwards = [p for p in (common(bw, step) for bw in unit.of("backward"))
                         if p and p[1].stmt is step_level.stmt and p[0].index < step_level.index]
            if not backwards or any(p[0].index < clear_level.index < step_level.index for p in backwards):
                continue  # no backward before the step, or the clear already sits between them
            if not _same_optimizer(clear, step):
                continue
            b.add("clear-between-backward-and-step", "OPT102", unit, clear.line, loop_line(b.sites, unit, clear),
                  Edit().move_before(clear_level, step_level))
            return


def _same_optimizer(clear: Event, step: Event) -> bool:
    """Whether the clear is the stepped optimizer's (`opt.zero_grad()` / `opt.step()`), or a
    module's clear in a unit that steps one optimizer through it (`model.zero_grad()`)."""
    stepped = step.receiver or ""
    if clear.receiver == stepped:
        return True
    return not is_optimizer_name(clear.receiver or "")


def delete_step(b: Builder, unit: Unit) -> None:
    """OPT104: delete every plain `opt.step()` of one optimizer from the unit."""
    by_receiver: dict[str, list[Event]] = {}
    for step in unit.of("step"):
        by_receiver.setdefault(step.receiver or "", []).append(step)
    for receiver, steps in by_receiver.items():
        if not receiver or not all(_plain_step(s) for s in steps):
            continue
        edit = Edit()
        if all(remove_call_statement(edit, s.path[-1], s.call) for s in steps):
            b.add("delete-step", "OPT104", unit, steps[0].line, loop_line(b.sites, unit, steps[0]), edit,
                  subject=receiver)


def scaler_step_bypassed(b: Builder, unit: Unit) -> None:
    """OPT501: `scaler.step(opt)` after a scaled backward becomes `opt.step()`."""
    scaled = any(isinstance(bw.call.func, cst.Attribute) and isinstance(bw.call.func.value, cst.Call)
                 and last_name(bw.call.func.value.func) == "scale" for bw in unit.of("backward"))
    if not scaled:
        return
    for step in unit.of("step"):
        func = step.call.func
        if not (isinstance(func, cst.Attribute) and is_scaler_name(dotted(func.value) or "")) or len(step.call.args) != 1:
            continue
        opt = step.call.args[0].value
        edit = Edit().replace(step.call, lambda _n, opt=opt: cst.Call(cst.Attribute(opt, cst.Name("step"))))
        b.add("scaler-step-bypassed", "OPT501", unit, step.line, loop_line(b.sites, unit, step), edit)
        return


def _mode_calls(node: cst.CSTNode, method: str) -> list[cst.Call]:
    """`x.train()` / `x.train(True)` or `x.eval()` calls under `node`, in source order."""
    found: list[cst.Call] = []

    class V(cst.CSTVisitor):
        def visit_Call(self, call: cst.Call) -> None:
            if isinstance(call.func, cst.Attribute) and call.func.attr.value == method and dotted(call.func.value):
                if not call.args or (method == "train" and len(call.args) == 1
                                     and isinstance(call.args[0].value, cst.Name) and call.args[0].value.value == "True"):
                    found.append(call)

    node.visit(V())
    return found


def _called_names(node: cst.CSTNode) -> set[str]:
    """Last names of the functions and methods called under `node` with arguments or on `self`."""
    names: set[str] = set()

    class V(cst.CSTVisitor):
        def visit_Call(self, call: cst.Call) -> None:
            name = last_name(call.func)
            if name and (isinstance(call.func, cst.Name) or call.args or dotted(call.func) == f"self.{name}"):
                names.add(name)

    node.visit(V())
    return names


def _evaluators(sites: FileSites) -> set[str]:
    """Functions of the file that put a module in eval mode and leave it there (no `.train()`
    after their `.eval()`)."""
    out: set[str] = set()
    for unit in sites.units:
        if not isinstance(unit.node, cst.FunctionDef):
            continue
        evals = _mode_calls(unit.node, "eval")
        trains = _mode_calls(unit.node, "train")
        if evals and not any(sites.line(t) > sites.line(evals[-1]) for t in trains):
            out.add(unit.node.name.value)
    return out


def _loops_in(node: cst.CSTNode) -> list[cst.CSTNode]:
    found: list[cst.CSTNode] = []

    class V(cst.CSTVisitor):
        def visit_For(self, n):
            found.append(n)

        def visit_While(self, n):
            found.append(n)

    node.visit(V())
    return found


def _own_loops(node: cst.CSTNode) -> list[cst.CSTNode]:
    """The loops of a function, or of a module body outside its functions and classes."""
    if isinstance(node, cst.FunctionDef):
        return _loops_in(node)
    return [loop for st in node.body if not isinstance(st, (cst.FunctionDef, cst.ClassDef)) for loop in _loops_in(st)]


def delete_train_mode(b: Builder, unit: Unit) -> None:
    """OPT603: delete the `.train()` calls that put the model back in training mode, in the
    training unit and in the loops that call it. A bug only where evaluation runs between
    training iterations (a module starts in training mode): an `.eval()` of a module those
    `.train()` calls switch (the same name, or one inside the other: `model.module`), or a call
    to a function of the file that leaves a module in eval mode, in the unit's training loop or
    in a loop that calls the unit; otherwise the mutant is excluded (an EMA copy or a frozen
    backbone put in eval mode leaves the trained module in training mode either way)."""
    sites = b.sites
    evaluators = _evaluators(sites)
    doomed = list(_mode_calls(unit.node, "train")) if isinstance(unit.node, cst.FunctionDef) else []
    callers: list[cst.CSTNode] = []
    if isinstance(unit.node, cst.FunctionDef):
        name = unit.node.name.value
        callers = [loop for other in sites.units if other is not unit
                   for loop in _own_loops(other.node) if name in _called_names(loop)]
    else:  # the module body: its own loops
        doomed = [c for loop in unit.training_loops() for c in _mode_calls(loop.stmt, "train")]
    trained = {dotted(c.func.value) for c in doomed} | {
        dotted(c.func.value) for loop in callers for c in _mode_calls(loop, "train")}

    evaluation_rows: set[int] = set()

    def evaluates(node: cst.CSTNode) -> bool:
        direct = [c for c in _mode_calls(node, "eval") + _train_false(node)
                  if any(_same_module(dotted(c.func.value), t) for t in trained)]
        called = _called_names(node) & evaluators
        evaluation_rows.update(sites.line(c) for c in direct)
        evaluation_rows.update(sites.line(c) for u in sites.units if isinstance(u.node, cst.FunctionDef)
                               and u.node.name.value in called for c in _mode_calls(u.node, "eval"))
        return bool(direct or called)

    bug = any(evaluates(loop.stmt) for loop in unit.training_loops())
    for loop in callers:
        if evaluates(loop):
            bug = True
            doomed.extend(_mode_calls(loop, "train"))
    if not doomed:
        return
    edit = Edit()
    for call in {id(c): c for c in doomed}.values():
        level = _statement_level(sites, call)
        if level is None or not remove_call_statement(edit, level, call):
            return
    b.add("delete-train-mode", "OPT603", unit, sites.line(doomed[0]), unit.start, edit,
          None if bug else "train-mode-redundant", region=(1, b.total_lines),
          evaluations=tuple(sorted(evaluation_rows)))


def _train_false(node: cst.CSTNode) -> list[cst.Call]:
    """`x.train(False)` / `x.train(mode=False)` under `node`: eval mode spelled through train."""
    return [c for c in _walk_calls(node) if isinstance(c.func, cst.Attribute) and c.func.attr.value == "train"
            and len(c.args) == 1 and isinstance(c.args[0].value, cst.Name) and c.args[0].value.value == "False"
            and dotted(c.func.value)]


def _walk_calls(node: cst.CSTNode) -> list[cst.Call]:
    found: list[cst.Call] = []

    class V(cst.CSTVisitor):
        def visit_Call(self, call: cst.Call) -> None:
            found.append(call)

    node.visit(V())
    return found


def _same_module(a: str | None, b: str | None) -> bool:
    """`model` and `model` or `model.module`: the same module, or one holding the other."""
    return bool(a and b) and (a == b or a.startswith(b + ".") or b.startswith(a + "."))


def _statement_level(sites: FileSites, call: cst.Call) -> Level | None:
    """The statement (with its block and index) whose only expression is `call`."""
    found: list[Level] = []

    class V(cst.CSTVisitor):
        def _block(self, owner, body):
            for index, stmt in enumerate(body):
                if isinstance(stmt, cst.SimpleStatementLine) and any(
                        isinstance(small, cst.Expr) and small.value is call for small in stmt.body):
                    found.append(Level(owner, index, stmt))

        def visit_IndentedBlock(self, node):
            self._block(node, node.body)

        def visit_Module(self, node):
            self._block(node, node.body)

    sites.module.visit(V())
    return found[0] if found else None


UNIT_OPERATORS = [
    delete_clear, swap_scheduler_optimizer, clip_after_step, clip_before_backward, drop_unscale,
    clear_inside_window, epoch_scheduler_into_batch, batch_scheduler_out_of_batch, loss_without_item,
    backward_in_no_grad, scaler_step_without_update, step_before_backward, clear_between_backward_and_step,
    delete_step, scaler_step_bypassed, delete_train_mode,
]
CONSTRUCTION_OPERATORS = [adam_weight_decay, keras_kwargs, drop_group_submodule]
OPERATORS = {
    "delete-clear": "OPT101", "swap-scheduler-optimizer": "OPT201", "clip-after-step": "OPT105",
    "clip-before-backward": "OPT105", "drop-unscale": "OPT503", "clear-inside-window": "OPT106",
    "epoch-scheduler-into-batch": "OPT202", "batch-scheduler-out-of-batch": "OPT203",
    "adam-weight-decay": "OPT302", "keras-kwargs": "OPT301", "drop-group-submodule": "OPT401",
    "loss-without-item": "OPT601", "backward-in-no-grad": "OPT602", "scaler-step-without-update": "OPT502",
    "step-before-backward": "OPT103", "clear-between-backward-and-step": "OPT102", "delete-step": "OPT104",
    "scaler-step-bypassed": "OPT501", "delete-train-mode": "OPT603",
}


def mutants_of(source: str) -> tuple[list[Mutant], FileSites]:
    """Every mutant of one file (training units only; constructions anywhere in a file that
    has a training unit)."""
    sites = FileSites(source)
    builder = Builder(sites)
    units = training_units(sites)
    for unit in units:
        for operator in UNIT_OPERATORS:
            operator(builder, unit)
    if units:
        seen: set[int] = set()
        for call, path in sites.constructions:
            if id(call) in seen or not path:
                continue
            seen.add(id(call))
            for operator in CONSTRUCTION_OPERATORS:
                operator(builder, call, path)
    return builder.mutants, sites


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--operator")
    parser.add_argument("--show", action="store_true", help="print each mutant's diff")
    args = parser.parse_args(argv)
    import difflib

    source = Path(args.file).read_text(encoding="utf-8")
    mutants, sites = mutants_of(source)
    for u in training_units(sites):
        print(f"training unit {u.qualname} (rows {u.start}-{u.end}), loops at "
              f"{[sites.line(lp.stmt) for lp in u.training_loops()] or 'none (step function)'}")
    for m in mutants:
        if args.operator and m.operator != args.operator:
            continue
        print(f"{m.operator} -> {m.code} at row {m.site_line} in {m.unit}, region {m.region}"
              + (f" [excluded: {m.excluded}]" if m.excluded else ""))
        if args.show:
            sys.stdout.writelines(difflib.unified_diff(source.splitlines(True), m.source.splitlines(True), n=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
