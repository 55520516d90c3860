"""The fixed catalogue of rule codes (SPEC.md section 1): code, name, fix kind, runtime.

This table is the single source of truth for codes and names; checks refer to
codes, and `optimlint rules`, config validation and the reporters read it here.
"""

from __future__ import annotations

from optimlint.records import Frozen


class RuleInfo(Frozen):
    """One row of the table."""

    __slots__ = ("code", "name", "fix", "runtime", "observes")
    __match_args__ = __slots__

    def __init__(self, code: str, name: str, fix: str, runtime: str, observes: tuple[str, ...] = ()) -> None:
        object.__setattr__(self, "code", code)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "fix", fix)  # "safe", "unsafe", "sometimes" (safe in some shapes only), "none"
        object.__setattr__(self, "runtime", runtime)  # what the runtime companion observes, "" when nothing
        # The runtime event kinds (``analysis.events.EventKind`` values, "construct") whose
        # running inside a finding's span means the rule's own check ran there: the join says
        # "not-observed" only then. Empty for a rule with no runtime check.
        object.__setattr__(self, "observes", observes)


_TABLE = [
    ("OPT000", "syntax-error", "none", ""),
    ("OPT001", "invalid-noqa", "sometimes", ""),
    ("OPT002", "unused-noqa", "safe", ""),
    ("OPT101", "missing-zero-grad", "unsafe", "gradients still hold contributions from before the previous step"),
    ("OPT102", "zero-grad-before-step", "safe", "a step finds every gradient None/zero although a backward ran"),
    ("OPT103", "step-before-backward", "sometimes", "a step with no backward since the previous step"),
    ("OPT104", "backward-without-step", "none", "backward passes accumulate and the step never runs"),
    ("OPT105", "clip-grad-misplaced", "sometimes", "clipping while no fresh gradient exists"),
    ("OPT106", "zero-grad-clears-accumulation", "unsafe", "a step sees one backward although several ran"),
    ("OPT107", "accumulated-loss-not-averaged", "none", ""),
    ("OPT201", "scheduler-before-optimizer-step", "sometimes", "first scheduler step precedes the first optimizer step"),
    ("OPT202", "epoch-scheduler-per-batch", "unsafe", "scheduler steps ~ optimizer steps with a short period"),
    ("OPT203", "batch-scheduler-per-epoch", "sometimes", "scheduler steps << optimizer steps"),
    ("OPT204", "plateau-step-without-metric", "none", ""),
    ("OPT205", "scheduler-step-epoch-argument", "unsafe", ""),
    ("OPT301", "keras-style-argument", "sometimes", "unknown keys in a param group at construction"),
    ("OPT302", "adam-weight-decay", "unsafe", "Adam-family optimizer with coupled weight decay"),
    ("OPT303", "nesterov-without-momentum", "none", "ValueError intercepted"),
    ("OPT304", "parameters-iterator-reused", "safe", "an optimizer built with zero parameters"),
    ("OPT305", "optimizer-before-param-replacement", "unsafe", "optimizer parameters are no longer the module's"),
    ("OPT306", "closure-required", "none", ""),
    ("OPT307", "module-passed-as-params", "safe", ""),
    ("OPT401", "parameters-missing-from-groups", "none", "a trainable parameter with a gradient belongs to no optimizer"),
    ("OPT402", "parameters-in-multiple-groups", "none", "ValueError intercepted"),
    ("OPT403", "unknown-param-group-key", "sometimes", "unknown key seen at construction"),
    ("OPT501", "scaler-step-bypassed", "safe", "step taken on scaled gradients"),
    ("OPT502", "scaler-update-missing", "safe", "steps without update in between"),
    ("OPT503", "clip-without-unscale", "safe", "clip called on scaled gradients"),
    ("OPT504", "scaler-step-without-scale", "none", ""),
    ("OPT505", "unscale-per-micro-batch", "unsafe", "unscale_ called twice before an update"),
    ("OPT601", "loss-accumulated-with-graph", "unsafe", "the running total carries a growing autograd graph"),
    ("OPT602", "backward-in-no-grad", "none", ""),
    ("OPT603", "eval-mode-not-restored", "unsafe", "modules in eval mode during a backward"),
    ("OPT604", "forward-called-directly", "safe", ""),
]

# The event kinds each runtime check watches (see RuleInfo.observes).
_OBSERVES = {
    "OPT101": ("backward", "step"), "OPT102": ("zero_grad", "step"), "OPT103": ("step",),
    "OPT104": ("backward", "construct"), "OPT105": ("clip",), "OPT106": ("zero_grad", "step"),
    "OPT201": ("sched_step",), "OPT202": ("sched_step",), "OPT203": ("sched_step",),
    "OPT301": ("construct",), "OPT302": ("construct",), "OPT303": ("construct",),
    "OPT304": ("construct", "clip"), "OPT305": ("step",),
    "OPT401": ("construct",), "OPT402": ("construct",), "OPT403": ("construct",),
    "OPT501": ("step",), "OPT502": ("scaler_step",), "OPT503": ("clip",), "OPT505": ("unscale",),
    "OPT601": ("backward", "step"), "OPT603": ("eval_mode", "step"),
}

RULES: dict[str, RuleInfo] = {code: RuleInfo(code, name, fix, runtime, _OBSERVES.get(code, ()))
                              for code, name, fix, runtime in _TABLE}
# Former names, still accepted wherever a rule name is (``optimlint rule NAME``, rule tables).
ALIASES: dict[str, str] = {"optimizer-before-device-move": "OPT305"}
NAMES: dict[str, str] = {**ALIASES, **{info.name: code for code, info in RULES.items()}}

# Rules added after the first tagged release run only with ``--preview`` / ``preview = true``
# until promoted, so a pinned CI does not break on an upgrade. Empty: no release is tagged
# yet, and every rule of SPEC.md (OPT505, OPT001 and OPT002 included) is on by default.
PREVIEW: frozenset[str] = frozenset()

# OPT000 is never selectable away.
ALWAYS_ON = frozenset({"OPT000"})


def expand_selector(selector: str) -> list[str]:
    """Codes matched by a selector: a full code, a prefix (``OPT1``), ``OPT`` or ``ALL``.

    Raises KeyError for a selector that matches no code.
    """
    sel = selector.strip().upper()
    if sel in ALWAYS_ON:
        return []  # always on: selecting it changes nothing (ignoring it is refused by the config)
    if sel in ("ALL", "OPT"):
        return [c for c in RULES if c not in ALWAYS_ON]
    matched = [c for c in RULES if c.startswith(sel) and c not in ALWAYS_ON]
    if not matched:
        raise KeyError(selector)
    return matched
