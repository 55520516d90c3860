"""Many processes, one report: ``torch.multiprocessing.spawn`` children are instrumented, and
the ranks of a ``torchrun`` job merge their observations into the report of one process.

- ``mp.spawn`` / ``start_processes``: the function handed to the children is wrapped in
  ``_Watched`` (picklable), which installs a monitor in the child, runs the function and
  writes the child's observations into the parent's parts folder
  (``OPTIMLINT_PARTS`` in the environment, set by the parent); the parent merges them when
  its own program ends.
- ``torchrun``: every rank runs ``optimlint run`` itself. Each writes its part into a folder
  shared by the job (next to ``--output-file``, else in the temporary folder, named after
  the job's run id and rendezvous port); the last rank to finish merges all parts and writes
  the one report (to ``--output-file`` as given, or to its stderr). A finding seen on several
  ranks is one entry with its ranks listed.
"""

from __future__ import annotations

import json
import os
import tempfile

PARTS_ENV = "OPTIMLINT_PARTS"


def world_size() -> int:
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        return 1


def torchrun_parts_dir(output_file: str | None) -> str:
    """The folder the ranks of this torchrun job share for their parts."""
    run_id = os.environ.get("TORCHELASTIC_RUN_ID", "job")
    port = os.environ.get("MASTER_PORT", "0")
    name = f"optimlint-parts-{run_id}-{port}".replace(os.sep, "_")
    base = os.path.dirname(output_file) if output_file else tempfile.gettempdir()
    return os.path.join(base, "." + name if output_file else name)


def write_part(folder: str, name: str, report) -> str:
    """Write ``report`` (a RuntimeReport) as ``folder/name.json``, atomically."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{name}.json")
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(report.to_dict(), fh)
    os.replace(tmp, path)
    return path


def read_parts(folder: str, remove: bool = True) -> list:
    """Every part in ``folder`` as a RuntimeReport (removed after reading when ``remove``)."""
    from optimlint.runtime.observations import RuntimeReport

    out = []
    try:
        names = sorted(n for n in os.listdir(folder) if n.endswith(".json"))
    except OSError:
        return out
    for name in names:
        path = os.path.join(folder, name)
        try:
            with open(path, encoding="utf-8") as fh:
                out.append(RuntimeReport.from_dict(json.load(fh)))
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if remove:
            try:
                os.remove(path)
            except OSError:
                pass
    return out


def claim_merge(folder: str, expected: int) -> bool:
    """True for exactly one rank: the one that sees every part present and creates the lock."""
    try:
        parts = [n for n in os.listdir(folder) if n.endswith(".json")]
    except OSError:
        return False
    if len(parts) < expected:
        return False
    try:
        fd = os.open(os.path.join(folder, "merged.lock"), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def cleanup(folder: str) -> None:
    try:
        for name in os.listdir(folder):
            os.remove(os.path.join(folder, name))
        os.rmdir(folder)
    except OSError:
        pass


class _Watched:
    """The function a spawned child runs, with a monitor installed around it."""

    def __init__(self, fn, folder: str, monitor_class):
        self.fn = fn
        self.folder = folder
        # The monitor's class, given by the monitor that installs the patch (this module
        # is below monitor.py: importing it here would be an import cycle).
        self.monitor_class = monitor_class

    def __call__(self, *args, **kwargs):
        monitor = self.monitor_class(namespace=getattr(self.fn, "__globals__", None))
        if monitor.report.rank is None and args and isinstance(args[0], int):
            # spawn passes the process index first: the rank, until init_process_group says
            monitor.report.rank = monitor._rank = args[0]
        monitor.install()
        try:
            return self.fn(*args, **kwargs)
        finally:
            monitor.uninstall()
            report = monitor.finalize()
            try:
                write_part(self.folder, f"spawn-{os.getpid()}", report)
            except OSError:
                pass


def install_spawn(patches, monitor_class) -> None:
    """Wrap ``torch.multiprocessing``'s ``start_processes`` (what ``spawn`` calls) so that the
    children run under a monitor, when a parts folder is set for this run."""
    folder = os.environ.get(PARTS_ENV)
    if not folder:
        return
    import importlib

    spawn_mod = importlib.import_module("torch.multiprocessing.spawn")  # the module, not the function

    def make(orig):
        def start_processes(fn, *args, **kwargs):
            if not isinstance(fn, _Watched):
                fn = _Watched(fn, folder, monitor_class)
            return orig(fn, *args, **kwargs)
        start_processes.__wrapped__ = orig
        return start_processes

    patches.replace(spawn_mod, "start_processes", make)
