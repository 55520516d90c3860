"""Notebooks: code cells linted as one program, findings located in cells, fixes written
back into the changed cells only as valid nbformat (outputs and metadata untouched)."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output, new_raw_cell

from conftest import invoke

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

IMPORTS = "import torch\nfrom torch import nn"
MODEL = ("model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 1))\n"
         "loader = torch.utils.data.DataLoader(\n"
         "    torch.utils.data.TensorDataset(torch.randn(256, 20), torch.randn(256, 1)), batch_size=32\n"
         ")")
OPTIMIZER = "optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)"
LOOP = ("for epoch in range(10):\n"
        "    for x, y in loader:\n"
        "        loss = nn.functional.mse_loss(model(x), y)\n"
        "        loss.backward()\n"
        "        optimizer.step()\n"
        "    print(epoch, loss.item())")
FIXED_LOOP = ("for epoch in range(10):\n"
              "    for x, y in loader:\n"
              "        optimizer.zero_grad()\n"
              "        loss = nn.functional.mse_loss(model(x), y)\n"
              "        loss.backward()\n"
              "        optimizer.step()\n"
              "    print(epoch, loss.item())")
OPT101_MESSAGE = ("`optimizer`'s gradients are never cleared in this loop: each `optimizer.step()` "
                  "applies the sum of every backward so far; call `optimizer.zero_grad()` once per iteration")


def notebook(*cells, language: str = "python"):
    nb = new_notebook(metadata={
        "kernelspec": {"name": "python3" if language == "python" else "ir",
                       "display_name": "Python 3" if language == "python" else "R",
                       "language": language},
        "language_info": {"name": language},
    })
    nb.cells = list(cells)
    return nb


def split_training_notebook():
    """Imports, model, optimizer and loop in separate cells between markdown cells; the
    loop cell has run (outputs, execution count) and carries metadata."""
    return notebook(
        new_markdown_cell("# Regression baseline"),                                    # 1
        new_code_cell(IMPORTS, execution_count=1),                                     # 2
        new_markdown_cell("## Model and data"),                                        # 3
        new_code_cell(MODEL, execution_count=2),                                       # 4
        new_code_cell(OPTIMIZER, execution_count=3),                                   # 5
        new_markdown_cell("## Training\nOne pass over the loader per epoch."),         # 6
        new_code_cell(LOOP, execution_count=4, metadata={"tags": ["train"], "collapsed": False},
                      outputs=[new_output("stream", name="stdout", text="0 1.02\n1 0.97\n")]),  # 7
        new_code_cell("print(model)", execution_count=5,
                      outputs=[new_output("execute_result", data={"text/plain": "Sequential(...)"},
                                          execution_count=5)]),                        # 8
    )


def save(nb, path: Path) -> Path:
    nbformat.write(nb, str(path))
    return path


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def check(*args):
    return invoke(["check", "--no-cache", *args])


def cells_of(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def source_of(cell: dict) -> str:
    return cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])


# --------------------------------------------------------------------------- one program
def test_loop_split_across_cells_is_reported_in_its_cell(in_tmp):
    save(split_training_notebook(), in_tmp / "train.ipynb")
    result = check("--output-format", "concise", "train.ipynb")
    assert result.stdout.splitlines()[0] == f"train.ipynb:cell 7:4:9: OPT101 {OPT101_MESSAGE}"
    assert result.stdout.count("OPT101") == 1
    assert result.exit_code == 1


def test_full_output_shows_the_cells_line(in_tmp):
    save(split_training_notebook(), in_tmp / "train.ipynb")
    out = check("train.ipynb").stdout
    assert out.startswith(f"train.ipynb:cell 7:4:9: OPT101 {OPT101_MESSAGE}\n")
    assert "4 |         loss.backward()\n" in out


def test_json_carries_the_cell_and_rows_in_the_cell(in_tmp):
    save(split_training_notebook(), in_tmp / "train.ipynb")
    [finding] = json.loads(check("--output-format", "json", "train.ipynb").stdout)
    assert finding["cell"] == 7
    assert finding["location"] == {"column": 9, "row": 4}
    assert finding["end_location"] == {"column": 24, "row": 4}
    assert finding["noqa_row"] == 4
    # The fix's insertion point is in the cell's rows too: before the loop body's first row.
    assert finding["fix"]["edits"] == [{"content": "        optimizer.zero_grad()\n",
                                        "end_location": {"column": 1, "row": 3},
                                        "location": {"column": 1, "row": 3}}]


def test_json_lines_carries_the_cell(in_tmp):
    save(split_training_notebook(), in_tmp / "train.ipynb")
    [line] = check("--output-format", "json-lines", "train.ipynb").stdout.splitlines()
    assert json.loads(line)["cell"] == 7


def test_a_clean_notebook_passes(in_tmp):
    nb = split_training_notebook()
    nb.cells[6].source = FIXED_LOOP
    save(nb, in_tmp / "train.ipynb")
    result = check("train.ipynb")
    assert result.exit_code == 0, result.stdout


def test_a_cell_that_only_parses_joined(in_tmp):
    """The epoch loop's header in one cell, its body in the next: one program when run."""
    head, body = LOOP.split("\n", 1)
    save(notebook(new_code_cell(IMPORTS), new_code_cell(MODEL + "\n" + OPTIMIZER),
                  new_code_cell(head), new_code_cell(body)), in_tmp / "nb.ipynb")
    result = check("--output-format", "concise", "nb.ipynb")
    assert result.stdout.splitlines()[0] == f"nb.ipynb:cell 4:3:9: OPT101 {OPT101_MESSAGE}"


def test_a_syntax_error_is_located_in_its_cell(in_tmp):
    save(notebook(new_code_cell(IMPORTS), new_markdown_cell("text"),
                  new_code_cell("x = 1\nmodel = nn.Linear(2, 2\nprint(x)")), in_tmp / "nb.ipynb")
    result = check("--output-format", "concise", "nb.ipynb")
    [line, *_] = result.stdout.splitlines()
    assert line.startswith("nb.ipynb:cell 3:2:")
    assert " OPT000 SyntaxError: " in line
    assert result.exit_code == 1


def test_empty_and_markdown_only_notebooks_are_clean(in_tmp):
    save(notebook(), in_tmp / "empty.ipynb")
    save(notebook(new_markdown_cell("# notes\n```python\nfor x in y:\n    loss.backward()\n```")),
         in_tmp / "notes.ipynb")
    save(notebook(new_code_cell(""), new_code_cell("\n")), in_tmp / "blank.ipynb")
    result = check("empty.ipynb", "notes.ipynb", "blank.ipynb")
    assert result.exit_code == 0, result.stdout


# --------------------------------------------------------------------------- what is not Python
MAGIC_CELLS = (
    new_code_cell("!pip install -q timm \\\n    torchmetrics\n%matplotlib inline\n" + IMPORTS),  # 1
    new_code_cell("try:\n    import google.colab\n    IN_COLAB = True\n"
                  "except ImportError:\n    IN_COLAB = False\n"
                  "if IN_COLAB:\n    !nvidia-smi\n    %cd /content/drive/MyDrive"),         # 2
    new_code_cell(MODEL + "\n" + OPTIMIZER),                                              # 3
    new_code_cell("torch.optim.Adam?"),                                                   # 4
    new_code_cell("?torch.optim.Adam\nfiles = !ls data\nn_files = len(files)"),           # 5
    new_code_cell("%%time\n" + LOOP),                                                     # 6: timed Python
    new_code_cell("%env CUDA_LAUNCH_BLOCKING=1\n" + LOOP.replace("    print(", "    %time print(")),  # 7
)


def test_magics_are_skipped_and_rows_stay_exact(in_tmp):
    save(notebook(*copy.deepcopy(MAGIC_CELLS)), in_tmp / "colab.ipynb")
    result = check("--output-format", "concise", "colab.ipynb")
    # The loops of cells 6 (%%time runs its body as the cell's Python) and 7; no magic is a
    # syntax error.
    assert [line for line in result.stdout.splitlines() if "OPT101" in line] == [
        f"colab.ipynb:cell 6:5:9: OPT101 {OPT101_MESSAGE}",
        f"colab.ipynb:cell 7:5:9: OPT101 {OPT101_MESSAGE}",
    ]
    assert "OPT000" not in result.stdout


def test_fix_keeps_the_magics_of_the_fixed_cell(in_tmp):
    path = save(notebook(*copy.deepcopy(MAGIC_CELLS)), in_tmp / "colab.ipynb")
    before = cells_of(path)
    result = check("--fix", "--unsafe-fixes", "colab.ipynb")
    assert result.exit_code == 0, result.stdout
    after = cells_of(path)
    assert source_of(after[6]) == ("%env CUDA_LAUNCH_BLOCKING=1\n"
                                   + FIXED_LOOP.replace("    print(", "    %time print("))
    assert source_of(after[5]) == "%%time\n" + FIXED_LOOP
    assert after[:5] == before[:5]
    nbformat.validate(nbformat.read(str(path), as_version=4))


def test_add_noqa_writes_into_the_cells_and_keeps_the_rest(in_tmp):
    """--add-noqa in a notebook: the comment lands on the finding's row of its cell (cells
    with magics above it), only those cells change, and a second run adds nothing. Before,
    notebooks were skipped with a warning (Ruff 0.17 skips them silently)."""
    nb = notebook(*copy.deepcopy(MAGIC_CELLS))
    nb.cells[6].outputs = [new_output("stream", name="stdout", text="0 1.02\n")]
    nb.cells[6].execution_count = 7
    path = save(nb, in_tmp / "colab.ipynb")
    before = cells_of(path)
    result = check("--add-noqa", "colab.ipynb")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "Added 2 noqa directives.\n")
    after = cells_of(path)
    noqa_loop = LOOP.replace("loss.backward()", "loss.backward()  # noqa: OPT101")
    assert source_of(after[5]) == "%%time\n" + noqa_loop
    assert source_of(after[6]) == "%env CUDA_LAUNCH_BLOCKING=1\n" + noqa_loop.replace("    print(", "    %time print(")
    assert after[:5] == before[:5]
    assert {k: v for k, v in after[6].items() if k != "source"} == {k: v for k, v in before[6].items() if k != "source"}
    nbformat.validate(nbformat.read(str(path), as_version=4))
    again = check("--add-noqa", "colab.ipynb")
    assert (again.exit_code, again.stderr) == (0, "Added 0 noqa directives.\n")
    assert check("colab.ipynb").exit_code == 0


def test_add_noqa_in_string_sources_with_crlf_and_an_indented_cell(in_tmp):
    """A cell pasted indented (IPython dedents it) and CRLF string sources keep their shape."""
    setup = crlf(IMPORTS + "\n" + MODEL + "\n")
    optimizer = "  optimizer = torch.optim.Adam(model.parameters(), learning_rate=1e-3)\n"
    loop = crlf(LOOP)
    path = in_tmp / "nb.ipynb"
    path.write_text(_raw_notebook([setup, optimizer, loop]), encoding="utf-8", newline="")
    result = check("--add-noqa", "nb.ipynb")
    assert (result.exit_code, result.stderr) == (0, "Added 2 noqa directives.\n")
    assert path.read_text(encoding="utf-8") == _raw_notebook([
        setup, optimizer.replace(")\n", ")  # noqa: OPT301\n"),
        crlf(LOOP.replace("loss.backward()", "loss.backward()  # noqa: OPT101"))])
    assert check("nb.ipynb").exit_code == 0


def test_non_python_cells_are_not_linted(in_tmp):
    """A raw cell, a markdown cell and a VS Code cell in another language hold the buggy
    loop; only Python code cells are linted, and cell numbers count every cell."""
    sql = new_code_cell(LOOP, metadata={"vscode": {"languageId": "sql"}})
    save(notebook(new_code_cell(IMPORTS), new_code_cell(MODEL + "\n" + OPTIMIZER),
                  new_raw_cell(LOOP), new_markdown_cell(LOOP), sql, new_code_cell(LOOP)),
         in_tmp / "nb.ipynb")
    result = check("--output-format", "concise", "nb.ipynb")
    assert result.stdout.splitlines()[0] == f"nb.ipynb:cell 6:4:9: OPT101 {OPT101_MESSAGE}"
    assert result.stdout.count("OPT101") == 1


def test_a_notebook_in_another_language_is_not_linted(in_tmp):
    nb = notebook(new_code_cell(IMPORTS), new_code_cell(MODEL + "\n" + OPTIMIZER),
                  new_code_cell(LOOP), new_code_cell("library(torch)\nx <- torch_randn(3)"),
                  language="R")
    save(nb, in_tmp / "r.ipynb")
    result = check("r.ipynb")
    assert result.exit_code == 0, result.stdout


# --------------------------------------------------------------------------- noqa
def test_noqa_inside_a_cell(in_tmp):
    nb = split_training_notebook()
    nb.cells[6].source = LOOP.replace("loss.backward()", "loss.backward()  # noqa: OPT101")
    save(nb, in_tmp / "nb.ipynb")
    assert check("nb.ipynb").exit_code == 0


def test_noqa_for_another_code_does_not_silence(in_tmp):
    nb = split_training_notebook()
    nb.cells[6].source = LOOP.replace("loss.backward()", "loss.backward()  # noqa: OPT102")
    save(nb, in_tmp / "nb.ipynb")
    result = check("--output-format", "concise", "nb.ipynb")
    assert result.stdout.splitlines()[0].startswith("nb.ipynb:cell 7:4:9: OPT101 ")


def test_file_level_noqa_in_a_cell_covers_the_notebook(in_tmp):
    nb = split_training_notebook()
    nb.cells[1].source = "# optimlint: noqa: OPT101\n" + IMPORTS
    save(nb, in_tmp / "nb.ipynb")
    assert check("nb.ipynb").exit_code == 0


# --------------------------------------------------------------------------- fixes
def test_fix_rewrites_only_the_loop_cell_as_valid_nbformat(in_tmp):
    nb = split_training_notebook()
    path = save(nb, in_tmp / "train.ipynb")
    original = json.loads(path.read_text(encoding="utf-8"))
    result = check("--fix", "--unsafe-fixes", "train.ipynb")
    assert result.exit_code == 0, result.stdout + result.stderr
    nbformat.validate(nbformat.read(str(path), as_version=4))
    fixed = json.loads(path.read_text(encoding="utf-8"))
    assert source_of(fixed["cells"][6]) == FIXED_LOOP
    # Everything else, outputs, execution counts and metadata included, is as it was.
    fixed["cells"][6]["source"] = original["cells"][6]["source"]
    assert fixed == original
    # Written in nbformat's own layout: the file is what nbformat writes for the new notebook.
    expected = copy.deepcopy(nb)
    expected.cells[6].source = FIXED_LOOP
    assert path.read_text(encoding="utf-8") == nbformat.writes(expected) + "\n"


def test_fix_twice_changes_nothing(in_tmp):
    path = save(split_training_notebook(), in_tmp / "train.ipynb")
    check("--fix", "--unsafe-fixes", "train.ipynb")
    once = path.read_bytes()
    result = check("--fix", "--unsafe-fixes", "train.ipynb")
    assert result.exit_code == 0
    assert path.read_bytes() == once


def test_without_unsafe_fixes_the_notebook_is_untouched(in_tmp):
    path = save(split_training_notebook(), in_tmp / "train.ipynb")
    before = path.read_bytes()
    result = check("--fix", "train.ipynb")
    assert result.exit_code == 1
    assert path.read_bytes() == before


def _raw_notebook(sources, *, trailing_newline=True, indent=1) -> str:
    """A notebook written by hand: ``sources`` are cell sources (a str or a list)."""
    data = {
        "cells": [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {},
                   "outputs": [], "source": s} for i, s in enumerate(sources)],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(data, indent=indent, ensure_ascii=False) + ("\n" if trailing_newline else "")


def crlf(text: str) -> str:
    return text.replace("\n", "\r\n")


def test_fix_keeps_string_sources_strings_and_crlf_endings(in_tmp):
    setup = crlf(IMPORTS + "\n" + MODEL + "\n" + OPTIMIZER + "\n")  # CRLF, trailing newline
    loop = crlf(LOOP)  # CRLF, no trailing newline
    path = in_tmp / "nb.ipynb"
    path.write_text(_raw_notebook([setup, loop]), encoding="utf-8", newline="")
    result = check("--output-format", "concise", "nb.ipynb")
    assert result.stdout.splitlines()[0] == f"nb.ipynb:cell 2:4:9: OPT101 {OPT101_MESSAGE}"
    check("--fix", "--unsafe-fixes", "nb.ipynb")
    cells = cells_of(path)
    assert cells[0]["source"] == setup
    assert cells[1]["source"] == crlf(FIXED_LOOP)
    assert path.read_text(encoding="utf-8") == _raw_notebook([setup, crlf(FIXED_LOOP)])
    nbformat.validate(nbformat.read(str(path), as_version=4))


def test_fix_keeps_list_sources_lists_and_no_trailing_newline(in_tmp):
    setup = (IMPORTS + "\n" + MODEL + "\n" + OPTIMIZER).splitlines(keepends=True)
    loop = LOOP.splitlines(keepends=True)  # the last line has no newline, as Jupyter writes
    path = in_tmp / "nb.ipynb"
    path.write_text(_raw_notebook([setup, loop], trailing_newline=False, indent=2), encoding="utf-8")
    check("--fix", "--unsafe-fixes", "nb.ipynb")
    assert path.read_text(encoding="utf-8") == _raw_notebook(
        [setup, FIXED_LOOP.splitlines(keepends=True)], trailing_newline=False, indent=2)


def test_fix_in_a_notebook_saved_with_crlf(in_tmp):
    """A notebook file written on Windows: the JSON itself has CRLF line endings."""
    setup = (IMPORTS + "\n" + MODEL + "\n" + OPTIMIZER).splitlines(keepends=True)
    path = in_tmp / "nb.ipynb"
    path.write_bytes(_raw_notebook([setup, LOOP.splitlines(keepends=True)]).replace("\n", "\r\n").encode())
    check("--fix", "--unsafe-fixes", "nb.ipynb")
    expected = _raw_notebook([setup, FIXED_LOOP.splitlines(keepends=True)]).replace("\n", "\r\n")
    assert path.read_bytes() == expected.encode()


def test_fix_in_a_compact_one_line_notebook(in_tmp):
    path = in_tmp / "nb.ipynb"
    setup = (IMPORTS + "\n" + MODEL + "\n" + OPTIMIZER).splitlines(keepends=True)
    path.write_text(_raw_notebook([setup, LOOP.splitlines(keepends=True)], trailing_newline=False,
                                  indent=None), encoding="utf-8")
    check("--fix", "--unsafe-fixes", "nb.ipynb")
    assert path.read_text(encoding="utf-8") == _raw_notebook(
        [setup, FIXED_LOOP.splitlines(keepends=True)], trailing_newline=False, indent=None)


# --------------------------------------------------------------------------- the Keras port
@pytest.fixture
def keras_port(in_tmp):
    return Path(shutil.copy(FIXTURES / "keras_port.ipynb", in_tmp / "keras_port.ipynb"))


def test_keras_port_findings(keras_port):
    """Ported from Keras: the loop never clears gradients (Keras did it for you)."""
    result = check("--select", "OPT101", "--output-format", "concise", "keras_port.ipynb")
    assert result.stdout.splitlines()[0] == f"keras_port.ipynb:cell 11:9:9: OPT101 {OPT101_MESSAGE}"
    assert result.exit_code == 1


def _implemented(code: str) -> bool:
    from optimlint.checks.base import all_checks

    return any(code in c.codes for c in all_checks())


@pytest.mark.skipif(not _implemented("OPT301"), reason="OPT301 (keras-style-argument) not on main yet")
def test_keras_port_beta_1_on_torch_adam(keras_port):
    result = check("--select", "OPT301", "--output-format", "json", "keras_port.ipynb")
    findings = json.loads(result.stdout)
    assert [(f["cell"], f["location"]["row"], f["location"]["column"]) for f in findings] == [
        (9, 1, 59), (9, 1, 71)]


@pytest.mark.skipif(not _implemented("OPT301"), reason="OPT301 (keras-style-argument) not on main yet")
def test_keras_port_every_fix_round_trip(keras_port):
    before = keras_port.read_text(encoding="utf-8")
    result = check("--fix", "--unsafe-fixes", "keras_port.ipynb")
    assert result.exit_code == 0, result.stdout
    old_opt = "optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, beta_1=0.9, beta_2=0.999)"
    new_opt = "optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999))"
    anchor = '        "    for images, labels in train_loader:\\n",\n'
    expected = before.replace(f'"{old_opt}\\n"', f'"{new_opt}\\n"', 1)
    expected = expected.replace(anchor, anchor + '        "        optimizer.zero_grad()\\n",\n')
    assert keras_port.read_text(encoding="utf-8") == expected
    # The error output of the cell that raised TypeError is kept: outputs are never touched.
    assert cells_of(keras_port)[8]["outputs"][0]["ename"] == "TypeError"


def test_keras_port_fix_round_trip(keras_port):
    """Colab's layout (2-space indent, its key order, no final newline, non-ASCII text and
    ANSI escapes in outputs) survives: the file changes by the inserted source line only."""
    before = keras_port.read_text(encoding="utf-8")
    result = check("--select", "OPT101", "--fix", "--unsafe-fixes", "keras_port.ipynb")
    assert result.exit_code == 0, result.stdout
    after = keras_port.read_text(encoding="utf-8")
    inserted = '        "        optimizer.zero_grad()\\n",\n'
    anchor = '        "    for images, labels in train_loader:\\n",\n'
    assert after == before.replace(anchor, anchor + inserted)
    nbformat.validate(nbformat.read(str(keras_port), as_version=4))


# --------------------------------------------------------------------------- malformed
@pytest.mark.parametrize(("content", "message"), [
    ('{"cells": [\n  {"cell_type": "code" "source": ""}\n]}',
     "not a valid notebook: invalid JSON: Expecting ',' delimiter at line 2 column 24"),
    ('{"metadata": {}, "nbformat": 4, "nbformat_minor": 5}', "not a valid notebook: no `cells` list"),
    ('{"metadata": {}, "nbformat": 3, "nbformat_minor": 0, "worksheets": [{"cells": []}]}',
     "nbformat 3 notebooks are not supported; convert it to nbformat 4 "
     "(`jupyter nbconvert --to notebook --nbformat 4`)"),
    ('{"metadata": {}, "worksheets": [{"cells": []}]}',
     "nbformat 3 notebooks are not supported; convert it to nbformat 4 "
     "(`jupyter nbconvert --to notebook --nbformat 4`)"),
    ('{"cells": [], "nbformat": 5}', "not a valid notebook: unknown nbformat version 5"),
    ("[1, 2]", "not a valid notebook: the JSON is not an object"),
    ('{"cells": {}, "nbformat": 4}', "not a valid notebook: `cells` is not a list"),
    ('{"cells": [{"cell_type": "code", "source": 3}], "nbformat": 4}',
     "not a valid notebook: cell 1 has a `source` that is neither a string nor a list of strings"),
    ('{"cells": [{"source": "x = 1"}], "nbformat": 4}', "not a valid notebook: cell 1 has no `cell_type`"),
    ("", "not a valid notebook: invalid JSON: Expecting value at line 1 column 1"),
])
def test_malformed_notebook_is_opt000(in_tmp, content, message):
    (in_tmp / "bad.ipynb").write_text(content, encoding="utf-8")
    result = check("--output-format", "concise", "bad.ipynb")
    assert result.stdout.splitlines()[0] == f"bad.ipynb:1:1: OPT000 {message}"
    assert result.exit_code == 1


def test_malformed_notebook_does_not_stop_the_others(in_tmp):
    (in_tmp / "bad.ipynb").write_bytes(b"\xff\xfe{")
    save(split_training_notebook(), in_tmp / "train.ipynb")
    lines = check("--output-format", "concise", ".").stdout.splitlines()
    assert lines[0].startswith("bad.ipynb:1:1: OPT000 not a valid notebook: the file is not UTF-8")
    assert lines[1].startswith("train.ipynb:cell 7:4:9: OPT101 ")


# --------------------------------------------------------------------------- the module
def read(nb) -> "Notebook":  # noqa: F821
    from optimlint.notebooks import read_notebook

    return read_notebook("nb.ipynb", nbformat.writes(nb).encode())


def test_joined_text_blanks_magics_in_place():
    nb = read(notebook(new_markdown_cell("# t"), *copy.deepcopy(MAGIC_CELLS[:2]),
                       new_code_cell("%%bash\necho hi"), new_code_cell("x = 1")))
    assert nb.text == ("\n\n\n" + IMPORTS + "\n"
                       "try:\n    import google.colab\n    IN_COLAB = True\n"
                       "except ImportError:\n    IN_COLAB = False\n"
                       "if IN_COLAB:\n    pass\n    pass\n"
                       "\n\n"
                       "x = 1\n")


def test_magic_lookalikes_inside_strings_and_brackets_are_code():
    source = ('doc = """\n%s of the data\n!important\nwhat?\n"""\n'
              'total = (1 +\n    2)\nratio = 3 % 2\nflag = x != y  # really?\n')
    nb = read(notebook(new_code_cell(source)))
    assert nb.text == source


def test_map_diagnostic_clamps_a_range_that_ends_in_the_next_cell():
    from optimlint.diagnostics import Diagnostic, Location

    nb = read(notebook(new_markdown_cell("m"), new_code_cell("a = 1\nb = 2"), new_code_cell("c = 3")))
    d = Diagnostic("OPT101", "missing-zero-grad", "m", "nb.ipynb", Location(2, 1), Location(3, 6))
    mapped = nb.map_diagnostic(d)
    assert (mapped.location, mapped.end_location, mapped.extra) == (Location(2, 1), Location(2, 6), {"cell": 2})
    assert d.extra == {}  # a copy
    third = nb.map_diagnostic(Diagnostic("OPT101", "n", "m", "nb.ipynb", Location(3, 1), Location(3, 6)))
    assert (third.location, third.end_location, third.noqa_row, third.extra) == (
        Location(1, 1), Location(1, 6), 1, {"cell": 3})


def test_rows_inserted_at_a_cell_boundary_go_where_their_indentation_says():
    nb = read(notebook(new_code_cell("for x in data:\n    use(x)"), new_code_cell("step()\nend()")))
    # Indented like the loop body: it continues the first cell.
    nb_json = json.loads(nb.render("for x in data:\n    use(x)\n    more(x)\nstep()\nend()\n"))
    assert [source_of(c) for c in nb_json["cells"]] == ["for x in data:\n    use(x)\n    more(x)",
                                                         "step()\nend()"]
    # At column 1 like the next cell's first statement: inserted before it.
    nb_json = json.loads(nb.render("for x in data:\n    use(x)\nclear()\nstep()\nend()\n"))
    assert [source_of(c) for c in nb_json["cells"]] == ["for x in data:\n    use(x)",
                                                        "clear()\nstep()\nend()"]


def test_render_with_unchanged_text_is_the_original_bytes():
    raw = nbformat.writes(split_training_notebook())
    from optimlint.notebooks import read_notebook

    nb = read_notebook("nb.ipynb", raw.encode())
    assert nb.render(nb.text) == raw


def test_diff_is_per_cell(in_tmp):
    from optimlint.config import Settings
    from optimlint.fixing import fix_text
    from optimlint.notebooks import read_notebook

    path = save(split_training_notebook(), in_tmp / "train.ipynb")
    nb = read_notebook("train.ipynb", path.read_bytes())
    outcome = fix_text("train.ipynb", nb.text, Settings(select=["OPT"]), unsafe=True)
    assert nb.diff(outcome.text) == (
        "--- train.ipynb:cell 7\n"
        "+++ train.ipynb:cell 7\n"
        "@@ -1,5 +1,6 @@\n"
        " for epoch in range(10):\n"
        "     for x, y in loader:\n"
        "+        optimizer.zero_grad()\n"
        "         loss = nn.functional.mse_loss(model(x), y)\n"
        "         loss.backward()\n"
        "         optimizer.step()\n")


# --------------------------------------------------------------------------- pre-commit
def test_precommit_hooks_cover_jupyter_files():
    import yaml
    from identify.identify import tags_from_filename

    hooks = yaml.safe_load((FIXTURES.parent / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert {h["id"] for h in hooks} == {"optimlint", "optimlint-fix"}
    assert all("jupyter" in h["types_or"] for h in hooks)
    assert "jupyter" in tags_from_filename("train.ipynb")  # what pre-commit matches types_or on


# --------------------------------------------------------------------------- round-trip property
from hypothesis import HealthCheck, assume, given, settings as hsettings, strategies as st  # noqa: E402

_ROWS = ["x = 1", "", "for i in range(3):", "    y = i", "    # a comment", "print(x)",
         "def f():", "    return 2", "z = 'a?'", "w = (1 +", "     2)"]


@st.composite
def _notebooks(draw):
    cells, sources = [], []
    for i in range(draw(st.integers(1, 5))):
        if draw(st.booleans()):
            cells.append({"cell_type": "markdown", "id": f"m{i}", "metadata": {}, "source": "# md"})
        rows = draw(st.lists(st.sampled_from(_ROWS), max_size=5))
        eol = draw(st.sampled_from(["\n", "\r\n"]))
        text = eol.join(rows) + (eol if rows and draw(st.booleans()) else "")
        source = text.splitlines(keepends=True) if draw(st.booleans()) else text
        cells.append({"cell_type": "code", "execution_count": i, "id": f"c{i}",
                      "metadata": {"k": i}, "outputs": [], "source": source})
        sources.append(text)
    data = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(data, indent=draw(st.sampled_from([None, 1, 2])), ensure_ascii=False)


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(raw=_notebooks(), data=st.data())
def test_render_round_trips_any_row_edit(raw, data):
    """Whatever rows a fix inserts, deletes or replaces in the joined text, the written
    notebook is valid, reads back to exactly that text, and keeps everything but sources."""
    from optimlint.notebooks import read_notebook

    nb = read_notebook("nb.ipynb", raw.encode())
    rows = nb.text.splitlines(keepends=True)
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(rows)))
        op = data.draw(st.sampled_from(["insert", "delete", "replace"]))
        new_row = data.draw(st.sampled_from(_ROWS)) + "\n"
        if op == "insert":
            rows.insert(at, new_row)
        elif at < len(rows):
            rows[at:at + 1] = [] if op == "delete" else [new_row]
    new_text = "".join(rows)
    written = nb.render(new_text)
    # A cell starting indented is dedented on reading (IPython's cleanup): not this property.
    indented = [c for c in json.loads(raw)["cells"] + json.loads(written)["cells"]
                if c["cell_type"] == "code" and source_of(c).lstrip("\r\n")[:1] in (" ", "\t")]
    assume(not indented)
    again = read_notebook("nb.ipynb", written.encode())
    assert again.text == new_text
    before, after = json.loads(raw), json.loads(written)
    for cell in before["cells"] + after["cells"]:
        cell.pop("source")
    assert before == after
    nbformat.validate(nbformat.reads(written, as_version=4))


_MAGIC_ROWS = ["!pip install -q timm", "%matplotlib inline", "    !nvidia-smi", "torch.optim.Adam?"]


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cells=st.lists(st.lists(st.sampled_from(_ROWS[:-2] + _MAGIC_ROWS + ["%%time"]), max_size=5),
                      min_size=1, max_size=4),
       data=st.data())
def test_render_never_loses_magics(cells, data):
    """Rows a fix deletes or replaces around a blanked magic, or inside a cell-magic cell,
    never take the magic with them."""
    from optimlint.notebooks import read_notebook

    raw = _raw_notebook(["\n".join(rows) for rows in cells])
    nb = read_notebook("nb.ipynb", raw.encode())
    rows = nb.text.splitlines(keepends=True)
    for _ in range(data.draw(st.integers(1, 3))):
        if not rows:
            break
        at = data.draw(st.integers(0, len(rows) - 1))
        rows[at:at + 1] = data.draw(st.sampled_from([[], ["y = 2\n"], ["y = 2\n", "z = 3\n"]]))
    written = json.loads(nb.render("".join(rows)))

    def magics(cell_sources):
        return sorted(r for s in cell_sources for r in s.split("\n") if r.lstrip().startswith(("!", "%"))
                      or r.endswith("?"))

    assert magics(source_of(c) for c in written["cells"]) == magics("\n".join(r) for r in cells)


# --------------------------------------------------------------------------- pasted, indented cells
def test_an_indented_pasted_cell_is_dedented_like_ipython(in_tmp):
    """IPython strips a cell's leading indentation (code pasted from inside a function runs);
    columns are reported in the cell as written, and a fix keeps the indentation."""
    pasted = "\n".join("  " + row for row in LOOP.split("\n"))
    save(notebook(new_code_cell(IMPORTS), new_code_cell(MODEL + "\n" + OPTIMIZER), new_code_cell(pasted)),
         in_tmp / "nb.ipynb")
    result = check("--output-format", "concise", "nb.ipynb")
    assert result.stdout.splitlines()[0] == f"nb.ipynb:cell 3:4:11: OPT101 {OPT101_MESSAGE}"
    assert "OPT000" not in result.stdout
    check("--fix", "--unsafe-fixes", "nb.ipynb")
    assert source_of(cells_of(in_tmp / "nb.ipynb")[2]) == "\n".join("  " + row for row in FIXED_LOOP.split("\n"))


# --------------------------------------------------------------------------- must not fire
def test_tutorial_notebook_one_step_per_cell_is_clean(in_tmp):
    """A tutorial that walks through one step a cell at module level (backward in one cell,
    step in the next, a second experiment that re-creates its optimizer): no loop, nothing
    to report, and no magic or help line is a syntax error."""
    save(notebook(
        new_markdown_cell("# Autograd and one optimizer step"),
        new_code_cell("%matplotlib inline\nimport torch\nimport torch.nn as nn"),
        new_code_cell("x = torch.randn(10, 3)\ny = torch.randn(10, 2)\nlinear = nn.Linear(3, 2)\n"
                      "criterion = nn.MSELoss()\n"
                      "optimizer = torch.optim.SGD(linear.parameters(), lr=0.01)"),
        new_code_cell("loss = criterion(linear(x), y)\nloss.backward()\nprint(linear.weight.grad)"),
        new_code_cell("optimizer.step()\nprint('loss after one step:', criterion(linear(x), y).item())"),
        new_code_cell("nn.Linear?"),
        new_markdown_cell("## A few more steps, the usual way"),
        new_code_cell("optimizer = torch.optim.SGD(linear.parameters(), lr=0.01, momentum=0.9)\n"
                      "for step in range(100):\n"
                      "    optimizer.zero_grad()\n"
                      "    loss = criterion(linear(x), y)\n"
                      "    loss.backward()\n"
                      "    optimizer.step()\n"
                      "    if step % 20 == 0:\n"
                      "        %time print(step, loss.item())"),
        new_code_cell("%%timeit\nlinear(x)"),
    ), in_tmp / "tutorial.ipynb")
    result = check("tutorial.ipynb")
    assert result.exit_code == 0, result.stdout


def test_keras_model_in_a_notebook_is_not_flagged(in_tmp):
    """A Keras notebook's ``Adam(beta_1=...)`` is Keras's own argument."""
    save(notebook(
        new_code_cell("!pip install -q tensorflow\nimport tensorflow as tf\nfrom tensorflow import keras"),
        new_code_cell("model = keras.Sequential([keras.layers.Dense(64, activation='relu'), keras.layers.Dense(10)])"),
        new_code_cell("model.compile(\n"
                      "    optimizer=tf.keras.optimizers.Adam(learning_rate=1e-3, beta_1=0.9, beta_2=0.999),\n"
                      "    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))"),
        new_code_cell("history = model.fit(x_train, y_train, epochs=5)"),
    ), in_tmp / "keras.ipynb")
    result = check("keras.ipynb")
    assert result.exit_code == 0, result.stdout


def test_cell_rows_are_the_cell_as_written():
    nb = read(notebook(new_markdown_cell("m"), new_code_cell("!ls\r\n  x = 1\r\n  y = 2")))
    assert nb.cell_rows(2) == ["!ls", "  x = 1", "  y = 2"]
    assert nb.cell_rows(1) == []


def test_a_utf8_bom_is_kept(in_tmp):
    nb = split_training_notebook()
    path = in_tmp / "train.ipynb"
    path.write_bytes(b"\xef\xbb\xbf" + (nbformat.writes(nb) + "\n").encode())
    check("--fix", "--unsafe-fixes", "train.ipynb")
    nb.cells[6].source = FIXED_LOOP
    assert path.read_bytes() == b"\xef\xbb\xbf" + (nbformat.writes(nb) + "\n").encode()


# --------------------------------------------------------------------------- after a fix
SETUP = IMPORTS + "\n" + MODEL + "\n" + OPTIMIZER
LATER = ("# fine-tune the last layer\n"
         "finetune = torch.optim.SGD(model.parameters(), lr=0.1, nesterov=True)\n"  # OPT303, no fix
         "print(finetune)")


def two_findings_notebook():
    """OPT101 (an unsafe fix that adds a row) in cell 2, OPT303 (no fix) in cell 3."""
    return notebook(new_code_cell(SETUP), new_code_cell(LOOP), new_code_cell(LATER))


def test_after_maps_findings_in_the_fixed_text():
    from optimlint.config import Settings
    from optimlint.fixing import fix_text

    nb = read(two_findings_notebook())
    outcome = fix_text("nb.ipynb", nb.text, Settings(select=["OPT101", "OPT303"]), unsafe=True)
    [remaining] = outcome.remaining
    assert remaining.code == "OPT303"
    after = nb.after(outcome.text)
    assert after.text == outcome.text
    mapped = after.map_diagnostic(remaining)
    assert (mapped.extra["cell"], mapped.location.row) == (3, 2)
    assert nb.map_diagnostic(remaining).location.row == 3  # the map before the fix is off by the new row


def test_findings_left_after_fix_are_located_in_the_fixed_cells(in_tmp):
    save(two_findings_notebook(), in_tmp / "nb.ipynb")
    result = check("--select", "OPT101,OPT303", "--fix", "--unsafe-fixes", "--output-format", "concise",
                   "nb.ipynb")
    assert result.stdout.splitlines()[0].startswith("nb.ipynb:cell 3:2:")


def test_diff_shows_the_changed_cell(in_tmp):
    path = save(split_training_notebook(), in_tmp / "train.ipynb")
    before = path.read_bytes()
    result = check("--diff", "--unsafe-fixes", "train.ipynb")
    assert result.stdout.startswith("--- train.ipynb:cell 7\n+++ train.ipynb:cell 7\n@@ -1,5 +1,6 @@\n")
    assert path.read_bytes() == before


def test_findings_are_listed_in_cell_order(in_tmp):
    save(two_findings_notebook(), in_tmp / "nb.ipynb")
    lines = check("--select", "OPT101,OPT303", "--output-format", "concise", "nb.ipynb").stdout.splitlines()
    assert [line.split(":")[1] for line in lines[:2]] == ["cell 2", "cell 3"]


def test_sarif_carries_the_cell(in_tmp):
    save(split_training_notebook(), in_tmp / "train.ipynb")
    sarif = json.loads(check("--output-format", "sarif", "train.ipynb").stdout)
    [result] = sarif["runs"][0]["results"]
    assert result["properties"]["cell"] == 7
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 4


def test_excerpt_shows_the_cell_as_written(in_tmp):
    pasted = "\n".join("  " + row for row in LOOP.split("\n"))
    save(notebook(new_code_cell(SETUP), new_code_cell(pasted)), in_tmp / "nb.ipynb")
    out = check("nb.ipynb").stdout
    assert "4 |           loss.backward()\n  |           ^^^^^^^^^^^^^^^ OPT101\n" in out


def test_render_falls_back_to_writing_the_json_again(monkeypatch):
    """Should the in-place replacement fail to find a source, the notebook is written again in
    the file's own indentation: still valid, only the changed cell differs."""
    from optimlint import notebooks

    nb_obj = split_training_notebook()
    raw = nbformat.writes(nb_obj) + "\n"
    nb = notebooks.read_notebook("nb.ipynb", raw.encode())

    def fail(text):
        raise notebooks._SpanError("forced")

    monkeypatch.setattr(notebooks, "_source_spans", fail)
    written = nb.render(nb.text.replace("    for x, y in loader:\n",
                                        "    for x, y in loader:\n        optimizer.zero_grad()\n"))
    nb_obj.cells[6].source = FIXED_LOOP
    assert written == nbformat.writes(nb_obj) + "\n"


def test_cell_magics_that_do_not_run_their_body_once_as_python_are_skipped(in_tmp):
    """%%timeit runs its body in a loop of its own, %%bash is not Python, %%writefile writes
    it to a file: their cells are not linted (a missing zero_grad there is not a finding)."""
    for magic in ("%%timeit", "%%bash", "%%writefile train.py", "%%capture --no-stdout"):
        save(notebook(new_code_cell(IMPORTS + "\n" + MODEL + "\n" + OPTIMIZER),
                      new_code_cell(magic + "\n" + LOOP)), in_tmp / "nb.ipynb")
        result = check("--output-format", "concise", "nb.ipynb")
        expected = 1 if magic.startswith("%%capture") else 0
        assert result.stdout.count("OPT101") == expected, (magic, result.stdout)
