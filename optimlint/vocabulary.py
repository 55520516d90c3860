"""Torch facts (and the few names of the libraries around torch that the checks rely on): one
table per fact, read by the static checks, their analyses and the runtime monitor alike.

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
# The bare names of the gradient-mode functions above, and the question ``is_grad_enabled``:
# named for gradients, they switch or read a mode and touch no ``.grad``.
GRAD_MODE_NAMES = frozenset(q.rsplit(".", 1)[-1] for q in NO_GRAD_CONTEXTS | ENABLE_GRAD_CONTEXTS | SET_GRAD_ENABLED) \
    | {"is_grad_enabled"}
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
# Methods that may set a module's training mode (``apply`` may run any of them on each submodule;
# ``train_mode``/``eval_mode`` are common project spellings): a call of one is not mode-neutral.
MODE_SETTING_METHODS = frozenset({"train", "eval", "apply", "train_mode", "eval_mode"})
# Methods a statement that only chooses a module's mode calls (``model.eval()``,
# ``backbone.requires_grad_(False)``): such a statement runs no forward.
MODE_CHOOSING_METHODS = frozenset({"eval", "train", "requires_grad_"})
# Lightning's module class at each path it has had (``core.lightning`` before 1.7, ``core.module``
# since): its subclasses' ``training_step`` is an iteration the trainer runs.
LIGHTNING_MODULE_BASES = frozenset({
    "pytorch_lightning.LightningModule", "pytorch_lightning.core.LightningModule",
    "pytorch_lightning.core.module.LightningModule", "pytorch_lightning.core.lightning.LightningModule",
    "lightning.LightningModule", "lightning.pytorch.LightningModule",
    "lightning.pytorch.core.LightningModule", "lightning.pytorch.core.module.LightningModule",
})
# Classes whose subclasses are modules (a project class deriving from one is a module).
# Lightning modules add no parameters of their own.
MODULE_BASES = frozenset({
    "torch.nn.Module", "torch.nn.modules.module.Module", "torch.nn.modules.Module",
}) | LIGHTNING_MODULE_BASES
PARAMETER_CLASSES = frozenset({"torch.nn.Parameter", "torch.nn.parameter.Parameter"})
# torch.nn classes that are (or hold only) parameters and buffers: what an optimizer may be given.
PARAMETER_HOLDERS = frozenset({"Parameter", "ParameterList", "ParameterDict", "Buffer", "UninitializedParameter",
                               "UninitializedBuffer"})
# Sub-packages of torch.nn whose capitalised names are module classes (``torch.nn.modules.linear.Linear``,
# ``torch.nn.parallel.DistributedDataParallel``, ``torch.nn.qat.Linear``); the others (functional,
# init, utils, parameter, attention, backends) hold functions, tensors and enums.
TORCH_NN_MODULE_PACKAGES = frozenset({"modules", "parallel", "qat", "quantized", "quantizable", "intrinsic"})


def torch_module_class(qualname: str | None) -> bool:
    """A torch.nn class whose instances are modules that compute (``torch.nn.Linear``,
    ``torch.nn.modules.linear.Linear``, ``torch.nn.parallel.DistributedDataParallel``), parameter
    holders left out: a ``ParameterList`` is what an optimizer may be given, and has no forward."""
    if not qualname or not qualname.startswith("torch.nn."):
        return False
    parts = qualname.split(".")
    last = parts[-1]
    if not last[:1].isupper() or last in PARAMETER_HOLDERS:
        return False
    return len(parts) == 3 or parts[2] in TORCH_NN_MODULE_PACKAGES


# torch.nn classes built from other modules (``nn.TransformerEncoder(layer, n)``,
# ``nn.DataParallel(model)``): what they are handed may share its parameters.
TORCH_NN_HANDED_MODULES = frozenset({"DataParallel", "TransformerEncoder", "TransformerDecoder", "Transformer"})
# torch.nn containers: their parameters are those of what they hold.
MODULE_CONTAINERS = frozenset({"Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict"})
# torch.nn layers that hold no parameters (activations, pooling, dropout, losses, reshaping).
PARAMETERLESS = frozenset("""
    ReLU ReLU6 LeakyReLU ELU SELU CELU GELU SiLU Mish Sigmoid Tanh Hardtanh Hardswish Hardsigmoid
    Softplus Softsign Softshrink Hardshrink Tanhshrink Threshold LogSigmoid Softmax Softmax2d
    LogSoftmax Softmin GLU Identity Flatten Unflatten Dropout Dropout1d Dropout2d Dropout3d
    AlphaDropout FeatureAlphaDropout MaxPool1d MaxPool2d MaxPool3d AvgPool1d AvgPool2d AvgPool3d
    AdaptiveAvgPool1d AdaptiveAvgPool2d AdaptiveAvgPool3d AdaptiveMaxPool1d AdaptiveMaxPool2d
    AdaptiveMaxPool3d LPPool1d LPPool2d FractionalMaxPool2d FractionalMaxPool3d MaxUnpool1d
    MaxUnpool2d MaxUnpool3d Upsample UpsamplingNearest2d UpsamplingBilinear2d PixelShuffle
    PixelUnshuffle ChannelShuffle ZeroPad1d ZeroPad2d ZeroPad3d ConstantPad1d ConstantPad2d
    ConstantPad3d ReflectionPad1d ReflectionPad2d ReflectionPad3d ReplicationPad1d
    ReplicationPad2d ReplicationPad3d CircularPad1d CircularPad2d CircularPad3d Fold Unfold
    CosineSimilarity PairwiseDistance L1Loss MSELoss CrossEntropyLoss NLLLoss BCELoss
    BCEWithLogitsLoss SmoothL1Loss HuberLoss KLDivLoss CTCLoss MarginRankingLoss
    HingeEmbeddingLoss CosineEmbeddingLoss TripletMarginLoss MultiLabelSoftMarginLoss
    SoftMarginLoss MultiMarginLoss PoissonNLLLoss GaussianNLLLoss MultiLabelMarginLoss
    TripletMarginWithDistanceLoss LocalResponseNorm CrossMapLRN2d
""".split())
# torch.nn layers that hold parameters (with their default arguments).
WITH_PARAMETERS = frozenset("""
    Linear Bilinear LazyLinear Conv1d Conv2d Conv3d ConvTranspose1d ConvTranspose2d
    ConvTranspose3d LazyConv1d LazyConv2d LazyConv3d Embedding EmbeddingBag RNN LSTM GRU RNNCell
    LSTMCell GRUCell MultiheadAttention Transformer TransformerEncoder TransformerDecoder
    TransformerEncoderLayer TransformerDecoderLayer BatchNorm1d BatchNorm2d BatchNorm3d
    SyncBatchNorm LayerNorm GroupNorm RMSNorm PReLU
""".split())
# torch.nn layers whose parameters a keyword can switch off (and its default).
AFFINE_SWITCH = {"BatchNorm1d": ("affine", True), "BatchNorm2d": ("affine", True),
                 "BatchNorm3d": ("affine", True), "SyncBatchNorm": ("affine", True),
                 "GroupNorm": ("affine", True), "LayerNorm": ("elementwise_affine", True),
                 "RMSNorm": ("elementwise_affine", True), "InstanceNorm1d": ("affine", False),
                 "InstanceNorm2d": ("affine", False), "InstanceNorm3d": ("affine", False),
                 "Linear": ("bias", None), "Conv2d": ("bias", None)}
# Calls from other libraries (torchvision, timm) that build a model with parameters.
MODEL_FACTORY_PREFIXES = ("torchvision.models.",)
MODEL_FACTORIES = frozenset({"timm.create_model"})

# Tensor methods that read a tensor or make a new one from it, never touching a gradient or a
# module it came from (``img.size()``, ``img.cuda()``).
TENSOR_READS = frozenset({"size", "cuda", "cpu", "to", "detach", "clone", "float", "half", "dim", "numel"})
# Moves and casts of a module (``model.cuda()``): they replace the Parameter objects only under
# ``OVERWRITE_FLAG`` or to an XLA device.
MODULE_MOVES = frozenset({"to", "cuda", "cpu", "half", "float", "double", "bfloat16"})
OVERWRITE_FLAG = "torch.__future__.set_overwrite_module_params_on_conversion"
XLA_DEVICES = frozenset({
    "torch_xla.core.xla_model.xla_device", "torch_xla.device", "torch_xla.torch_xla.device",
})

# -- wrapping, sharding and hooking a module ----------------------------------------------------
FSDP_CLASSES = frozenset({
    "torch.distributed.fsdp.FullyShardedDataParallel",
    "torch.distributed.fsdp.fully_sharded_data_parallel.FullyShardedDataParallel",
})
# ``nn.DataParallel``: its ``forward`` itself scatters the batch and replicates the module, so
# ``dp.forward(x)`` skips only hooks, unlike DDP/FSDP whose ``__call__`` and hooks synchronise.
DATA_PARALLEL = frozenset({
    "torch.nn.DataParallel", "torch.nn.parallel.DataParallel", "torch.nn.parallel.data_parallel.DataParallel",
})
# Classes that wrap a module and run its forward (DDP, DataParallel, FSDP).
MODULE_WRAPPERS = frozenset({
    "torch.nn.parallel.DistributedDataParallel", "torch.nn.parallel.distributed.DistributedDataParallel",
}) | DATA_PARALLEL | FSDP_CLASSES
# FSDP2's ``fully_shard(module)`` (the public name and its defining modules).
FULLY_SHARD = frozenset({
    "torch.distributed.fsdp.fully_shard",
    "torch.distributed._composable.fsdp.fully_shard",
    "torch.distributed._composable.fsdp.fully_shard.fully_shard",
    "torch.distributed.fsdp._fully_shard.fully_shard",
    "torch.distributed.fsdp._fully_shard._fully_shard.fully_shard",
})
# Module methods that register a hook on it.
HOOK_METHODS = frozenset({
    "register_forward_hook", "register_forward_pre_hook", "register_full_backward_hook",
    "register_full_backward_pre_hook", "register_backward_hook",
})
# Functions that add hooks or parametrizations to the module they are given.
HOOKING_FUNCTIONS = frozenset({
    "torch.nn.utils.weight_norm", "torch.nn.utils.spectral_norm", "torch.nn.utils.parametrizations.weight_norm",
    "torch.nn.utils.parametrizations.spectral_norm", "torch.nn.utils.parametrize.register_parametrization",
    "torch.ao.quantization.prepare", "torch.ao.quantization.prepare_qat", "torch.quantization.prepare",
    "torch.quantization.prepare_qat",
})
PRUNE_PREFIX = "torch.nn.utils.prune."
# Hooks registered on every module at once.
GLOBAL_HOOKS = frozenset({
    "torch.nn.modules.module.register_module_forward_hook",
    "torch.nn.modules.module.register_module_forward_pre_hook",
    "torch.nn.modules.module.register_module_full_backward_hook",
})

# -- gradient clipping --------------------------------------------------------------------------
CLIP_FUNCTIONS = ("clip_grad_norm_", "clip_grad_norm", "clip_grad_value_")
CLIP_MODULES = ("torch.nn.utils", "torch.nn.utils.clip_grad")
CLIP_QUALNAMES = frozenset(f"{m}.{f}" for m in CLIP_MODULES for f in CLIP_FUNCTIONS)
# Methods by which a wrapped module clips its own gradients: FSDP's and fairscale's
# ``model.clip_grad_norm_(max_norm)`` (the norm is computed across the shards).
MODULE_CLIP_METHODS = ("clip_grad_norm_",)
# Functions that step the optimizer they are handed (first argument or ``optimizer=``): torch_xla's
# ``xm.optimizer_step(optimizer)`` reduces the gradients across replicas, then calls ``optimizer.step()``.
OPTIMIZER_STEPPING_QUALNAMES = frozenset({"torch_xla.core.xla_model.optimizer_step"})
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
# A parameter's gradient, and the per-sample gradients that extensions (BackPACK, Opacus)
# and mixed-precision wrappers (Megatron's ``main_grad``) store beside it.
GRADIENT_ATTRIBUTES = frozenset({"grad", "grad_batch", "grad_sample", "main_grad"})
# Tensor methods that clamp a gradient where it lies (``p.grad.data.clamp_(-c, c)``): a clip by hand.
GRAD_CLAMP_METHODS = frozenset({"clamp_", "clip_", "nan_to_num_"})
# ... and their function forms writing back into the gradient they read
# (``torch.nan_to_num(p.grad, nan=0, out=p.grad)``).
GRAD_CLAMP_FUNCTIONS = frozenset({"nan_to_num", "clamp", "clip"})
# ``loss.backward(inputs=...)`` / ``create_graph=True``: gradients into chosen tensors, or kept
# differentiable, for a penalty or a meta-gradient rather than the update.
PARTIAL_BACKWARD_KEYWORDS = frozenset({"inputs", "create_graph"})
# Calls that write what they are handed to a log (``writer.add_histogram(tag, p.grad, step)``,
# ``logger.histo_summary(...)``, ``wandb.log``, ``print``): a callee name, or its receiver's last name.
# (``log`` alone only on a logging receiver or ``self``: ``torch.log(p.grad)`` computes)
LOGGING_CALLEE = re.compile(r"^(print|pprint|log_(dict|metrics|scalar|scalars|histogram|image)|add_(scalar|scalars|"
                            r"histogram|histogram_raw|image|images|figure|text)|\w+_summary)$")
LOGGING_RECEIVER = re.compile(r"(^|_)(logger|writer|wandb|tensorboard|tb|summary_writer|experiment)$", re.I)
# Text of a training pass that checks gradients (or a loss) for inf/NaN itself, the job GradScaler's
# ``step`` does: ``torch.isfinite(norm)``, ``found_inf``, ``float("inf")`` comparisons.
INF_NAN_CHECK = re.compile(r"isfinite|isnan|isinf|found_inf|nan_to_num|math\.inf|float\(['\"]inf")
# Libraries of numbers: their functions read what they are handed (``np.isnan(grad_norm)``)
# and write no gradient of torch's, even handed a tensor. (Not ``summaries._LIBRARIES``: the
# libraries whose functions reach no optimizer they are not handed, torch's own among them.)
NUMERIC_LIBRARIES = ("numpy.", "math.", "scipy.")
# Standard-library modules whose functions take no callable to run and act on no torch object
# (``time.time()``, ``os.makedirs(out_dir)``), matched against a qualified name's first part.
# (``summaries._STDLIB`` is wider: every module but those that run what they are given; a
# function body calling ``itertools`` or ``copy`` is still summarised, but in a training loop
# ``itertools.chain(G.parameters(), D.parameters())`` stays a call to read.)
PLAIN_STDLIB_MODULES = frozenset({"time", "os", "json", "shutil", "glob", "datetime", "logging", "random",
                                  "csv", "pathlib", "warnings", "re", "string", "platform", "socket",
                                  "getpass", "uuid"})
# torch's own functions that build or combine tensors (never ``torch._foreach_zero_``, in-place ``_``):
# matched against a qualified name.
TORCH_PURE_FUNCTION = re.compile(r"torch\.(nn\.functional\.)?[a-z][a-z0-9_]*[a-z0-9]$")
# What code reads off an optimizer; an object read for anything else is not one.
OPTIMIZER_ATTRIBUTES = frozenset({
    "param_groups", "state", "defaults", "step", "zero_grad", "state_dict", "load_state_dict",
    "add_param_group", "register_step_pre_hook", "register_step_post_hook", "optimizer", "__class__",
    "synchronize", "skip_synchronize", "consolidate_state_dict", "train", "eval",
})
# torch's functional gradients (a WGAN-GP penalty's ``autograd.grad(outputs=..., inputs=...)``):
# they return the gradients and leave every ``.grad`` as it was (qualified names).
TORCH_FUNCTIONAL_GRADIENTS = frozenset({"torch.autograd.grad", "torch.func.grad", "torch.func.vjp",
                                        "torch.func.jvp", "torch.autograd.functional.jacobian"})
# torch.distributed's collectives: they combine tensors across processes in place, never clear or
# step (matched against a qualified name).
TORCH_COLLECTIVE = re.compile(
    r"torch\.distributed\.(all_reduce|all_gather|all_gather_into_tensor|broadcast|barrier|reduce|"
    r"reduce_scatter|reduce_scatter_tensor|all_to_all|all_gather_object|broadcast_object_list|get_rank|"
    r"get_world_size)$")
# A project's own gradient collective (``mpi_avg_grads(ac.pi)``, ``average_gradients(model)``,
# ``allreduce_grads(params)``, ``sync_gradients(net)``): averages or sums the gradients across
# processes, never clears them or steps (matched against the callee's last name).
GRADIENT_COLLECTIVE_NAME = re.compile(
    r"^(mpi_)?(avg|average|all_?reduce|reduce|sync|synchroni[sz]e)_(the_)?(grads?|gradients?)$")
# Callees that receive a model without being able to build or hold an optimizer over it
# (builtins, saving, copying, logging; matched against the callee's dotted name as written).
MODEL_HARMLESS_CALLEES = frozenset({
    "print", "len", "str", "repr", "isinstance", "type", "id", "hasattr", "vars",
    "torch.save", "copy.deepcopy", "deepcopy", "logging.info", "logger.info",
})
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
# Callees that load or save state: handed an optimizer they cannot step it (OPT104:
# ``checkpointer.load_optim(model, optim)``); handed a model, these and the other writers
# of state do not switch its train/eval mode (OPT603: ``save_checkpoint(model, ...)``,
# ``model.serialize(model, optimizer, epoch)`` packing a checkpoint).
LOAD_SAVE_CALLEE = re.compile(r"^_*(load|save)(_|$)")
STATE_WRITING_CALLEE = re.compile(r"_*(save|load|checkpoint|export|dump|serialize)(_|$)")
COPY_UPDATING_CALLEE = re.compile(r"update|ema|polyak|copy|sync|target|momentum|average|swa|freeze",
                                  re.IGNORECASE)

# -- optimizers and their param-group keys --------------------------------------------------------
# The base class of every torch optimizer (a project class deriving from it is an optimizer).
OPTIMIZER_BASES = frozenset({"torch.optim.Optimizer", "torch.optim.optimizer.Optimizer"})
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
# Which constructor arguments carry a scheduler's period: (keyword, positional index).
SCHEDULER_PERIOD_ARGS: dict[str, tuple[tuple[str, int], ...]] = {
    "StepLR": (("step_size", 1),),
    "MultiStepLR": (("milestones", 1),),
    "ExponentialLR": (("gamma", 1),),
    "CosineAnnealingLR": (("T_max", 1),),
    "PolynomialLR": (("total_iters", 1),),
    "CosineAnnealingWarmRestarts": (("T_0", 1),),
    "ReduceLROnPlateau": (("patience", 3),),
    "OneCycleLR": (("total_steps", 2), ("epochs", 3), ("steps_per_epoch", 4)),
    "CyclicLR": (("step_size_up", 3), ("step_size_down", 4)),
}
# transformers' schedule factories: period arguments (keyword, positional index) of the
# ``get_*_schedule_with_warmup`` factories and of ``get_scheduler(name, optimizer, ...)``, and the
# schedules with no period at all.
TRANSFORMERS_PERIOD_ARGS = (("num_warmup_steps", 1), ("num_training_steps", 2))
TRANSFORMERS_GET_SCHEDULER_PERIOD_ARGS = (("num_warmup_steps", 2), ("num_training_steps", 3))
TRANSFORMERS_CONSTANT_SCHEDULES = frozenset({"get_constant_schedule"})
# Methods whose call on an object says it is no torch LR scheduler: diffusers' noise schedulers,
# timm's schedulers (``step_update``).
NOT_LR_SCHEDULER_METHODS = frozenset({
    "step_update", "set_timesteps", "add_noise", "scale_model_input", "timesteps", "get_velocity",
    "previous_timestep", "sigmas", "init_noise_sigma", "order",
})
# Every ``torch.optim.lr_scheduler`` class the checks know (the three kinds above).
SCHEDULER_CLASSES = EPOCH_SCHEDULERS | BATCH_SCHEDULERS | UNTIMED_SCHEDULERS
# transformers' schedule factories, recognised by name wherever they are imported from (projects
# vendor ``optimization.py``). Not ``get_scheduler`` (a project's own may build anything) nor
# ``get_*_schedule`` (diffusion code's ``get_beta_schedule`` returns noise levels).
VENDORED_SCHEDULE_FACTORIES = frozenset({
    "get_linear_schedule_with_warmup", "get_cosine_schedule_with_warmup",
    "get_cosine_with_hard_restarts_schedule_with_warmup", "get_polynomial_decay_schedule_with_warmup",
    "get_constant_schedule_with_warmup", "get_inverse_sqrt_schedule", "get_wsd_schedule",
    "get_cosine_with_min_lr_schedule_with_warmup",
})


# -- calls with an effect on gradients or optimizers ----------------------------------------------
# Method names that clear, step, backpropagate, unscale or change what an optimizer holds
# (torch's and Lightning's ``manual_backward``): a function calling one may touch an optimizer.
GRADIENT_EFFECT_METHODS = frozenset({
    "zero_grad", "zero_", "step", "backward", "manual_backward", "unscale_", "update", "requires_grad_",
    "set_to_none", "fill_", "load_state_dict", "add_param_group",
})
# Lightning's ``self.optimizers()`` / ``self.lr_schedulers()`` hand the objects back and
# ``toggle_optimizer`` flips ``requires_grad``: none clears or steps.
LIGHTNING_OPTIMIZER_GETTERS = frozenset({"optimizers", "lr_schedulers", "toggle_optimizer", "untoggle_optimizer"})
# Library functions handed an optimizer that never clear or step it: apex's loss scaling
# (``with amp.scale_loss(loss, optimizer) as scaled:``), its parameter generator, and its
# set-up, which hands the model and optimizer back patched (``model, optimizer = amp.initialize(...)``).
APEX_HARMLESS_QUALNAMES = frozenset({"apex.amp.scale_loss", "apex.amp.master_params", "apex.amp.initialize"})
# Calls handed an optimizer that wrap it or watch its steps without stepping it: opacus' privacy
# engine returns it wrapped (``model, optimizer, loader = engine.make_private(...)``) and its
# ``BatchMemoryManager`` splits batches, telling the wrapped optimizer which steps to skip;
# Horovod's (and BytePS's) ``hvd.DistributedOptimizer(optimizer, named_parameters=...)`` returns
# it wrapped, averaging the gradients when the wrapper steps.
OPTIMIZER_WRAPPING_CALLEES = frozenset({"make_private", "make_private_with_epsilon", "BatchMemoryManager",
                                        "DistributedOptimizer"})
# Objects that run the backward and step for the code (``accelerator.backward(loss)``).
ACCELERATOR_QUALNAMES = frozenset({
    "accelerate.Accelerator", "accelerate.accelerator.Accelerator",
    "lightning.Fabric", "lightning.fabric.Fabric", "lightning_fabric.Fabric",
    "lightning.fabric.fabric.Fabric",
})
DEEPSPEED_INIT = frozenset({"deepspeed.initialize"})

# -- data ---------------------------------------------------------------------------------------
DATALOADER_QUALNAMES = ("torch.utils.data.DataLoader", "torch.utils.data.dataloader.DataLoader")

# -- gradient scaling ---------------------------------------------------------------------------
SCALER_QUALNAMES = frozenset({
    "torch.GradScaler",  # torch's own alias of torch.amp.GradScaler (``torch.GradScaler("cuda")``)
    "torch.amp.GradScaler", "torch.amp.grad_scaler.GradScaler", "torch.cuda.amp.GradScaler",
    "torch.cuda.amp.grad_scaler.GradScaler", "torch.cpu.amp.GradScaler",
    # FSDP's subclass (same scale / unscale_ / step / update; skips inf checks across shards)
    # and fairscale's, which it was taken from
    "torch.distributed.fsdp.sharded_grad_scaler.ShardedGradScaler",
    "fairscale.optim.grad_scaler.ShardedGradScaler",
})
# GradScaler methods that read its state and never update the scale (``scaler.get_scale()`` in a
# log line): a call to one is not a call that might stand in for ``scaler.update()``.
SCALER_READERS = frozenset({"get_scale", "is_enabled", "get_growth_factor", "get_backoff_factor",
                            "get_growth_interval"})
