"""The command line: ``check``, ``rule``, ``rules`` and ``run`` (Ruff's conventions).

Exit codes: 0 no findings; 1 findings remain (after fixes); 2 bad usage, bad config
or an internal error. Errors go to stderr as ``error: ...``; a traceback only with
``OPTIMLINT_DEBUG=1``.

Start-up cost matters: the pre-commit hook runs ``optimlint check --force-exclude FILES``
on every commit, and importing click alone takes longer than linting a clean file. So
``main`` parses the plain ``check [FLAGS] [PATHS]`` invocation itself, reading which words
are flags from ``CHECK_OPTIONS`` (the table the click command is built from: one
definition of every option), and hands everything else (values, ``--help``, errors, other
commands) to click, which is imported only then. tests/test_startup.py checks that both
parse every invocation the fast path accepts into the same parameters.
"""

from __future__ import annotations

import os
import sys

from optimlint import __version__
from optimlint.registry import NAMES, RULES
from optimlint.report import FORMATS


class UsageFailure(Exception):
    """Printed as ``error: ...``, exit code 2 (click's standalone mode shows it the same way)."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def format_message(self) -> str:
        return self.message

    def show(self, file=None) -> None:
        _echo(f"error: {self.format_message()}", err=True)


def _echo(message: str = "", err: bool = False) -> None:
    """``click.echo(message, err=err)`` for text, without importing click: a newline, a
    flush, and ANSI escapes stripped when the stream is not a terminal."""
    stream = sys.stderr if err else sys.stdout
    if stream is None:
        return
    if "\x1b" in message and not _isatty(stream):
        import re

        message = re.sub(r"\033\[[;?0-9]*[a-zA-Z]", "", message)
    stream.write(message + "\n")
    stream.flush()


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except Exception:
        return False


# --------------------------------------------------------------------------- check's options
# ``(declarations, attributes)`` per option, in the order ``--help`` lists them. The last
# declaration is the parameter's name. ``type`` is a function of the click module (click is
# imported only to build the click command).
CHECK_OPTIONS: tuple[tuple[tuple[str, ...], dict], ...] = (
    (("--select", "select"), {"multiple": True, "metavar": "CODES",
     "help": "Rule codes or prefixes to enable (replaces the config's select), e.g. OPT1,OPT301."}),
    (("--ignore", "ignore"), {"multiple": True, "metavar": "CODES", "help": "Rule codes or prefixes to disable."}),
    (("--extend-select", "extend_select"), {"multiple": True, "metavar": "CODES",
                                            "help": "Codes to enable on top of select."}),
    (("--fix", "fix"), {"is_flag": True, "help": "Apply safe fixes."}),
    (("--unsafe-fixes/--no-unsafe-fixes", "unsafe_fixes"), {
        "default": None, "help": "Also offer and apply unsafe fixes (config: unsafe-fixes)."}),
    (("--preview/--no-preview", "preview"), {
        "default": None, "help": "Also run the rules still in preview (config: preview)."}),
    (("--add-noqa", "add_noqa"), {"is_flag": True,
                                  "help": "Add `# noqa: CODE` to every line with a finding (adopting a codebase)."}),
    (("--diff", "diff"), {"is_flag": True, "help": "Print the fixes as a unified diff; change no file."}),
    (("--show-fixes", "show_fixes"), {"is_flag": True, "help": "With --fix, list the fixes applied."}),
    (("--statistics", "statistics"), {"is_flag": True,
                                      "help": "Count findings per rule instead of listing them."}),
    (("--exit-zero", "exit_zero"), {"is_flag": True, "help": "Exit 0 even when findings remain."}),
    (("--no-cache", "no_cache"), {"is_flag": True, "help": "Do not read or write the results cache."}),
    (("--output-format", "output_format"), {
        "type": lambda click: click.Choice(FORMATS), "default": None,
        "envvar": "OPTIMLINT_OUTPUT_FORMAT", "show_envvar": True, "help": "Output format (default: full)."}),
    (("-o", "--output-file", "output_file"), {
        "type": lambda click: click.Path(dir_okay=False, writable=True), "default": None,
        "help": "Write the report to this file instead of stdout."}),
    (("--config", "config_file"), {
        "multiple": True, "metavar": "FILE | KEY=VALUE",
        "help": "A config file (pyproject.toml with [tool.optimlint], or optimlint.toml) deciding for "
                "every file, or a TOML `KEY = VALUE` overriding a setting (repeatable)."}),
    (("--isolated", "isolated"), {"is_flag": True, "help": "Read no config file: defaults and the command line."}),
    (("--show-settings", "show_settings"), {
        "is_flag": True, "help": "Print the settings the first file is linted with, and their config file."}),
    (("--show-files", "show_files"), {"is_flag": True, "help": "Print the files that would be linted."}),
    (("-q", "--quiet", "quiet"), {"is_flag": True, "help": "Print findings only: no summary, no progress."}),
    (("-j", "--jobs", "jobs"), {"type": lambda click: click.IntRange(min=1), "default": None,
                                "help": "Worker processes."}),
    (("--force-exclude", "force_exclude"), {
        "is_flag": True, "help": "Apply excludes and .gitignore to paths given explicitly too (pre-commit)."}),
    (("--stdin-filename", "stdin_filename"), {
        "default": None, "metavar": "PATH",
        "help": "Lint standard input as PATH (its config, per-file-ignores and noqa); with --fix, "
                "the fixed source goes to stdout and the report to stderr."}),
    (("-w", "--watch", "watch"), {"is_flag": True, "help": "Re-lint when a file changes, clearing the screen."}),
)


def _fast_check_params(argv: list[str]) -> dict | None:
    """The parameters of a plain ``check [FLAGS] [PATHS]`` invocation, as click would pass
    them to ``check``; None for anything else (click handles it).

    Accepted: ``check`` then words that are either exactly a flag of ``CHECK_OPTIONS`` or
    do not start with ``-``. Options that take a value, ``--help``, ``--``, unknown
    options, an option's environment variable being set, shell completion and Windows
    (where click expands globs in the arguments) all go to click.
    """
    if os.name == "nt" or not argv or argv[0] != "check" or os.environ.get("_OPTIMLINT_COMPLETE"):
        return None
    params: dict = {"paths": ()}
    flags: dict[str, tuple[str, bool]] = {}
    for decls, attrs in CHECK_OPTIONS:
        *names, dest = decls
        multiple = attrs.get("multiple", False)
        params[dest] = attrs.get("default", () if multiple else False if attrs.get("is_flag") else None)
        if "envvar" in attrs and attrs["envvar"] in os.environ:
            return None
        if attrs.get("is_flag"):
            for name in names:
                flags[name] = (dest, True)
        elif len(names) == 1 and "/" in names[0] and "type" not in attrs and not multiple:
            on, off = (n.strip() for n in names[0].split("/"))  # a boolean ``--x/--no-x`` flag
            flags[on], flags[off] = (dest, True), (dest, False)
    paths = []
    for word in argv[1:]:
        if word.startswith("-"):
            if word not in flags:
                return None
            dest, value = flags[word]
            params[dest] = value
        else:
            paths.append(word)
    params["paths"] = tuple(paths)
    return params


def _selectors(values: tuple[str, ...], option: str) -> list[str]:
    from optimlint.config import ConfigError, validate_selectors  # check() loaded it already

    try:
        return validate_selectors(values, option)
    except ConfigError as exc:
        raise UsageFailure(str(exc)) from None


def _use_color(stream) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and os.environ.get("TERM") != "dumb"


class _Progress:
    """A one-line progress bar on stderr, drawn only on a TTY and only once a run is slow."""

    DELAY_S = 1.0

    def __init__(self) -> None:
        import time

        self._time = time.monotonic
        self._start = self._time()
        self._drawn = False
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = self._time()
        if now - self._start < self.DELAY_S or (now - self._last < 0.1 and done < total):
            return
        self._last = now
        width = 30
        filled = int(width * done / max(total, 1))
        sys.stderr.write(f"\r[{'#' * filled}{' ' * (width - filled)}] {done}/{total} files")
        sys.stderr.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            sys.stderr.write("\r" + " " * 60 + "\r")
            sys.stderr.flush()


def check(paths, select, ignore, extend_select, fix, unsafe_fixes, diff, show_fixes, statistics,
          exit_zero, no_cache, output_format, output_file, config_file, quiet, jobs, force_exclude,
          stdin_filename=None, watch=False, isolated=False, show_settings=False, show_files=False,
          preview=None, add_noqa=False) -> None:
    """``optimlint check``: lint, report, exit (0 clean, 1 findings, 2 errors)."""
    params = dict(locals())
    # Here, not at the top: each command loads what it needs (``run`` and ``rule`` not the linter).
    from optimlint.config import ConfigError
    from optimlint.engine import run
    from optimlint.results import RunOptions
    from optimlint.report import ReportOptions, render
    from optimlint.report.paths import display_path, location_prefix

    if isinstance(config_file, str):  # a caller of check() with one file, as before --config KEY=VALUE
        config_file = (config_file,)
    config_path, overrides = _config_arguments(config_file or (), isolated)
    stdin = _stdin_path(paths, stdin_filename)
    if watch:
        if stdin is not None:
            raise UsageFailure("--watch cannot read standard input")
        from optimlint.watchmode import watch_and_rerun

        params.update(watch=False, exit_zero=True)

        def once() -> None:
            try:
                check(**params)
            except UsageFailure as exc:  # a bad config: shown, and the watch goes on
                exc.show()

        sys.exit(watch_and_rerun(once, paths, config_path))
    cli_select = _selectors(select, "--select") if select else None
    cli_extend = _selectors(extend_select, "--extend-select") if extend_select else []
    cli_ignore = _selectors(ignore, "--ignore") if ignore else []

    def adjust(found):
        """The command line over a config's settings: ``--config KEY=VALUE`` pairs in order
        (their exclude paths relative to the current folder, as Ruff's), then --select
        (replacing), --extend-select and --ignore (adding)."""
        from optimlint.config import layered

        for fields in overrides:
            found = layered(found, fields, fields_root=os.getcwd())
        if cli_select is not None:
            found.select = cli_select
        if cli_extend:
            found.extend_select = [*found.extend_select, *cli_extend]
        if cli_ignore:
            found.ignore = [*found.ignore, *cli_ignore]
        if preview is not None:
            found.preview = preview
        return found

    try:
        # Runs that use the results cache also read the validated configs from it.
        hierarchy = _hierarchy(config_path, isolated, adjust, cache=not (no_cache or fix or diff))
        start = stdin if stdin is not None else paths[0] if paths else "."
        settings = hierarchy.for_path(start)  # the run's own: a bad config fails before linting
    except ConfigError as exc:
        raise UsageFailure(str(exc)) from None
    if show_files or show_settings:
        sys.exit(_show(hierarchy, paths, force_exclude, show_settings, stdin))
    if add_noqa:
        if fix or diff or stdin is not None:
            raise UsageFailure("--add-noqa cannot be combined with --fix, --diff or standard input")
        sys.exit(_add_noqa(paths, hierarchy, jobs, force_exclude, quiet))
    options = RunOptions(fix=fix and not diff, unsafe_fixes=unsafe_fixes, diff=diff, jobs=jobs,
                         cache=not no_cache, force_exclude=force_exclude)
    fmt = output_format or "full"
    if statistics and fmt not in ("full", "concise", "json"):
        raise UsageFailure(f"--statistics prints the full, concise or json format, not `{fmt}`")
    if output_file and not diff:
        _make_parent(output_file)  # before the run: a report that cannot be written fails fast
    options.excerpts = fmt == "full" and not statistics
    fixed_source = None
    if stdin is not None:
        from optimlint.stdin import lint_stdin

        result, fixed_source = lint_stdin(stdin, sys.stdin.buffer.read(), settings, options)
        if fix and not diff:  # the source on stdout, as Ruff does; the report on stderr
            sys.stdout.buffer.write(fixed_source)
            sys.stdout.flush()
    else:
        progress = _Progress() if (not quiet and sys.stderr.isatty()) else None
        try:
            result = run(list(paths), hierarchy, options, progress=progress)
        except ConfigError as exc:  # the config of a folder below the first path
            raise UsageFailure(str(exc)) from None
        finally:
            if progress is not None:
                progress.close()

    unsafe = options.allow_unsafe(settings)
    # Without --unsafe-fixes/--no-unsafe-fixes, each file's config decides, as --fix applied it.
    unsafe_files = None if options.unsafe_fixes is not None or stdin is not None else frozenset(
        f.path for f in result.files if options.allow_unsafe(hierarchy.for_path(f.path)))
    if not result.files and not result.errors and not quiet and stdin is None:
        _echo("warning: No Python files found under the given path(s)", err=True)
    for f in result.files:
        for d, reason in f.dropped:
            _echo(f"warning: {location_prefix(d)}: fix for {d.code} was not applied: {reason}", err=True)

    if diff:
        exit_code = _report_diff(result, ReportOptions(unsafe_fixes=unsafe, unsafe_files=unsafe_files), quiet)
    else:
        stream = (_open_report(output_file) if output_file
                  else sys.stderr if fixed_source is not None and fix else sys.stdout)
        try:
            report_options = ReportOptions(show_fixes=show_fixes, statistics=statistics, quiet=quiet,
                                           color=_use_color(stream) and not output_file, fix=fix,
                                           unsafe_fixes=unsafe, unsafe_files=unsafe_files)
            render(result, fmt, settings, stream, options=report_options)
            stream.flush()
        finally:
            if output_file:
                stream.close()
        exit_code = 1 if result.diagnostics else 0

    internal = result.internal_errors
    for path, message in internal:
        _echo(f"error: {display_path(path)}: {message}", err=True)
    if internal:
        sys.exit(2)
    sys.exit(0 if exit_zero else exit_code)


def _config_arguments(values: tuple[str, ...], isolated: bool) -> tuple[str | None, list[dict]]:
    """``--config`` values: the one config file (or None) and the ``KEY = VALUE`` overrides.

    As Ruff decides: a value naming an existing file is a config file; one with ``=`` is a
    TOML pair; anything else is a file that is missing."""
    from optimlint.config import ConfigError, override_fields

    path = None
    overrides = []
    for value in values:
        if os.path.isfile(value):
            if path is not None:
                raise UsageFailure(f"`--config` names two config files ({path}, {value}); give at most one")
            if isolated:
                raise UsageFailure(f"`--config {value}` cannot be used with `--isolated`, which reads no "
                                   f"config file")
            path = value
        elif os.path.isdir(value):
            raise UsageFailure(f"invalid value for `--config`: {value!r} is a directory, not a config file")
        elif "=" in value:
            try:
                overrides.append(override_fields(value))
            except ConfigError as exc:
                raise UsageFailure(str(exc)) from None
        else:
            raise UsageFailure(f"{value}: config file not found")
    return path, overrides


def _hierarchy(config_path: str | None, isolated: bool, adjust, cache: bool):
    """Where each file's settings come from: one config file, none, or the nearest each file."""
    from optimlint.config import Settings, load_file
    from optimlint.hierarchy import Hierarchy

    if isolated:
        return Hierarchy(fixed=Settings(root=os.getcwd()), adjust=adjust)
    if config_path is not None:
        return Hierarchy(fixed=load_file(config_path, cache), adjust=adjust)
    return Hierarchy(adjust=adjust, cache=cache)


def _show(hierarchy, paths, force_exclude: bool, show_settings: bool, stdin: str | None) -> int:
    """``--show-files`` (every file, absolute, one a line) or ``--show-settings`` (the first
    file's settings and the config file they come from), as Ruff prints them."""
    from optimlint.config import ConfigError
    from optimlint.discovery import discover
    from optimlint.settings_text import settings_text

    try:
        files = [stdin] if stdin is not None else discover(list(paths), hierarchy, force_exclude)[0]
        if not show_settings:
            for path in files:
                _echo(os.path.abspath(path))
            return 0
        if not files:
            raise UsageFailure("--show-settings: no Python file found under the given path(s)")
        _echo(settings_text(os.path.abspath(files[0]), hierarchy.for_path(files[0])).rstrip("\n"))
    except ConfigError as exc:
        raise UsageFailure(str(exc)) from None
    return 0


def _add_noqa(paths, hierarchy, jobs, force_exclude: bool, quiet: bool) -> int:
    """``--add-noqa``: lint (no cache), add the directives, say how many, as Ruff does: exit 0,
    or 2 when a file could not be written or linted."""
    from optimlint.add_noqa import add_noqa
    from optimlint.config import ConfigError
    from optimlint.engine import run
    from optimlint.report.paths import display_path
    from optimlint.results import RunOptions

    try:
        result = run(list(paths), hierarchy, RunOptions(jobs=jobs, cache=False, force_exclude=force_exclude))
    except ConfigError as exc:
        raise UsageFailure(str(exc)) from None
    added, problems = add_noqa(result)
    for path, why in problems:
        _echo(f"warning: {display_path(path)}: {why}", err=True)
    internal = result.internal_errors
    for path, message in internal:
        _echo(f"error: {display_path(path)}: {message}", err=True)
    if not quiet:
        _echo(f"Added {added} noqa directive{'s' if added != 1 else ''}.", err=True)
    return 2 if internal or problems else 0


def _stdin_path(paths: tuple[str, ...], stdin_filename: str | None) -> str | None:
    """The name standard input is linted as (``-`` among the paths, or --stdin-filename
    without paths), or None when the paths are files."""
    if "-" not in paths and (stdin_filename is None or paths):
        if stdin_filename is not None:
            raise UsageFailure("--stdin-filename names standard input: give `-` as the only path")
        return None
    if len(paths) > 1:
        raise UsageFailure("`-` (standard input) cannot be combined with other paths")
    return stdin_filename or "-"


def _make_parent(path: str) -> None:
    """Create the folders ``path`` will be written in (Ruff does too)."""
    parent = os.path.dirname(path)
    try:
        if parent:
            os.makedirs(parent, exist_ok=True)
    except OSError as exc:
        raise UsageFailure(f"cannot write the report to {path}: {exc.strerror or exc}") from None


def _open_report(path: str):
    try:
        return open(path, "w", encoding="utf-8")
    except OSError as exc:
        raise UsageFailure(f"cannot write the report to {path}: {exc.strerror or exc}") from None


def _report_diff(result, options, quiet: bool) -> int:
    """``--diff``: the diffs on stdout, a count on stderr; exit 1 when something would change."""
    changed = 0
    would_fix = 0
    # Fixes --unsafe-fixes would add: findings whose fix this run did not apply for its kind
    # (``options.allows_unsafe``: the file's settings, or the command line).
    hidden = sum(1 for f in result.files for d in f.diagnostics
                 if d.fix is not None and not d.fixable(options.allows_unsafe(d)))
    for f in result.files:
        if f.diff:
            sys.stdout.write(f.diff)
            if not f.diff.endswith("\n"):
                sys.stdout.write("\n")
            sys.stdout.write("\n")
            changed += 1
            would_fix += len(f.fixed)
    if not quiet:  # Ruff's sentences
        fixes = f"fix{'es' if hidden != 1 else ''} available with `--unsafe-fixes`"
        if would_fix:
            more = f" ({hidden} additional {fixes})" if hidden else ""
            _echo(f"Would fix {would_fix} error{'s' if would_fix != 1 else ''}{more}.", err=True)
        else:
            _echo(f"No errors would be fixed ({hidden} {fixes})." if hidden else "No errors would be fixed.",
                  err=True)
    return 1 if changed else 0


# --------------------------------------------------------------------------- rules
def rule(code: str) -> None:
    """``optimlint rule CODE``: print the rule's page."""
    from optimlint.catalogue import page_text  # dataclasses and pathlib: for this command only

    key = code.strip().upper()
    if key not in RULES:
        key = NAMES.get(code.strip().lower(), "")
    if key not in RULES:
        raise UsageFailure(f"unknown rule code `{code}` (run `optimlint rules` for the list of codes)")
    text = page_text(key)
    if text is None:
        info = RULES[key]
        text = (f"# {key} ({info.name})\n\nFix: {info.fix}\n"
                f"Runtime confirmation: {info.runtime or '-'}\n")
    _echo(text.rstrip("\n"))


def rules_markdown() -> str:
    """The rule table of the README (``optimlint rules --output-format markdown``)."""
    lines = ["| Code | Name | Fix | Runtime confirmation |", "|---|---|---|---|"]
    for info in RULES.values():
        lines.append(f"| {info.code} | {info.name} | {info.fix} | {info.runtime or '-'} |")
    return "\n".join(lines) + "\n"


def rules(output_format: str) -> None:
    """``optimlint rules``: every rule's code, name, fix and runtime confirmation."""
    rows = [(i.code, i.name, i.fix, i.runtime or "-") for i in RULES.values()]
    if output_format == "markdown":
        sys.stdout.write(rules_markdown())
        sys.stdout.flush()
        return
    if output_format == "json":
        import json

        _echo(json.dumps([{"code": c, "name": n, "fix": f, "runtime": r if r != "-" else None}
                          for c, n, f, r in rows], indent=2))
        return
    heads = ("CODE", "NAME", "FIX", "RUNTIME")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(heads[:3])]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths) + "  {}"
    _echo(fmt.format(*heads).rstrip())
    for row in rows:
        _echo(fmt.format(*row).rstrip())


# --------------------------------------------------------------------------- run
def run(args) -> None:
    """``optimlint run``: the runtime companion; exits with the program's status."""
    try:
        from optimlint.runtime.runner import main as runner_main  # torch: for this command only
    except ImportError as exc:
        missing = getattr(exc, "name", None) or ""
        if missing.split(".")[0] == "torch":
            raise UsageFailure("`optimlint run` needs PyTorch: pip install 'optimlint[runtime]' "
                               "(or install torch)") from None
        raise UsageFailure(f"the runtime companion is not available: {exc}") from None
    sys.exit(runner_main(list(args)))


# --------------------------------------------------------------------------- server
def server() -> None:
    """``optimlint server``: the language server, on stdin/stdout, until the editor closes it."""
    try:
        from optimlint.server import serve
    except ImportError as exc:
        missing = (getattr(exc, "name", None) or "").split(".")[0]
        if missing in ("pygls", "lsprotocol", "cattrs", "attrs"):
            raise UsageFailure("`optimlint server` needs pygls: pip install 'optimlint[server]'") from None
        raise
    serve()


# --------------------------------------------------------------------------- click
_CLI = None


def _build_cli():
    """The click group (``--help``, ``--version``, errors, every command), built on first use."""
    global _CLI
    if _CLI is not None:
        return _CLI
    import functools

    import click

    def shown(fn):
        """``fn`` with ``UsageFailure`` shown and exiting 2, as click does a ClickException."""
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except UsageFailure as exc:
                exc.show()
                sys.exit(exc.exit_code)
        return wrapper

    @click.group(context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(__version__, "-V", "--version", prog_name="optimlint")
    def cli() -> None:
        """optimlint: find the mistakes that make PyTorch training silently wrong."""

    def check_cmd(**params) -> None:
        """Lint PATHS (files or directories; default: the current directory)."""
        shown(check)(**params)

    for decls, attrs in reversed(CHECK_OPTIONS):
        attrs = dict(attrs)
        if callable(attrs.get("type")):
            attrs["type"] = attrs["type"](click)
        check_cmd = click.option(*decls, **attrs)(check_cmd)
    check_cmd = click.argument("paths", nargs=-1, type=click.Path())(check_cmd)
    cli.command(name="check")(check_cmd)

    @cli.command(name="rule")
    @click.argument("code")
    def rule_cmd(code: str) -> None:
        """Print the documentation page of rule CODE (a code such as OPT101, or its name)."""
        shown(rule)(code)

    @cli.command(name="rules")
    @click.option("--output-format", type=click.Choice(("text", "json", "markdown")), default="text")
    def rules_cmd(output_format: str) -> None:
        """List every rule: code, name, fix and runtime confirmation."""
        shown(rules)(output_format)

    @cli.command(name="run", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False,
                                               "help_option_names": []})
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def run_cmd(args) -> None:
        """Run a training script (or -m MODULE) with the runtime companion watching torch.optim.

        Usage: optimlint run [--output-format text|json] [--output-file PATH] [--strict]
        SCRIPT [ARGS...]
        """
        shown(run)(args)

    @cli.command(name="server")
    def server_cmd() -> None:
        """Run the language server over stdio (for editors; needs optimlint[server])."""
        shown(server)()

    _CLI = cli
    return cli


def __getattr__(name: str):
    """``optimlint.cli.cli``: the click group (built, and click imported, on first access)."""
    if name == "cli":
        return _build_cli()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --------------------------------------------------------------------------- entry
def main(argv: list[str] | None = None) -> None:
    """Console entry point: the fast path or click, internal errors as ``error:`` + exit 2."""
    params = _fast_check_params(sys.argv[1:] if argv is None else list(argv))
    try:
        if params is None:
            _build_cli().main(args=argv, prog_name="optimlint", standalone_mode=True)
        else:
            _standalone(check, params)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        _echo("error: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug: never a raw traceback unless asked
        if os.environ.get("OPTIMLINT_DEBUG") == "1":
            raise
        _echo(f"error: internal error: {type(exc).__name__}: {exc} "
              f"(set OPTIMLINT_DEBUG=1 for a traceback; please report it)", err=True)
        sys.exit(2)


def _standalone(command, params: dict) -> None:
    """``command(**params)`` handled as click's standalone mode handles a command: a usage
    failure shown and exit 2, an interrupt ``Aborted!`` and exit 1, a broken pipe exit 1."""
    try:
        command(**params)
    except UsageFailure as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (EOFError, KeyboardInterrupt):
        _echo(err=True)  # closes the terminal's ^C echo
        _echo("Aborted!", err=True)
        sys.exit(1)
    except OSError as exc:
        import errno

        if exc.errno != errno.EPIPE:
            raise
        sys.stdout = _PacifyFlush(sys.stdout)
        sys.stderr = _PacifyFlush(sys.stderr)
        sys.exit(1)
    sys.exit(0)


class _PacifyFlush:
    """A stream whose ``flush`` ignores a broken pipe (the interpreter flushes at exit)."""

    def __init__(self, wrapped) -> None:
        self.wrapped = wrapped

    def flush(self) -> None:
        try:
            self.wrapped.flush()
        except OSError as exc:
            import errno

            if exc.errno != errno.EPIPE:
                raise

    def __getattr__(self, attr: str):
        return getattr(self.wrapped, attr)
