"""Machine-readable outputs through the CLI: Ruff's JSON shape, SARIF, CI annotations, JUnit."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from conftest import invoke, write


@pytest.fixture
def project(tmp_path, monkeypatch, fake_rules):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CI_PROJECT_DIR", raising=False)
    write(tmp_path / "src" / "train.py", "def f():\n    flag_safe(1)\n    flag_plain()\n")
    write(tmp_path / "src" / "other.py", "flag_unsafe()\n")
    return tmp_path


def test_json_objects_have_ruffs_shape(project):
    result = invoke(["check", "--output-format", "json"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert [d["code"] for d in data] == ["OPT101", "OPT604", "OPT107"]
    assert data[1] == {
        "cell": None,
        "code": "OPT604",
        "end_location": {"column": 17, "row": 2},
        "filename": str(project / "src" / "train.py"),
        "fix": {
            "applicability": "safe",
            "edits": [{"content": "fixed_safe", "end_location": {"column": 14, "row": 2},
                       "location": {"column": 5, "row": 2}}],
            "message": "Call `fixed_safe` instead",
        },
        "location": {"column": 5, "row": 2},
        "message": "`flag_safe()` is flagged",
        "name": "forward-called-directly",
        "noqa_row": 2,
        "severity": "error",
        "url": "https://optimlint.dev/rules/OPT604",
    }
    assert data[0]["fix"]["applicability"] == "unsafe"
    assert data[2]["fix"] is None
    assert "runtime" not in data[0]
    assert list(data[1]) == sorted(data[1])  # Ruff's key order


def test_json_empty_is_empty_array(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "ok.py", "x = 1\n")
    result = invoke(["check", "--output-format", "json"])
    assert (result.exit_code, result.stdout) == (0, "[]\n")


def test_json_lines(project):
    result = invoke(["check", "--output-format", "json-lines"])
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    objects = [json.loads(line) for line in lines]
    assert [o["code"] for o in objects] == ["OPT101", "OPT604", "OPT107"]
    assert objects == json.loads(invoke(["check", "--output-format", "json"]).stdout)


def test_sarif(project):
    result = invoke(["check", "--output-format", "sarif"])
    doc = json.loads(result.stdout)
    assert doc["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert doc["version"] == "2.1.0"
    (run,) = doc["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "optimlint"
    assert [r["id"] for r in driver["rules"]] == ["OPT101", "OPT107", "OPT604"]
    assert driver["rules"][2]["name"] == "forward-called-directly"
    assert driver["rules"][2]["helpUri"] == "https://optimlint.dev/rules/OPT604"
    res = run["results"][1]
    assert res == {
        "level": "error",
        "message": {"text": "`flag_safe()` is flagged"},
        "locations": [{"physicalLocation": {
            "artifactLocation": {"uri": (project / "src" / "train.py").as_uri()},
            "region": {"startLine": 2, "startColumn": 5, "endLine": 2, "endColumn": 17},
        }}],
        "ruleId": "OPT604",
        "ruleIndex": 2,
        "fixes": [{
            "description": {"text": "Call `fixed_safe` instead"},
            "artifactChanges": [{
                "artifactLocation": {"uri": (project / "src" / "train.py").as_uri()},
                "replacements": [{"deletedRegion": {"startLine": 2, "startColumn": 5, "endLine": 2, "endColumn": 14},
                                  "insertedContent": {"text": "fixed_safe"}}],
            }],
            "properties": {"applicability": "safe"},
        }],
    }
    assert run["columnKind"] == "unicodeCodePoints"
    assert result.exit_code == 1


def test_github_annotations(project):
    result = invoke(["check", "--output-format", "github"])
    assert result.stdout.splitlines() == [
        "::error title=optimlint (OPT101),file=src/other.py,line=1,col=1,endLine=1,endColumn=14::"
        "src/other.py:1:1: OPT101 `flag_unsafe()` is flagged",
        "::error title=optimlint (OPT604),file=src/train.py,line=2,col=5,endLine=2,endColumn=17::"
        "src/train.py:2:5: OPT604 `flag_safe()` is flagged",
        "::error title=optimlint (OPT107),file=src/train.py,line=3,col=5,endLine=3,endColumn=17::"
        "src/train.py:3:5: OPT107 `flag_plain()` is flagged",
    ]


def test_gitlab_code_quality(project, monkeypatch):
    monkeypatch.setenv("CI_PROJECT_DIR", str(project / "src"))
    result = invoke(["check", "--output-format", "gitlab"])
    data = json.loads(result.stdout)
    assert [(d["check_name"], d["location"]["path"], d["location"]["lines"]["begin"]) for d in data] == [
        ("OPT101", "other.py", 1), ("OPT604", "train.py", 2), ("OPT107", "train.py", 3)]
    assert data[1]["description"] == "OPT604: `flag_safe()` is flagged"
    assert data[1]["severity"] == "major"
    fingerprints = [d["fingerprint"] for d in data]
    assert len(set(fingerprints)) == 3
    again = json.loads(invoke(["check", "--output-format", "gitlab"]).stdout)
    assert [d["fingerprint"] for d in again] == fingerprints  # stable across runs


def test_junit(project):
    result = invoke(["check", "--output-format", "junit"])
    root = ET.fromstring(result.stdout)
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures")) == ("3", "3")
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert set(suites) == {"src/other.py", "src/train.py"}
    cases = suites["src/train.py"].findall("testcase")
    assert [(c.get("name"), c.get("line"), c.get("column")) for c in cases] == [
        ("org.optimlint.OPT604", "2", "5"), ("org.optimlint.OPT107", "3", "5")]
    failure = cases[0].find("failure")
    assert failure.get("message") == "`flag_safe()` is flagged"
    assert failure.text == "line 2, col 5, `flag_safe()` is flagged"


def test_junit_clean(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "ok.py", "x = 1\n")
    root = ET.fromstring(invoke(["check", "--output-format", "junit"]).stdout)
    assert root.get("failures") == "0"
    assert root.find("testsuite/testcase").get("name") == "No errors found"


def test_notebook_cell_prefix():
    """Reporters print ``path:cell N:row:col`` for a diagnostic carrying a cell."""
    from optimlint.diagnostics import Diagnostic, Location
    from optimlint.report.paths import location_prefix
    from optimlint.report.json_report import diagnostic_to_json

    d = Diagnostic("OPT604", "forward-called-directly", "m", "nb.ipynb", Location(3, 5), Location(3, 9),
                   extra={"cell": 7})
    assert location_prefix(d) == "nb.ipynb:cell 7:3:5"
    assert diagnostic_to_json(d)["cell"] == 7
