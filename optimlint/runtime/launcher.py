"""``optimlint run torchrun ...`` and ``optimlint run -m torch.distributed.run ...``.

torchrun's workers are other processes started from a fresh interpreter: a monitor in the
launcher would see nothing and report nothing. So the command is turned around into the
documented form, ``python -m torch.distributed.run LAUNCHER-OPTIONS -m optimlint run
OPTIONS SCRIPT ARGS``, and run: every rank runs under the companion and the ranks merge into
one report as usual (``distributed``). torchrun's own parser splits its options from the
script, so every launcher option keeps its meaning.
"""

from __future__ import annotations

import os
import subprocess
import sys

MODULE = "torch.distributed.run"


def is_launcher(module: str | None, script: str | None) -> bool:
    """Whether the program to run is torchrun itself: its module, its console script by path,
    or plain ``torchrun`` (found on PATH by the shell in the usual spelling; run here as its
    module, with this interpreter)."""
    if module is not None:
        return module == MODULE
    return script is not None and os.path.basename(script) == "torchrun"


def relaunch(launcher_args: list[str], own_options: list[str]) -> int:
    """Run torchrun with ``optimlint run own_options`` in front of its training script;
    returns torchrun's exit status (2 when the command cannot be instrumented)."""
    from torch.distributed.run import get_args_parser

    try:
        parsed = get_args_parser().parse_args(launcher_args)
    except SystemExit as exc:  # torchrun's own usage message is already printed
        return exc.code if isinstance(exc.code, int) else 2
    if parsed.no_python:
        print("error: optimlint run cannot watch a torchrun job started with --no-python: its workers "
              "are not Python programs", file=sys.stderr)
        return 2
    tail = list(parsed.training_script_args)
    at = len(launcher_args) - len(tail) - 1
    options = [a for a in launcher_args[:at] if a not in ("-m", "--module")]
    program = (["-m"] if parsed.module else []) + [parsed.training_script, *tail]
    command = [sys.executable, "-m", MODULE, *options, "-m", "optimlint", "run", *own_options, *program]
    try:
        return subprocess.call(command)
    except KeyboardInterrupt:
        return 130
