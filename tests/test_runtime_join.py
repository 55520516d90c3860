"""The join of static findings with runtime observations (torch-free)."""

from __future__ import annotations

import textwrap

from optimlint.diagnostics import Diagnostic, Location
from optimlint.runtime.join import join
from optimlint.runtime.observations import Observation, RuntimeReport
from optimlint.runtime.report import text_lines, to_json, to_json_report

SOURCE = textwrap.dedent("""\
    import torch

    opt = torch.optim.Adam(params, weight_decay=0.1)

    for epoch in range(3):
        for x in data:
            loss = model(x)
            loss.backward()
            opt.step()
        sched.step()


    def evaluate():
        model.eval()
""")


def diag(code, row, path):
    return Diagnostic(code, "", "static message", path, Location(row, 5), Location(row, 9))


def test_statuses_by_span(tmp_path):
    path = str(tmp_path / "train.py")
    static = [diag("OPT302", 3, path), diag("OPT101", 8, path), diag("OPT201", 10, path), diag("OPT603", 14, path)]
    observations = [
        Observation("OPT101", "runtime message", path, 9, rank=1),   # the step row: same loop span
        Observation("OPT302", "runtime message", path, 5),           # another statement: the one
    ]                                                                # OPT302 of the file, seen elsewhere
    sites = {(path, 3): {"construct"}, (path, 8): {"backward"}, (path, 10): {"sched_step"}}
    out = join(static, observations, sites, {path: SOURCE})
    got = [(d.code, d.location.row, d.runtime, bool(d.extra.get("runtime_only"))) for d in out]
    assert got == [
        ("OPT302", 3, "confirmed", False),
        ("OPT101", 8, "confirmed", False),
        ("OPT201", 10, "not-observed", False),
        ("OPT603", 14, "not-reached", False),
    ]
    assert out[1].message == "static message" and out[1].extra["rank"] == 1
    assert out[0].extra["seen"] == "runtime message"


def test_other_file_or_other_code_does_not_confirm(tmp_path):
    path, other = str(tmp_path / "train.py"), str(tmp_path / "other.py")
    out = join([diag("OPT101", 8, path)], [Observation("OPT101", "m", other, 8), Observation("OPT103", "m", path, 8)],
               {}, {path: SOURCE})
    assert [(d.code, d.filename, d.runtime) for d in out] == [
        ("OPT101", path, "not-reached"), ("OPT101", other, "confirmed"), ("OPT103", path, "confirmed")]


def test_text_and_json_shapes(tmp_path):
    path = str(tmp_path / "train.py")
    obs = Observation("OPT101", "runtime message", path, 9, rank=0, nodeid="tests/test_a.py::test_b")
    out = join([], [obs], {}, {})
    lines = text_lines(out, errors=["step hook: RuntimeError: x"], rank=0)
    assert lines[0] == "optimlint runtime report (rank 0)"
    assert lines[1].endswith(": OPT101 runtime message [confirmed] (runtime only, rank 0, test tests/test_a.py::test_b)")
    assert lines[2] == "optimlint: internal error in a runtime hook (ignored): step hook: RuntimeError: x"
    (obj,) = to_json(out)
    assert obj["runtime"] == "confirmed" and obj["rank"] == 0 and obj["test"] == "tests/test_a.py::test_b"
    assert obj["location"] == {"column": 1, "row": 9} and obj["fix"] is None
    assert list(obj) == sorted(obj)


def test_report_deduplicates_and_counts():
    report = RuntimeReport()
    for _ in range(3):
        report.add(Observation("OPT101", "m", "/x.py", 3))
    assert len(report.findings) == 1 and report.findings[0].count == 3


def test_not_observed_needs_the_rules_own_event_kinds_in_the_span(tmp_path):
    """A finding is "not-observed" only when its rule's check could have run there: in the
    loop span, a scheduler step says nothing about OPT101 (backward/step) or OPT302 (a
    construction); a rule with no runtime check (OPT107) counts any event."""
    path = str(tmp_path / "train.py")
    static = [diag("OPT101", 8, path), diag("OPT202", 10, path), diag("OPT107", 8, path), diag("OPT302", 3, path)]
    only_sched = {(path, 10): {"sched_step"}, (path, 3): {"backward"}}
    got = [(d.code, d.runtime) for d in join(static, [], only_sched, {path: SOURCE})]
    assert got == [("OPT101", "not-reached"), ("OPT202", "not-observed"), ("OPT107", "not-observed"),
                   ("OPT302", "not-reached")]
    with_step = {(path, 9): {"step"}, (path, 3): {"construct"}}
    got = [(d.code, d.runtime) for d in join(static, [], with_step, {path: SOURCE})]
    assert got == [("OPT101", "not-observed"), ("OPT202", "not-reached"), ("OPT107", "not-observed"),
                   ("OPT302", "not-observed")]


def test_every_runtime_check_names_the_event_kinds_it_watches():
    """The join's "not-observed" reads ``RuleInfo.observes``: a rule with a runtime check and
    no kinds would be "not-observed" wherever any event ran; a kind the monitor never records
    would make it "not-reached" for ever."""
    from optimlint.analysis.events import EventKind
    from optimlint.registry import RULES

    recorded = {kind.value for kind in EventKind} | {"construct"}
    for code, info in RULES.items():
        if info.runtime:
            assert info.observes and set(info.observes) <= recorded, code
        else:
            assert info.observes == (), code


def summary_counts(line: str) -> dict:
    """The numbers of the text report's summary line, by the JSON ``runtime`` they count."""
    import re

    m = re.fullmatch(r"optimlint runtime: (\d+) confirmed \((\d+) seen only at runtime\), (\d+) not observed, "
                     r"(\d+) not reached(?:, (\d+) internal errors?)?", line)
    assert m, line
    confirmed, runtime_only, not_observed, not_reached, errors = (int(g or 0) for g in m.groups())
    return {"confirmed": confirmed, "runtime_only": runtime_only, "not-observed": not_observed,
            "not-reached": not_reached, "error": errors}


def json_counts(entries: list) -> dict:
    out = {k: sum(e["runtime"] == k for e in entries) for k in ("confirmed", "not-observed", "not-reached", "error")}
    out["runtime_only"] = sum(bool(e.get("runtime_only")) for e in entries)
    return out


def test_json_report_is_checks_array_with_the_text_summary_counts_and_internal_errors(tmp_path):
    path = str(tmp_path / "train.py")
    static = [diag("OPT302", 3, path), diag("OPT603", 14, path), diag("OPT101", 8, path)]
    out = join(static, [Observation("OPT302", "seen", path, 3), Observation("OPT202", "m", path, 9)],
               {(path, 3): {"construct"}, (path, 9): {"step"}}, {path: SOURCE})
    errors = ["optimizer step pre-hook: RuntimeError: x", "scheduler step: TypeError: y"]
    report = to_json_report(out, errors)
    assert isinstance(report, list)
    assert [(d["code"], d["name"], d["runtime"], d.get("seen")) for d in report] == [
        ("OPT302", "", "confirmed", "seen"), ("OPT603", "", "not-reached", None), ("OPT101", "", "not-observed", None),
        ("OPT202", "epoch-scheduler-per-batch", "confirmed", None),
        ("OPT000", "internal-error", "error", None), ("OPT000", "internal-error", "error", None)]
    assert [d["message"] for d in report if d["runtime"] == "error"] == [
        "internal error in a runtime hook (ignored): optimizer step pre-hook: RuntimeError: x",
        "internal error in a runtime hook (ignored): scheduler step: TypeError: y"]
    lines = text_lines(out, errors)
    assert lines[-1] == ("optimlint runtime: 2 confirmed (1 seen only at runtime), 1 not observed, 1 not reached, "
                         "2 internal errors")
    # counting the JSON entries by `runtime` gives the text summary, internal errors included
    assert json_counts(report) == summary_counts(lines[-1]) == {
        "confirmed": 2, "runtime_only": 1, "not-observed": 1, "not-reached": 1, "error": 2}
    # every entry has every key of `optimlint check --output-format json`'s objects
    from optimlint.report.json_report import diagnostic_to_json

    check_keys = set(diagnostic_to_json(diag("OPT101", 8, path)))
    for entry in report:
        assert check_keys <= set(entry), entry
    # one error: singular; none: the summary line as before
    assert text_lines(out, errors[:1])[-1].endswith(", 1 not reached, 1 internal error")
    assert text_lines(out)[-1].endswith("1 not observed, 1 not reached")
    assert json_counts(to_json_report(out)) == summary_counts(text_lines(out)[-1])


def test_one_entry_per_mistake_when_the_locations_differ(tmp_path):
    """OPT104 reported at the unused optimizer's construction, seen at the backward; OPT403
    reported at the dict's key, seen at the construction: one entry each, confirmed."""
    source = textwrap.dedent("""\
        import torch
        groups = [{"params": params, "weight_decays": 0.1}]
        opt = torch.optim.AdamW(groups)
        probe = torch.optim.SGD(other, lr=0.1)
        for x in data:
            loss = model(x)
            loss.backward()
    """)
    path = str(tmp_path / "train.py")
    static = [diag("OPT403", 2, path), diag("OPT104", 4, path)]
    static[0] = static[0].replace(message="unknown group key `weight_decays`")
    observations = [Observation("OPT403", "group 0 has the unknown key `weight_decays`", path, 3),
                    Observation("OPT104", "3 backward passes reached `probe`", path, 7, related=((path, 4),))]
    sites = {(path, 2): {"construct"}, (path, 3): {"construct"}, (path, 4): {"construct"}, (path, 7): {"backward"}}
    out = join(static, observations, sites, {path: source})
    assert [(d.code, d.location.row, d.runtime, bool(d.extra.get("runtime_only"))) for d in out] == [
        ("OPT403", 2, "confirmed", False), ("OPT104", 4, "confirmed", False)]
