"""``optimlint run``: run a script (or ``-m module``) in-process under the runtime companion.

The program runs as ``__main__`` with its own ``sys.argv``; its exit status is ours. The
report goes to stderr (or ``--output-file``) when the program ends, even when it raises.
Under torchrun each rank writes its own report, tagged by rank (``--output-file`` gets a
``.rankN`` suffix when the world has more than one rank).

This module imports torch only inside ``main``, so a missing torch is a clean exit 2.
"""

from __future__ import annotations

import os
import sys
import traceback

USAGE = ("usage: optimlint run [--output-format text|json] [--output-file PATH] [--strict] "
         "SCRIPT [ARGS...]\n"
         "       optimlint run [OPTIONS] -m MODULE [ARGS...]")
NO_TORCH = "optimlint run needs PyTorch: pip install 'optimlint[runtime]'"


class _Usage(Exception):
    pass


class _Options:
    output_format = "text"
    output_file: str | None = None
    strict = False
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
        if arg == "--strict":
            opts.strict = True
            i += 1
            continue
        name, eq, value = arg.partition("=")
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
        print(USAGE)
        return 0
    if opts.script is not None and not os.path.isfile(opts.script):
        print(f"error: {opts.script}: no such file", file=sys.stderr)
        return 2
    if opts.output_file:
        opts.output_file = os.path.abspath(opts.output_file)  # the program may chdir
    try:
        import torch  # noqa: F401
    except ImportError:
        print(NO_TORCH, file=sys.stderr)
        return 2
    from optimlint.runtime.monitor import Monitor

    namespace: dict = {}
    monitor = Monitor(namespace=namespace)
    monitor.install()
    opts.script_abs = os.path.abspath(opts.script) if opts.script else None
    cwd = os.getcwd()
    try:
        status = _run(opts, namespace)
    finally:
        monitor.uninstall()
    report = monitor.finalize()
    try:
        os.chdir(cwd)  # paths in the report are shown relative to where optimlint was run
    except OSError:
        pass
    return _write_report(opts, report, status)


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

    path_abs = os.path.abspath(path)
    with open(path_abs, "rb") as fh:
        source = fh.read()
    code = compile(source, path_abs, "exec", dont_inherit=True)
    module = types.ModuleType("__main__")
    module.__file__ = path_abs
    module.__builtins__ = __builtins__
    module.__spec__ = None
    module.__loader__ = None
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
    from optimlint.runtime import report as render

    extra = [opts.script_abs] if opts.script else []
    try:
        diagnostics = render.joined_report(report, extra)
    except Exception as exc:  # pragma: no cover - defensive: still report what was seen
        report.errors.append(f"join: {type(exc).__name__}: {exc}")
        from optimlint.runtime.join import join

        diagnostics = join([], report.findings, report.sites)
    rank = report.rank
    if opts.output_file:
        path = _rank_path(opts.output_file, rank)
        try:
            with open(path, "w", encoding="utf-8") as fh:
                render.render(diagnostics, opts.output_format, fh, report.errors, rank)
        except OSError as exc:
            print(f"error: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
            return 2
    else:
        sys.stdout.flush()
        render.render(diagnostics, opts.output_format, sys.stderr, report.errors, rank)
        sys.stderr.flush()
    if opts.strict and status == 0 and render.confirmed(diagnostics):
        return 1
    return status


def _rank_path(path: str, rank) -> str:
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        world = 1
    if rank is None or world <= 1:
        return path
    stem, ext = os.path.splitext(path)
    return f"{stem}.rank{rank}{ext}"
