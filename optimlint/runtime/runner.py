"""``optimlint run``: run a script (or ``-m module``) in-process under the runtime companion.

The program runs as ``__main__`` with its own ``sys.argv``; its exit status is ours. The
report is written when the program ends, even when it raises: to ``--output-file`` (folders
created), else the text report to stderr and the JSON report to stdout (the program's own
stdout then goes to stderr, so ``optimlint run --output-format json train.py | jq`` reads
only the report, as with ``ruff check --output-format json``). Under torchrun the ranks merge
into one report (see ``distributed``), written by the last rank to finish to the
``--output-file`` as given; ``--per-rank`` adds ``NAME.rankN.EXT`` files. ``optimlint run
torchrun ...`` is turned around into ``torchrun ... -m optimlint run ...`` (``launcher``).

This module imports torch only inside ``main``, so a missing torch is a clean exit 2.
"""

from __future__ import annotations

import os
import sys
import traceback

USAGE = ("usage: optimlint run [--output-format text|json] [-o|--output-file PATH] [--strict] [--per-rank] "
         "SCRIPT [ARGS...]\n"
         "       optimlint run [OPTIONS] -m MODULE [ARGS...]")
HELP = USAGE + """

Run a training script (or -m MODULE) in this process with the runtime companion watching
torch.optim, then report each static finding of the files that ran as confirmed,
not-observed or not-reached, and the mistakes seen only at runtime.

options:
  --output-format text|json  text (default): one line per finding and a summary; json:
                             check's array, each object with "runtime" (confirmed,
                             not-observed, not-reached; "error" for an internal error)
  -o, --output-file PATH     write the report to PATH (missing folders are created), even
                             when the program fails; without it, text goes to stderr and
                             JSON to stdout (the program's stdout is sent to stderr then)
  --strict                   exit 1 when the program succeeded but a finding was confirmed
  --per-rank                 under torchrun, also write each rank's own report
                             (PATH.rankN.EXT); the merged report is always written
  -m MODULE                  run a module as __main__ (like python -m)
  -h, --help                 show this message

The exit status is the program's own (2 for a usage error)."""
NO_TORCH = "optimlint run needs PyTorch: pip install 'optimlint[runtime]'"


class _Usage(Exception):
    pass


class _Options:
    output_format = "text"
    output_file: str | None = None
    strict = False
    per_rank = False
    script: str | None = None
    script_abs: str | None = None
    module: str | None = None
    args: list[str] = []


def parse(argv: list[str]) -> _Options | None:
    """The options, or None for ``--help``. Raises _Usage."""
    opts = _Options()
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-h", "--help"):
            return None
        if arg in ("--strict", "--per-rank"):
            setattr(opts, arg[2:].replace("-", "_"), True)
            i += 1
            continue
        name, eq, value = arg.partition("=")
        if name == "-o":
            name = "--output-file"
        if name in ("--output-format", "--output-file"):
            if not eq:
                if i + 1 >= len(argv):
                    raise _Usage(f"option `{name}` needs a value")
                value = argv[i + 1]
                i += 1
            i += 1
            if name == "--output-format":
                if value not in ("text", "json"):
                    raise _Usage(f"invalid value for `--output-format`: `{value}` (choose text or json)")
                opts.output_format = value
            else:
                opts.output_file = value
            continue
        if arg == "-m":
            if i + 1 >= len(argv):
                raise _Usage("option `-m` needs a module name")
            opts.module = argv[i + 1]
            opts.args = list(argv[i + 2:])
            return opts
        if arg == "--":
            i += 1
            if i >= len(argv):
                break
            arg = argv[i]
        elif arg.startswith("-") and arg != "-":
            raise _Usage(f"unknown option `{arg}`")
        opts.script = arg
        opts.args = list(argv[i + 1:])
        return opts
    raise _Usage("missing the script to run (or `-m MODULE`)")


def main(argv: list[str]) -> int:
    """Run the program under the companion; returns the exit status."""
    try:
        opts = parse(list(argv))
    except _Usage as exc:
        print(f"{USAGE}\nerror: {exc}", file=sys.stderr)
        return 2
    if opts is None:
        print(HELP)
        return 0
    if opts.script is not None and not os.path.isfile(opts.script) and opts.script != "torchrun":
        print(f"error: {opts.script}: no such file", file=sys.stderr)
        return 2
    if opts.output_file:
        opts.output_file = os.path.abspath(opts.output_file)  # the program may chdir
    try:
        import torch  # noqa: F401
    except ImportError:
        print(NO_TORCH, file=sys.stderr)
        return 2
    from optimlint.runtime import launcher

    if launcher.is_launcher(opts.module, opts.script):
        return launcher.relaunch(opts.args, _own_options(opts))
    import tempfile

    from optimlint.runtime import distributed
    from optimlint.runtime.monitor import Monitor

    # spawned children write their observations here; merged below
    parts = tempfile.mkdtemp(prefix="optimlint-spawn-")
    saved_env = os.environ.get(distributed.PARTS_ENV)
    os.environ[distributed.PARTS_ENV] = parts
    namespace: dict = {}
    monitor = Monitor(namespace=namespace)
    monitor.install()
    opts.script_abs = os.path.abspath(opts.script) if opts.script else None
    cwd = os.getcwd()
    json_to_stdout = opts.output_format == "json" and not opts.output_file
    saved_stdout = _stdout_to_stderr() if json_to_stdout else None
    try:
        status = _run(opts, namespace)
    finally:
        monitor.uninstall()
        if saved_stdout is not None:
            _restore_stdout(saved_stdout)
        if saved_env is None:
            os.environ.pop(distributed.PARTS_ENV, None)
        else:
            os.environ[distributed.PARTS_ENV] = saved_env
    report = monitor.finalize()
    for child in distributed.read_parts(parts):
        report.merge(child)
    distributed.cleanup(parts)
    try:
        os.chdir(cwd)  # paths in the report are shown relative to where optimlint was run
    except OSError:
        pass
    return _write_report(opts, report, status)


def _own_options(opts: _Options) -> list[str]:
    """This run's options, spelled again for the ``optimlint run`` of each torchrun worker."""
    options = ["--output-format", opts.output_format]
    if opts.output_file:
        options += ["--output-file", opts.output_file]
    return options + ["--strict"] * opts.strict + ["--per-rank"] * opts.per_rank


def _stdout_to_stderr():
    """Send the program's stdout (Python's and the file descriptor's) to stderr; returns what
    restores it."""
    sys.stdout.flush()
    saved_fd = os.dup(1)
    os.dup2(2, 1)
    saved = sys.stdout
    sys.stdout = sys.stderr
    return saved, saved_fd


def _restore_stdout(saved) -> None:
    stream, fd = saved
    try:
        sys.stdout.flush()
    except Exception:  # pragma: no cover - a closed stream
        pass
    os.dup2(fd, 1)
    os.close(fd)
    sys.stdout = stream


def _run(opts: _Options, namespace: dict) -> int:
    saved_argv, saved_path = sys.argv[:], sys.path[:]
    saved_main = sys.modules.get("__main__")
    try:
        if opts.module is not None:
            import runpy

            sys.argv = [opts.module, *opts.args]
            sys.path.insert(0, os.getcwd())
            result = runpy.run_module(opts.module, run_name="__main__", alter_sys=True)
            namespace.update(result)
        else:
            _run_script(opts.script, opts.args, namespace)
        return 0
    except SystemExit as exc:
        return _exit_code(exc.code)
    except KeyboardInterrupt:
        _print_exception(sys.exc_info()[1])
        return 130
    except BaseException as exc:  # the program's own error: print it as Python would
        _print_exception(exc)
        return 1
    finally:
        sys.argv[:] = saved_argv
        sys.argv = saved_argv
        sys.path[:] = saved_path
        if saved_main is not None:
            sys.modules["__main__"] = saved_main


def _run_script(path: str, args: list[str], namespace: dict) -> None:
    import types
    from importlib.machinery import SourceFileLoader

    path_abs = os.path.abspath(path)
    with open(path_abs, "rb") as fh:
        source = fh.read()
    code = compile(source, path_abs, "exec", dont_inherit=True)
    module = types.ModuleType("__main__")
    module.__file__ = path_abs
    module.__builtins__ = __builtins__
    # as `python script.py` sets them: no spec, a source loader. Python 3.12's linecache asks
    # the loader of a frame's globals for each warning the script's own lines trigger, and a
    # None loader there raises ValueError in the user's program.
    module.__spec__ = None
    module.__loader__ = SourceFileLoader("__main__", path_abs)
    sys.modules["__main__"] = module
    sys.argv = [path, *args]
    sys.path.insert(0, os.path.dirname(path_abs))
    namespace_ref = module.__dict__
    try:
        exec(code, namespace_ref)
    finally:
        namespace.update(namespace_ref)


def _exit_code(code) -> int:
    if code is None:
        return 0
    if isinstance(code, bool):
        return int(code)
    if isinstance(code, int):
        return code & 0xFF if code >= 0 else code
    print(code, file=sys.stderr)
    return 1


def _print_exception(exc: BaseException) -> None:
    """Print the program's traceback as Python would, without optimlint's own frames."""
    runtime_dir = os.path.dirname(os.path.abspath(__file__)) + os.sep
    try:
        te = traceback.TracebackException.from_exception(exc)
        for t in _chain(te):
            kept = [f for f in t.stack if not os.path.abspath(f.filename).startswith(runtime_dir)]
            t.stack = traceback.StackSummary.from_list(kept)
        sys.stderr.write("".join(te.format()))
    except Exception:  # pragma: no cover - never lose the user's error
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)


def _chain(te):
    seen = set()
    while te is not None and id(te) not in seen:
        seen.add(id(te))
        yield te
        te = te.__cause__ or te.__context__


def _write_report(opts: _Options, report, status: int) -> int:
    from optimlint.runtime import distributed

    rank = report.rank
    if distributed.world_size() > 1 and rank is not None:
        if opts.per_rank and opts.output_file:
            _emit(opts, report, status, _rank_path(opts.output_file, rank), rank)
        # torchrun: each rank leaves its part; the last one to finish merges and reports
        folder = distributed.torchrun_parts_dir(opts.output_file)
        try:
            distributed.write_part(folder, f"rank{rank}", report)
        except OSError as exc:
            print(f"error: cannot write the rank's part in {folder}: {exc.strerror or exc}", file=sys.stderr)
            return 2
        if not distributed.claim_merge(folder, distributed.world_size()):
            return status
        merged = type(report)()
        for part in distributed.read_parts(folder):
            merged.merge(part)
        distributed.cleanup(folder)
        report = merged
        rank = None
    return _emit(opts, report, status, opts.output_file, rank)


def _emit(opts: _Options, report, status: int, path, rank) -> int:
    from optimlint.runtime import report as render

    extra = [opts.script_abs] if opts.script else []
    try:
        diagnostics = render.joined_report(report, extra)
    except Exception as exc:  # pragma: no cover - defensive: still report what was seen
        report.errors.append(f"join: {type(exc).__name__}: {exc}")
        from optimlint.runtime.join import join

        diagnostics = join([], report.findings, report.sites)
    if path:
        try:
            folder = os.path.dirname(path)
            if folder:
                os.makedirs(folder, exist_ok=True)
            with open(path, "w", encoding="utf-8") as fh:
                render.render(diagnostics, opts.output_format, fh, report.errors)
        except OSError as exc:
            print(f"error: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
            return 2
    elif opts.output_format == "json":
        sys.stderr.flush()
        render.render(diagnostics, "json", sys.stdout, report.errors)
        sys.stdout.flush()
    else:
        sys.stdout.flush()
        render.render(diagnostics, opts.output_format, sys.stderr, report.errors)
        sys.stderr.flush()
    if opts.strict and status == 0 and render.confirmed(diagnostics):
        return 1
    return status


def _rank_path(path: str, rank) -> str:
    stem, ext = os.path.splitext(path)
    return f"{stem}.rank{rank}{ext}"
