"""Torch facts shared by the static checks and the runtime monitor: one table per fact.

Standard library only and import-light: the runtime imports it inside a training process,
the linter at start-up. When torch adds or renames an API, this is the one file to edit.
Names are qualified names (``torch.no_grad``) or bare attribute names (``clip_grad_norm_``)
as each table says; no function here reads a syntax tree.
"""

from __future__ import annotations

import difflib
import re

# -- gradient mode ------------------------------------------------------------------------------
# Contexts / decorators that turn gradients off when called without arguments.
NO_GRAD_CONTEXTS = frozenset({
    "torch.no_grad", "torch.inference_mode", "torch.autograd.no_grad", "torch.autograd.inference_mode",
    "torch.autograd.grad_mode.no_grad", "torch.autograd.grad_mode.inference_mode",
})
ENABLE_GRAD_CONTEXTS = frozenset({"torch.enable_grad", "torch.autograd.enable_grad",
                                  "torch.autograd.grad_mode.enable_grad"})
# ``set_grad_enabled(flag)``: its mode is its argument.
SET_GRAD_ENABLED = frozenset({"torch.set_grad_enabled", "torch.autograd.set_grad_enabled",
                              "torch.autograd.grad_mode.set_grad_enabled"})
# ``first_arg`` of ``grad_mode`` for a context used without a call or called without arguments.
NO_ARGUMENT = "<no argument>"


def grad_mode(qualname: str | None, first_arg: str | None = NO_ARGUMENT) -> bool | None:
    """False for a context/decorator that disables gradients, True for one that enables them, else None.

    ``first_arg`` is the source of the call's first argument when it is a name (``"True"``,
    ``"False"``), None when it is something else, ``NO_ARGUMENT`` when there is none:
    ``inference_mode(False)`` or ``no_grad``-like calls with a variable are unknown, and so is
    ``set_grad_enabled(flag)``."""
    if qualname in NO_GRAD_CONTEXTS:
        if first_arg == NO_ARGUMENT:
            return False
        if "inference_mode" in qualname and first_arg == "True":
            return False
        return None
    if qualname in ENABLE_GRAD_CONTEXTS:
        return True
    if qualname in SET_GRAD_ENABLED and first_arg in ("True", "False"):
        return first_arg == "True"
    return None


# -- modules ------------------------------------------------------------------------------------
# ``nn.Module`` methods that return the module itself (``model = model.to(device)`` keeps ``model``).
MODULE_SELF_RETURNING = frozenset({"to", "cuda", "cpu", "xpu", "mps", "float", "half", "double", "bfloat16",
                                   "type", "train", "eval", "requires_grad_", "to_empty", "share_memory"})

# -- gradient clipping --------------------------------------------------------------------------
CLIP_FUNCTIONS = ("clip_grad_norm_", "clip_grad_norm", "clip_grad_value_")
CLIP_MODULES = ("torch.nn.utils", "torch.nn.utils.clip_grad")
CLIP_QUALNAMES = frozenset(f"{m}.{f}" for m in CLIP_MODULES for f in CLIP_FUNCTIONS)
# Calls that read every parameter they are given: the clip functions and their helpers.
PARAMETER_READING_QUALNAMES = CLIP_QUALNAMES | frozenset({
    "torch.nn.utils.parameters_to_vector", "torch.nn.utils.convert_parameters.parameters_to_vector",
    "torch.nn.utils.get_total_norm", "torch.nn.utils.clip_grads_with_norm_",
})

# -- reading tensors ----------------------------------------------------------------------------
# Tensor methods that look at a gradient and never change it (``p.grad.data.mean()``,
# ``p.grad.norm()`` for a log line).
GRAD_READING_METHODS = frozenset({"mean", "std", "var", "norm", "min", "max", "abs", "sum", "item", "numel",
                                  "size", "dim", "tolist", "isnan", "isinf", "isfinite", "any", "all"})
# torch's own functions that build or combine tensors (never ``torch._foreach_zero_``, in-place ``_``):
# matched against a qualified name.
TORCH_PURE_FUNCTION = re.compile(r"torch\.(nn\.functional\.)?[a-z][a-z0-9_]*[a-z0-9]$")
# Getters (``get_peft_model_state_dict(unet)``) and predicates (``is_compiled_module(model)``,
# ``has_nan(grads)``, ``accelerator.is_main_process``) answer, never clear or step: searched in a
# dotted name.
GETTER_NAME = re.compile(r"(^|\.)get_\w+$")
PREDICATE_NAME = re.compile(r"(^|\.)(is|has|should|can)_\w+$")

# -- objects with a ``step`` or ``update`` that are not optimizers --------------------------------
# Receivers of ``.step(...)`` that are evidently not optimizers (searched in the last name of the
# receiver): profilers, RL environments, progress bars, diffusers' noise schedulers, EMA models
# (``ema_unet.step(unet.parameters())``: diffusers' EMAModel).
NOT_OPTIMIZER_STEP_RECEIVER = re.compile(
    r"(^|_)(profiler|prof|env|envs|environment|vec_env|pbar|progress|progress_bar|bar|timer|logger|writer|"
    r"tracker|monitor|noise_scheduler|simulator|sim|game|world|ema|ema_model|swa_model|lr_finder)$"
    r"|^ema_", re.I)
# Words of a submodule's name that mark a copy nobody optimizes (target network, EMA, teacher, ...):
# ``critic_target``, ``ema_model``, ``teacher``, ``model_old``.
COPY_WORDS = frozenset({"target", "targ", "tgt", "ema", "teacher", "momentum", "shadow", "avg",
                        "average", "averaged", "swa", "old", "prev", "previous", "frozen", "polyak",
                        "slow", "mean", "fixed", "ref", "reference", "pretrained"})
# Callees that update such a copy from the trained module's parameters (searched in the last
# name of the callee: ``update_ema(self.ema, self.model)``, ``soft_update(target, online)``).
COPY_UPDATING_CALLEE = re.compile(r"update|ema|polyak|copy|sync|target|momentum|average|swa|freeze",
                                  re.IGNORECASE)

# -- optimizers and their param-group keys --------------------------------------------------------
# torch's default ``betas`` of every optimizer that has them (as source text).
DEFAULT_BETAS = ("0.9", "0.999")
# Optimizers whose ``weight_decay`` is an L2 term added to the gradient unless
# ``decoupled_weight_decay=True`` (AdamW decouples it by default).
COUPLED_DECAY_OPTIMIZERS = ("Adam", "NAdam", "RAdam")
# Each optimizer's constructor keywords / param-group keys (its ``defaults``), torch 2.x.
OPTIMIZER_KEYS: dict[str, frozenset[str]] = {
    name: frozenset(keys.split())
    for name, keys in {
        "ASGD": "alpha capturable differentiable foreach lambd lr maximize t0 weight_decay",
        "Adadelta": "capturable differentiable eps foreach lr maximize rho weight_decay",
        "Adafactor": "beta2_decay d eps foreach lr maximize weight_decay",
        "Adagrad": "differentiable eps foreach fused initial_accumulator_value lr lr_decay maximize weight_decay",
        "Adam": "amsgrad betas capturable decoupled_weight_decay differentiable eps foreach fused lr maximize weight_decay",
        "AdamW": "amsgrad betas capturable decoupled_weight_decay differentiable eps foreach fused lr maximize weight_decay",
        "Adamax": "betas capturable differentiable eps foreach lr maximize weight_decay",
        "LBFGS": "history_size line_search_fn lr max_eval max_iter tolerance_change tolerance_grad",
        "Muon": "adjust_lr_fn eps lr momentum nesterov ns_coefficients ns_steps weight_decay",
        "NAdam": "betas capturable decoupled_weight_decay differentiable eps foreach lr maximize momentum_decay weight_decay",
        "RAdam": "betas capturable decoupled_weight_decay differentiable eps foreach lr maximize weight_decay",
        "RMSprop": "alpha capturable centered differentiable eps foreach lr maximize momentum weight_decay",
        "Rprop": "capturable differentiable etas foreach lr maximize step_sizes",
        "SGD": "dampening differentiable foreach fused lr maximize momentum nesterov weight_decay",
        "SparseAdam": "betas eps lr maximize",
    }.items()
}
# Keys every param group carries besides the defaults (set by torch or commonly by users
# through their own code that reads them back).
COMMON_GROUP_KEYS = frozenset({"params", "param_names", "initial_lr", "name"})
# Extra group keys that training code commonly adds on purpose (read by its own schedulers):
# the runtime, which sees every key of a live group, leaves these alone.
CONVENTIONAL_GROUP_KEYS = frozenset({
    "name", "names", "initial_lr", "lr_scale", "lr_mult", "decay_mult", "layer_id", "layer_name",
    "param_names", "group_name", "weight_decay_scale", "lr_ratio", "tag",
})

# Misspellings of ``lr`` that no similarity ratio catches.
LR_ALIASES = frozenset({"lr_rate", "learn_rate", "lrate", "learningrate", "learning_rat"})
# Affixes that mark a deliberate custom key (``lr_scale``, ``base_lr``, ``weight_decay_mult``).
_CUSTOM_AFFIXES = ("_scale", "_mult", "_multiplier", "_factor", "_ratio", "_decay", "_min",
                   "_max", "_init", "_base", "_orig", "_default")
_CUSTOM_PREFIXES = ("base_", "max_", "min_", "init_", "initial_", "orig_", "default_", "_")
_SIMILARITY = 0.85


def close_group_key(key: str, known) -> str | None:
    """The one known key that ``key`` is a misspelling of, or None (custom metadata).

    Used by the static OPT403 and by its runtime confirmation, so both agree on what a typo is."""
    known = frozenset(str(k) for k in known)
    if key in LR_ALIASES and "lr" in known:
        return "lr"
    lower = key.lower().replace("-", "_")
    exact = [k for k in known if k == lower]
    if len(exact) == 1 and lower != key:
        return exact[0]
    if key.startswith(_CUSTOM_PREFIXES):
        return None
    for k in known:
        if key != k and (key.startswith(k + "_") or key.endswith("_" + k)):
            return None  # ``lr_scale``, ``weight_decay_mult``, ``layer_lr``: deliberate
    if key.endswith(_CUSTOM_AFFIXES) and key not in known:
        if any(key.startswith(k) for k in known):
            return None
    scored = [(difflib.SequenceMatcher(None, lower, k).ratio(), k) for k in sorted(known)]
    close = [k for r, k in scored if r >= _SIMILARITY]
    if len(close) != 1:
        return None
    return close[0]


# -- Keras / TF names ---------------------------------------------------------------------------
# Keras optimizer arguments with a torch name (``rho`` only for RMSprop: Adadelta has its own).
KERAS_RENAMES = {"learning_rate": "lr", "epsilon": "eps", "rho": "alpha"}
KERAS_BETAS = ("beta_1", "beta_2")
# Keras arguments torch.optim has no equivalent for, and what to do instead.
KERAS_NO_EQUIVALENT = {
    "decay": "Keras's per-iteration learning-rate decay has no torch.optim argument: use a "
             "scheduler, e.g. `torch.optim.lr_scheduler.LambdaLR(opt, lambda it: 1 / (1 + decay * it))` "
             "stepped after every `opt.step()`",
    "clipnorm": "Keras's per-weight gradient-norm clipping has no torch.optim argument: call "
                "`torch.nn.utils.clip_grad_norm_(params, max_norm)` between `backward()` and `step()`",
    "global_clipnorm": "Keras's global gradient-norm clipping has no torch.optim argument: call "
                       "`torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)` between "
                       "`backward()` and `step()`",
    "clipvalue": "Keras's gradient value clipping has no torch.optim argument: call "
                 "`torch.nn.utils.clip_grad_value_(model.parameters(), clip_value)` between "
                 "`backward()` and `step()`",
    "use_ema": "Keras's weight EMA has no torch.optim argument: keep an averaged copy with "
               "`torch.optim.swa_utils.AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay))` "
               "and call its `update_parameters(model)` after each step",
    "ema_momentum": "Keras's weight EMA has no torch.optim argument: keep an averaged copy with "
                    "`torch.optim.swa_utils.AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay))` "
                    "and call its `update_parameters(model)` after each step",
}
# Param-group keys that are Keras names whatever the optimizer (``rho`` is Adadelta's own key).
KERAS_GROUP_KEYS = frozenset(KERAS_RENAMES.keys() - {"rho"} | set(KERAS_BETAS) | KERAS_NO_EQUIVALENT.keys())
# The runtime's one-line advice for a Keras name found in a live param group.
KERAS_HINTS = {
    "learning_rate": "use `lr`",
    "beta_1": "use `betas=(beta1, beta2)`",
    "beta_2": "use `betas=(beta1, beta2)`",
    "epsilon": "use `eps`",
    "rho": "use `alpha` (RMSprop's smoothing constant)",
    "decay": "PyTorch has no `decay`: use a learning-rate scheduler (or `weight_decay` for L2)",
    "clipnorm": "PyTorch has no `clipnorm`: call `torch.nn.utils.clip_grad_norm_` before the step",
    "clipvalue": "PyTorch has no `clipvalue`: call `torch.nn.utils.clip_grad_value_` before the step",
    "global_clipnorm": "PyTorch has no `global_clipnorm`: call `torch.nn.utils.clip_grad_norm_`",
    "use_ema": "PyTorch has no `use_ema`: use `torch.optim.swa_utils.AveragedModel`",
    "ema_momentum": "PyTorch has no `ema_momentum`: use `torch.optim.swa_utils.AveragedModel`",
}


# -- learning-rate schedulers -------------------------------------------------------------------
# ``torch.optim.lr_scheduler`` classes whose period counts epochs (unless its arguments say
# iterations: SPEC OPT202), whose period counts optimizer steps (OPT203), and those with no
# fixed granularity (never OPT202/OPT203).
EPOCH_SCHEDULERS = frozenset({
    "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "PolynomialLR",
    "CosineAnnealingWarmRestarts", "ReduceLROnPlateau",
})
BATCH_SCHEDULERS = frozenset({"OneCycleLR", "CyclicLR"})
UNTIMED_SCHEDULERS = frozenset({
    "LambdaLR", "MultiplicativeLR", "SequentialLR", "ChainedScheduler", "LinearLR", "ConstantLR",
    "LRScheduler", "_LRScheduler",
})


# GradScaler methods that read its state and never update the scale (``scaler.get_scale()`` in a
# log line): a call to one is not a call that might stand in for ``scaler.update()``.
SCALER_READERS = frozenset({"get_scale", "is_enabled", "get_growth_factor", "get_backoff_factor",
                            "get_growth_interval"})
