"""The command line: ``check``, ``rule``, ``rules`` and ``run`` (Ruff's conventions).

Exit codes: 0 no findings; 1 findings remain (after fixes); 2 bad usage, bad config
or an internal error. Errors go to stderr as ``error: ...``; a traceback only with
``OPTIMLINT_DEBUG=1``.
"""

from __future__ import annotations

import os
import sys

import click

from optimlint import __version__

OUTPUT_FORMATS = ("full", "concise", "json", "json-lines", "sarif", "github", "gitlab", "junit")


class UsageFailure(click.ClickException):
    """Printed as ``error: ...``, exit code 2."""

    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="optimlint")
def cli() -> None:
    """optimlint: find the mistakes that make PyTorch training silently wrong."""


# --------------------------------------------------------------------------- check
def _selectors(values: tuple[str, ...], option: str) -> list[str]:
    from optimlint.config import ConfigError, validate_selectors

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


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--select", multiple=True, metavar="CODES",
              help="Rule codes or prefixes to enable (replaces the config's select), e.g. OPT1,OPT301.")
@click.option("--ignore", multiple=True, metavar="CODES", help="Rule codes or prefixes to disable.")
@click.option("--extend-select", multiple=True, metavar="CODES", help="Codes to enable on top of select.")
@click.option("--fix", is_flag=True, help="Apply safe fixes.")
@click.option("--unsafe-fixes/--no-unsafe-fixes", "unsafe_fixes", default=None,
              help="Also offer and apply unsafe fixes (config: unsafe-fixes).")
@click.option("--diff", is_flag=True, help="Print the fixes as a unified diff; change no file.")
@click.option("--show-fixes", is_flag=True, help="With --fix, list the fixes applied.")
@click.option("--statistics", is_flag=True, help="Count findings per rule instead of listing them.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when findings remain.")
@click.option("--no-cache", is_flag=True, help="Do not read or write the results cache.")
@click.option("--output-format", type=click.Choice(OUTPUT_FORMATS), default=None,
              envvar="OPTIMLINT_OUTPUT_FORMAT", show_envvar=True, help="Output format (default: full).")
@click.option("-o", "--output-file", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write the report to this file instead of stdout.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
              help="Config file (pyproject.toml with [tool.optimlint], or optimlint.toml).")
@click.option("-q", "--quiet", is_flag=True, help="Print findings only: no summary, no progress.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None, help="Worker processes.")
@click.option("--force-exclude", is_flag=True,
              help="Apply excludes and .gitignore to paths given explicitly too (pre-commit).")
def check(paths, select, ignore, extend_select, fix, unsafe_fixes, diff, show_fixes, statistics,
          exit_zero, no_cache, output_format, output_file, config_file, quiet, jobs, force_exclude) -> None:
    """Lint PATHS (files or directories; default: the current directory)."""
    from optimlint.config import ConfigError, load_settings
    from optimlint.engine import RunOptions, run
    from optimlint.report import ReportOptions, render
    from optimlint.report.paths import display_path, location_prefix

    try:
        start = paths[0] if paths and os.path.exists(paths[0]) else None
        settings = load_settings(config_file, start)
    except ConfigError as exc:
        raise UsageFailure(str(exc)) from None
    if select:
        settings.select = _selectors(select, "--select")
    if extend_select:
        settings.extend_select = [*settings.extend_select, *_selectors(extend_select, "--extend-select")]
    if ignore:
        settings.ignore = [*settings.ignore, *_selectors(ignore, "--ignore")]

    options = RunOptions(fix=fix and not diff, unsafe_fixes=unsafe_fixes, diff=diff, jobs=jobs,
                         cache=not no_cache, force_exclude=force_exclude)
    fmt = output_format or "full"
    options.excerpts = fmt == "full" and not statistics
    progress = _Progress() if (not quiet and sys.stderr.isatty()) else None
    try:
        result = run(list(paths), settings, options, progress=progress)
    finally:
        if progress is not None:
            progress.close()

    unsafe = options.allow_unsafe(settings)
    if not result.files and not result.errors and not quiet:
        click.echo("warning: No Python files found under the given path(s)", err=True)
    for f in result.files:
        for d, reason in f.dropped:
            click.echo(f"warning: {location_prefix(d)}: fix for {d.code} "
                       f"was not applied: {reason}", err=True)

    if diff:
        exit_code = _report_diff(result, unsafe, quiet)
    else:
        stream = open(output_file, "w", encoding="utf-8") if output_file else sys.stdout
        try:
            report_options = ReportOptions(show_fixes=show_fixes, statistics=statistics, quiet=quiet,
                                           color=_use_color(stream) and not output_file, fix=fix,
                                           unsafe_fixes=unsafe)
            render(result, fmt, settings, stream, options=report_options)
            stream.flush()
        finally:
            if output_file:
                stream.close()
        exit_code = 1 if result.diagnostics else 0

    internal = result.internal_errors
    for path, message in internal:
        click.echo(f"error: {display_path(path)}: {message}", err=True)
    if internal:
        sys.exit(2)
    sys.exit(0 if exit_zero else exit_code)


def _report_diff(result, unsafe: bool, quiet: bool) -> int:
    """``--diff``: the diffs on stdout, a count on stderr; exit 1 when something would change."""
    changed = 0
    would_fix = 0
    for f in result.files:
        if f.diff:
            sys.stdout.write(f.diff)
            if not f.diff.endswith("\n"):
                sys.stdout.write("\n")
            sys.stdout.write("\n")
            changed += 1
            would_fix += len(f.fixed)
    if not quiet:
        if would_fix:
            click.echo(f"Would fix {would_fix} error{'s' if would_fix != 1 else ''}.", err=True)
        else:
            click.echo("No errors would be fixed.", err=True)
    return 1 if changed else 0


# --------------------------------------------------------------------------- rules
@cli.command()
@click.argument("code")
def rule(code: str) -> None:
    """Print the documentation page of rule CODE (a code such as OPT101, or its name)."""
    from optimlint.catalogue import page_text
    from optimlint.registry import NAMES, RULES

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
    click.echo(text.rstrip("\n"))


def rules_markdown() -> str:
    """The rule table of the README (``optimlint rules --output-format markdown``)."""
    from optimlint.registry import RULES

    lines = ["| Code | Name | Fix | Runtime confirmation |", "|---|---|---|---|"]
    for info in RULES.values():
        lines.append(f"| {info.code} | {info.name} | {info.fix} | {info.runtime or '-'} |")
    return "\n".join(lines) + "\n"


@cli.command(name="rules")
@click.option("--output-format", type=click.Choice(("text", "json", "markdown")), default="text")
def rules_cmd(output_format: str) -> None:
    """List every rule: code, name, fix and runtime confirmation."""
    from optimlint.registry import RULES

    rows = [(i.code, i.name, i.fix, i.runtime or "-") for i in RULES.values()]
    if output_format == "markdown":
        click.echo(rules_markdown(), nl=False)
        return
    if output_format == "json":
        import json

        click.echo(json.dumps([{"code": c, "name": n, "fix": f, "runtime": r if r != "-" else None}
                               for c, n, f, r in rows], indent=2))
        return
    heads = ("CODE", "NAME", "FIX", "RUNTIME")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(heads[:3])]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths) + "  {}"
    click.echo(fmt.format(*heads).rstrip())
    for row in rows:
        click.echo(fmt.format(*row).rstrip())


# --------------------------------------------------------------------------- run
@cli.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False,
                               "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def run(args) -> None:
    """Run a training script (or -m MODULE) with the runtime companion watching torch.optim.

    Usage: optimlint run [--output-format text|json] [--output-file PATH] [--strict]
    SCRIPT [ARGS...]
    """
    try:
        from optimlint.runtime.runner import main as runner_main
    except ImportError as exc:
        missing = getattr(exc, "name", None) or ""
        if missing.split(".")[0] == "torch":
            raise UsageFailure("`optimlint run` needs PyTorch: pip install 'optimlint[runtime]' "
                               "(or install torch)") from None
        raise UsageFailure(f"the runtime companion is not available: {exc}") from None
    sys.exit(runner_main(list(args)))


# --------------------------------------------------------------------------- entry
def main(argv: list[str] | None = None) -> None:
    """Console entry point: click, with internal errors turned into ``error:`` + exit 2."""
    try:
        cli.main(args=argv, prog_name="optimlint", standalone_mode=True)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug: never a raw traceback unless asked
        if os.environ.get("OPTIMLINT_DEBUG") == "1":
            raise
        click.echo(f"error: internal error: {type(exc).__name__}: {exc} "
                   f"(set OPTIMLINT_DEBUG=1 for a traceback; please report it)", err=True)
        sys.exit(2)
