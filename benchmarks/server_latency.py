"""How long ``optimlint server`` takes to publish diagnostics after an edit, and whether its
memory stays bounded over many edits.

    python benchmarks/server_latency.py                 # 1,000- and 200-line scripts, 1,000 edits each
    python benchmarks/server_latency.py --edits 200

A minimal LSP client (JSON-RPC over the server's stdin/stdout, no client library, so the
client costs next to nothing) starts ``python -m optimlint server``, opens a training script
with findings (the fixtures' training code repeated, as ``bench.py``'s 1,000-line script),
waits for its diagnostics (the server is then warm: LibCST imported, checks loaded), then
makes ``--edits`` edits one after another, as a user typing: each changes one digit of an
assignment in the middle of the file, so every edit changes the code (one ``didChange``
with an incremental change; a comment-only edit would be no cheaper to lint), and the
time from sending it to receiving ``publishDiagnostics`` for that version is recorded (an
edit after the previous one's diagnostics is linted at once: ``server.DEBOUNCE_S`` only
spaces the starts of a document's lints). The server's CPU time per edit
(``/proc/PID/stat``) is recorded too: on a machine shared with other work it says what an
edit costs apart from the wait for a free core. The server's resident memory
(``/proc/PID/status``) is read every 100 edits. Prints a markdown table and writes
``benchmarks/results/server-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench import training_script  # noqa: E402


class Client:
    """Just enough of an LSP client: requests, notifications, reading messages."""

    def __init__(self, argv: list[str], cwd: str) -> None:
        self.proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)
        self.next_id = 0

    def send(self, message: dict) -> None:
        body = json.dumps(message).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def request(self, method: str, params) -> dict:
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        while True:
            message = self.read()
            if message.get("id") == self.next_id and "method" not in message:
                return message

    def notify(self, method: str, params) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def read(self) -> dict:
        length = None
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("the server closed its output")
            if line in (b"\r\n", b"\n"):
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return json.loads(self.proc.stdout.read(length))

    def diagnostics(self, uri: str, version: int) -> list:
        while True:
            message = self.read()
            if message.get("method") == "window/showMessage":
                raise RuntimeError(message["params"]["message"])
            if message.get("method") == "textDocument/publishDiagnostics":
                params = message["params"]
                if params["uri"] == uri and params.get("version") == version:
                    return params["diagnostics"]

    def cpu_s(self) -> float:
        """User + system CPU seconds the server has used (``/proc/PID/stat``): on a loaded
        machine, what an edit costs the server, apart from waiting for a core."""
        with open(f"/proc/{self.proc.pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mib(self) -> float:
        with open(f"/proc/{self.proc.pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def close(self) -> None:
        self.request("shutdown", None)
        self.notify("exit", None)
        self.proc.wait(timeout=30)


def script_of(lines: int) -> str:
    """A training script of at least ``lines`` lines (``bench.training_script`` ends at a
    whole function, so ask for a little more until it is long enough)."""
    ask = lines
    while (text := training_script(ask)).count("\n") < lines:
        ask += 25
    return text


def measure(python: str, lines: int, edits: int, workdir: Path) -> dict:
    text = script_of(lines)
    path = workdir / f"train_{lines}.py"
    path.write_text(text)
    uri = path.as_uri()
    rows = text.splitlines()
    # the edit site: an assignment at module level in the middle, whose digit is retyped
    # just before the module-level function nearest the middle
    middle = min((i for i, row in enumerate(rows) if row.startswith("def ")), key=lambda i: abs(i - len(rows) // 2))
    rows.insert(middle, "tuning = 1")
    text = "\n".join(rows) + "\n"
    client = Client([python, "-m", "optimlint", "server"], str(workdir))
    client.request("initialize", {"processId": os.getpid(), "rootUri": workdir.as_uri(), "capabilities": {}})
    client.notify("initialized", {})
    start = time.perf_counter()
    client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                            "text": text}})
    first = client.diagnostics(uri, 1)
    open_s = time.perf_counter() - start
    if any(d["code"] == "OPT000" for d in first):
        raise RuntimeError(f"the script does not parse: {first}")
    column = len("tuning = ")
    latencies, cpu, rss = [], [], [(0, client.rss_mib())]
    for k in range(edits):
        version = k + 2
        char = "21"[k % 2]
        change = {"range": {"start": {"line": middle, "character": column},
                            "end": {"line": middle, "character": column + 1}}, "text": char}
        c = client.cpu_s()
        t = time.perf_counter()
        client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version},
                                                 "contentChanges": [change]})
        found = client.diagnostics(uri, version)
        latencies.append(time.perf_counter() - t)
        cpu.append(client.cpu_s() - c)
        if len(found) != len(first):
            raise RuntimeError(f"edit {version}: {len(found)} diagnostics, expected {len(first)}")
        if (k + 1) % 100 == 0:
            rss.append((k + 1, client.rss_mib()))
    client.close()
    ordered = sorted(latencies)
    return {"lines": text.count("\n"), "findings": len(first), "open_s": open_s, "edits": edits,
            "median_ms": statistics.median(latencies) * 1000,
            "p95_ms": ordered[max(0, int(len(ordered) * 0.95) - 1)] * 1000,
            "max_ms": ordered[-1] * 1000, "cpu_median_ms": statistics.median(cpu) * 1000,
            "cpu_mean_ms": statistics.mean(cpu) * 1000, "rss_mib": rss}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--edits", type=int, default=1000)
    parser.add_argument("--lines", type=int, nargs="*", default=[1000, 200])
    args = parser.parse_args()
    import tempfile

    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load = os.getloadavg()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for lines in args.lines:
            results.append(measure(args.python, lines, args.edits, Path(tmp)))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True,
                            text=True).stdout.strip()
    print(f"Machine: {os.cpu_count()} CPUs ({platform.machine()}), Python {platform.python_version()}, "
          f"{platform.platform()}; load average at start {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; {stamp}; "
          f"optimlint at {commit}.\n")
    print("| script | findings | first diagnostics after open (cold server) | edits | after an edit: median | p95 | max | "
          "server CPU per edit (mean) | server RSS (MiB) after 0 / 100 / ... edits |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        rss = " / ".join(f"{v:.0f}" for _, v in r["rss_mib"])
        print(f"| {r['lines']} lines | {r['findings']} | {r['open_s'] * 1000:.0f} ms | {r['edits']} | "
              f"{r['median_ms']:.0f} ms | {r['p95_ms']:.0f} ms | {r['max_ms']:.0f} ms | {r['cpu_mean_ms']:.0f} ms | {rss} |")
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / f"server-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(
        {"when": stamp, "load": load, "commit": commit, "results": results}, indent=2))


if __name__ == "__main__":
    main()
