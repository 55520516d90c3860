"""``optimlint server`` end to end, through a real LSP client over stdio (pytest-lsp): what an
editor sends, what it gets back: diagnostics (code, range, message), code actions and the
exact text edits they carry, fix-all, noqa, hover, config reloads, notebooks, the runtime
report, workspace folders."""

from __future__ import annotations

import asyncio
import json
import os
import sys

import pytest

if os.environ.get("CI") != "true":  # CI installs the test extras: there it must not skip
    pytest.importorskip("pytest_lsp", reason="pytest-lsp is not installed: pip install -e '.[test]'")
import pytest_lsp  # noqa: E402
from lsprotocol import types as lsp  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities  # noqa: E402

from conftest import (OPT102_LOOP, OPT102_LOOP_FIXED, TRAIN_OPT102_MESSAGE, TRAIN_OPT301_MESSAGE,  # noqa: E402
                      TRAIN_TWO_FINDINGS, write)
from optimlint.catalogue import page_text  # noqa: E402

pytestmark = pytest.mark.asyncio(loop_scope="function")

WAIT_S = 60
SERVER = [sys.executable, "-m", "optimlint", "server"]

TRAIN = TRAIN_TWO_FINDINGS
OPT301_MESSAGE = TRAIN_OPT301_MESSAGE
OPT102_MESSAGE = TRAIN_OPT102_MESSAGE


def rng(l1, c1, l2, c2) -> lsp.Range:
    return lsp.Range(lsp.Position(l1, c1), lsp.Position(l2, c2))


def uri_of(path) -> str:
    return f"file://{path}"


@pytest.fixture
def project(tmp_path):
    write(tmp_path / "pyproject.toml", '[tool.optimlint]\nselect = ["OPT1", "OPT3"]\n')
    return tmp_path


def accept_registrations(client: LanguageClient) -> list[lsp.Registration]:
    """Answer ``client/registerCapability`` as VS Code does (pytest-lsp's client has no
    handler for it); returns the list the registrations are recorded in."""
    registered: list[lsp.Registration] = []

    @client.feature(lsp.CLIENT_REGISTER_CAPABILITY)
    def register(params: lsp.RegistrationParams) -> None:
        registered.extend(params.registrations)

    return registered


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER))
async def client(lsp_client: LanguageClient, project):
    lsp_client.registered = accept_registrations(lsp_client)
    await lsp_client.initialize_session(lsp.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"), root_uri=uri_of(project),
        workspace_folders=[lsp.WorkspaceFolder(uri_of(project), "project")]))
    yield
    await lsp_client.shutdown_session()


async def diagnostics_for(client: LanguageClient, uri: str, previous=None) -> list[lsp.Diagnostic]:
    """The diagnostics published for ``uri`` (once they differ from ``previous``, when given)."""
    previous = list(previous) if previous is not None else None
    async def wait():
        while uri not in client.diagnostics or (previous is not None and list(client.diagnostics[uri]) == previous):
            await client.wait_for_notification(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        return client.diagnostics[uri]
    return list(await asyncio.wait_for(wait(), WAIT_S))


def open_doc(client: LanguageClient, path, text: str, language: str = "python") -> str:
    write(path, text)
    uri = uri_of(path)
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(uri, language, 1, text)))
    return uri


def summary(diagnostics) -> list[tuple]:
    return [(d.code, d.range.start.line, d.range.start.character, d.range.end.line, d.range.end.character,
             d.severity, d.source, d.message) for d in diagnostics]


# --------------------------------------------------------------------------- diagnostics
async def test_open_publishes_exact_diagnostics(client, project):
    uri = open_doc(client, project / "train.py", TRAIN)
    found = await diagnostics_for(client, uri)
    W = lsp.DiagnosticSeverity.Warning
    assert summary(found) == [("OPT301", 4, 47, 4, 60, W, "optimlint", OPT301_MESSAGE),
                              ("OPT102", 8, 8, 8, 23, W, "optimlint", OPT102_MESSAGE)]
    assert found[0].code_description.href == "https://optimlint.dev/rules/OPT301"


async def test_a_syntax_error_is_an_error(client, project):
    uri = open_doc(client, project / "broken.py", "def f(:\n    pass\n")
    found = await diagnostics_for(client, uri)
    assert summary(found) == [("OPT000", 0, 6, 0, 6, lsp.DiagnosticSeverity.Error, "optimlint",
                               "SyntaxError: invalid syntax")]


async def test_an_edit_relints_the_buffer_not_the_file(client, project):
    uri = open_doc(client, project / "train.py", TRAIN)
    first = await diagnostics_for(client, uri)
    # the fix of OPT301 typed in the editor, unsaved: only OPT102 remains
    client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
        [lsp.TextDocumentContentChangePartial(range=rng(4, 47, 4, 60), text="lr")]))
    second = await diagnostics_for(client, uri, first)
    assert summary(second) == [("OPT102", 8, 8, 8, 23, lsp.DiagnosticSeverity.Warning, "optimlint",
                                OPT102_MESSAGE)]


async def test_rapid_edits_publish_the_newest_text_only(client, project):
    """Edits sent faster than a lint: stale results are never published; the last
    publication is for the last version."""
    published: list[tuple[int | None, list]] = []
    original = client.protocol.fm.features[lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS]

    def record(params):
        published.append((params.version, summary(params.diagnostics)))
        return original(params)

    client.protocol.fm.features[lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = record
    uri = open_doc(client, project / "train.py", TRAIN)
    await diagnostics_for(client, uri)
    for version in range(2, 12):  # ten edits in a row, each a new blank line at the top
        client.text_document_did_change(lsp.DidChangeTextDocumentParams(
            lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
            [lsp.TextDocumentContentChangePartial(range=rng(0, 0, 0, 0), text="\n")]))

    async def last_version_published():
        while not published or published[-1][0] != 11:
            await client.wait_for_notification(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    await asyncio.wait_for(last_version_published(), WAIT_S)
    await asyncio.sleep(0.5)  # nothing stale arrives later either
    assert published[-1][0] == 11
    assert [(d.code, d.range.start.line) for d in client.diagnostics[uri]] == [("OPT301", 14), ("OPT102", 18)]
    assert len(published) < 11  # coalesced: not one lint per edit
    for version, found in published:  # each publication is the lint of the text of its version
        assert [(code, line) for code, line, *_ in found] == [("OPT301", 3 + version), ("OPT102", 7 + version)]


async def test_edits_typed_one_after_another_each_get_their_diagnostics(client, project):
    """Edits sent one at a time, each as soon as the previous one's diagnostics arrive (the
    next lint may fall within the debounce window of the previous one's start, or not): each
    version is published, with the findings of its own text, and nothing is published twice."""
    published: list[tuple[int | None, list]] = []
    original = client.protocol.fm.features[lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS]

    def record(params):
        published.append((params.version, [(d.code, d.range.start.line) for d in params.diagnostics]))
        return original(params)

    client.protocol.fm.features[lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = record
    uri = open_doc(client, project / "train.py", TRAIN)
    await diagnostics_for(client, uri)
    for version in range(2, 8):
        # alternately the fix of OPT301 and its undoing: the findings differ from one to the next
        fixed = version % 2 == 0
        client.text_document_did_change(lsp.DidChangeTextDocumentParams(
            lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
            [lsp.TextDocumentContentChangePartial(range=rng(4, 47, 4, 60 if fixed else 49),
                                                  text="lr" if fixed else "learning_rate")]))

        async def published_version(version=version):
            while not published or published[-1][0] != version:
                await client.wait_for_notification(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        await asyncio.wait_for(published_version(), WAIT_S)
    await asyncio.sleep(0.3)  # nothing more arrives
    assert published == [(1, [("OPT301", 4), ("OPT102", 8)])] + [
        (v, [("OPT102", 8)] if v % 2 == 0 else [("OPT301", 4), ("OPT102", 8)]) for v in range(2, 8)]


async def test_save_relints(client, project):
    uri = open_doc(client, project / "train.py", TRAIN)
    first = await diagnostics_for(client, uri)
    write(project / "pyproject.toml", '[tool.optimlint]\nselect = ["OPT3"]\n')
    client.text_document_did_save(lsp.DidSaveTextDocumentParams(lsp.TextDocumentIdentifier(uri)))
    second = await diagnostics_for(client, uri, first)
    assert [d.code for d in second] == ["OPT301"]


async def test_noqa_and_per_file_ignores_apply(client, project):
    write(project / "pyproject.toml",
          '[tool.optimlint]\nselect = ["OPT1", "OPT3"]\n[tool.optimlint.per-file-ignores]\n"legacy/*" = ["OPT301"]\n')
    uri = open_doc(client, project / "legacy" / "train.py",
                   TRAIN.replace("opt.zero_grad()\n", "opt.zero_grad()  # noqa: OPT102\n"))
    assert await diagnostics_for(client, uri) == []


async def test_excluded_files_get_no_diagnostics(client, project):
    uri = open_doc(client, project / ".venv" / "lib" / "train.py", TRAIN)
    assert await diagnostics_for(client, uri) == []


async def test_close_clears(client, project):
    uri = open_doc(client, project / "train.py", TRAIN)
    first = await diagnostics_for(client, uri)
    client.text_document_did_close(lsp.DidCloseTextDocumentParams(lsp.TextDocumentIdentifier(uri)))
    assert await diagnostics_for(client, uri, first) == []


# --------------------------------------------------------------------------- code actions
async def actions_at(client, uri, line, only=None) -> list[lsp.CodeAction]:
    result = await client.text_document_code_action_async(lsp.CodeActionParams(
        lsp.TextDocumentIdentifier(uri), rng(line, 0, line, 0),
        lsp.CodeActionContext(diagnostics=[], only=only)))
    return result or []


def edits_of(action: lsp.CodeAction) -> dict[str, list[tuple]]:
    return {u: [(e.range.start.line, e.range.start.character, e.range.end.line, e.range.end.character, e.new_text)
                for e in edits] for u, edits in action.edit.changes.items()}


async def test_quick_fix_and_disable_actions_carry_exact_edits(client, project):
    uri = open_doc(client, project / "train.py", TRAIN)
    await diagnostics_for(client, uri)
    actions = await actions_at(client, uri, 4)
    assert [(a.title, a.kind, a.is_preferred) for a in actions] == [
        ("optimlint (OPT301): Rename `learning_rate` to `lr`", lsp.CodeActionKind.QuickFix, True),
        ("optimlint (OPT301): Disable OPT301 for this line", lsp.CodeActionKind.QuickFix, None),
        ("optimlint: Fix all auto-fixable problems", "source.fixAll.optimlint", None)]
    assert edits_of(actions[0]) == {uri: [(4, 47, 4, 60, "lr")]}
    assert [d.code for d in actions[0].diagnostics] == ["OPT301"]
    assert edits_of(actions[1]) == {uri: [(4, 66, 4, 66, "  # noqa: OPT301")]}


async def test_applying_the_noqa_action_silences_the_finding(client, project):
    source = TRAIN.replace("opt.zero_grad()\n", "opt.zero_grad()  # noqa: OPT101\n")
    uri = open_doc(client, project / "train.py", source)
    first = await diagnostics_for(client, uri)
    assert [d.code for d in first] == ["OPT301", "OPT102"]
    (disable,) = [a for a in await actions_at(client, uri, 8) if "Disable" in a.title]
    assert disable.title == "optimlint (OPT102): Disable OPT102 for this line"
    assert edits_of(disable) == {uri: [(8, 39, 8, 39, ", OPT102")]}  # merged with the noqa there
    edit = disable.edit.changes[uri][0]
    client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
        [lsp.TextDocumentContentChangePartial(range=edit.range, text=edit.new_text)]))
    second = await diagnostics_for(client, uri, first)
    assert [d.code for d in second] == ["OPT301"]


async def test_unsafe_fixes_are_labelled_and_not_preferred(client, project):
    source = ("import torch\n\n\ndef train(model, loader, opt):\n    for x in loader:\n"
              "        loss = model(x)\n        loss.backward()\n        opt.step()\n")
    uri = open_doc(client, project / "train.py", source)
    assert [d.code for d in await diagnostics_for(client, uri)] == ["OPT101"]
    actions = await actions_at(client, uri, 6, only=[lsp.CodeActionKind.QuickFix])
    assert [(a.title, a.is_preferred) for a in actions] == [
        ("optimlint (OPT101): Insert `opt.zero_grad()` at the top of the loop body (unsafe fix)", False),
        ("optimlint (OPT101): Disable OPT101 for this line", None)]
    assert edits_of(actions[0]) == {uri: [(5, 0, 5, 0, "        opt.zero_grad()\n")]}
    # fix-all applies safe fixes only: nothing to offer
    assert await actions_at(client, uri, 0, only=["source.fixAll"]) == []


async def test_fix_all_gives_what_check_fix_writes(client, project):
    uri = open_doc(client, project / "train.py", TRAIN)
    await diagnostics_for(client, uri)
    (fix_all,) = await actions_at(client, uri, 0, only=[lsp.CodeActionKind.SourceFixAll])
    assert fix_all.kind == "source.fixAll.optimlint"
    fixed = TRAIN.replace("learning_rate=", "lr=").replace(
        "        loss.backward()\n        opt.zero_grad()\n", "        opt.zero_grad()\n        loss.backward()\n")
    assert edits_of(fix_all) == {uri: [(4, 0, 9, 0, "".join(fixed.splitlines(keepends=True)[4:9]))]}


# --------------------------------------------------------------------------- hover
async def test_hover_on_a_diagnostic_shows_the_rule_page(client, project):
    uri = open_doc(client, project / "train.py", TRAIN)
    await diagnostics_for(client, uri)
    hover = await client.text_document_hover_async(lsp.HoverParams(lsp.TextDocumentIdentifier(uri),
                                                                   lsp.Position(4, 50)))
    assert hover.contents.kind == lsp.MarkupKind.Markdown
    assert hover.contents.value == page_text("OPT301")
    assert hover.range == rng(4, 47, 4, 60)
    assert await client.text_document_hover_async(lsp.HoverParams(
        lsp.TextDocumentIdentifier(uri), lsp.Position(1, 0))) is None


async def test_hover_on_a_noqa_code_shows_its_page(client, project):
    source = TRAIN.replace("opt.zero_grad()\n", "opt.zero_grad()  # noqa: OPT101, opt604\n")
    uri = open_doc(client, project / "train.py", source)
    await diagnostics_for(client, uri)
    line = source.splitlines()[8]
    for column, code in ((line.index("OPT101") + 2, "OPT101"), (line.index("opt604") + 5, "OPT604")):
        hover = await client.text_document_hover_async(lsp.HoverParams(
            lsp.TextDocumentIdentifier(uri), lsp.Position(8, column)))
        assert hover.contents.value == page_text(code)


# --------------------------------------------------------------------------- configuration
async def test_a_config_change_reloads(client, project):
    uri = open_doc(client, project / "train.py", TRAIN)
    first = await diagnostics_for(client, uri)
    # the server asked the editor to watch the config files
    (registration,) = client.registered
    assert registration.method == lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES
    assert [w["globPattern"] for w in registration.register_options["watchers"]] == [
        "**/pyproject.toml", "**/optimlint.toml"]
    assert [d.code for d in first] == ["OPT301", "OPT102"]
    write(project / "pyproject.toml", '[tool.optimlint]\nselect = ["OPT1"]\n')
    client.workspace_did_change_watched_files(lsp.DidChangeWatchedFilesParams([
        lsp.FileEvent(uri_of(project / "pyproject.toml"), lsp.FileChangeType.Changed)]))
    second = await diagnostics_for(client, uri, first)
    assert [d.code for d in second] == ["OPT102"]
    # a new, nearer config file
    write(project / "optimlint.toml", 'select = ["OPT3"]\n')
    client.workspace_did_change_watched_files(lsp.DidChangeWatchedFilesParams([
        lsp.FileEvent(uri_of(project / "optimlint.toml"), lsp.FileChangeType.Created)]))
    third = await diagnostics_for(client, uri, second)
    assert [d.code for d in third] == ["OPT301"]


async def test_a_broken_config_is_shown_not_guessed(client, project):
    write(project / "pyproject.toml", '[tool.optimlint]\nselcet = ["OPT1"]\n')
    uri = open_doc(client, project / "train.py", TRAIN)
    assert await diagnostics_for(client, uri) == []
    assert client.messages[-1].type == lsp.MessageType.Error
    assert client.messages[-1].message.startswith(f"optimlint: {project / 'pyproject.toml'}:2: unknown key `selcet`")


async def test_each_workspace_folder_has_its_config(client, project):
    other = project.parent / f"{project.name}-other"
    write(other / "pyproject.toml", '[tool.optimlint]\nselect = ["OPT3"]\n')
    client.workspace_did_change_workspace_folders(lsp.DidChangeWorkspaceFoldersParams(
        lsp.WorkspaceFoldersChangeEvent(added=[lsp.WorkspaceFolder(uri_of(other), "other")], removed=[])))
    here = open_doc(client, project / "train.py", TRAIN)
    there = open_doc(client, other / "train.py", TRAIN)
    assert [d.code for d in await diagnostics_for(client, here)] == ["OPT301", "OPT102"]
    assert [d.code for d in await diagnostics_for(client, there)] == ["OPT301"]


# --------------------------------------------------------------------------- notebooks
def notebook_cell(uri: str, kind=lsp.NotebookCellKind.Code) -> lsp.NotebookCell:
    return lsp.NotebookCell(kind=kind, document=uri)


async def test_a_notebook_document(client, project):
    nb_uri = uri_of(project / "train.ipynb")
    head = "import torch\nfrom torch import nn\n"
    loop = OPT102_LOOP[len("import torch\nfrom torch import nn\n"):]
    cells = [(f"{nb_uri}#cell1", "python", head), (f"{nb_uri}#cell2", "markdown", "# Training\n"),
             (f"{nb_uri}#cell3", "python", "%matplotlib inline\n" + loop)]
    client.notebook_document_did_open(lsp.DidOpenNotebookDocumentParams(
        lsp.NotebookDocument(nb_uri, "jupyter-notebook", 1, cells=[
            notebook_cell(cells[0][0]), notebook_cell(cells[1][0], lsp.NotebookCellKind.Markup),
            notebook_cell(cells[2][0])]),
        [lsp.TextDocumentItem(u, lang, 1, text) for u, lang, text in cells]))
    found = await diagnostics_for(client, cells[2][0])
    assert summary(found) == [("OPT102", 9, 4, 9, 25, lsp.DiagnosticSeverity.Warning, "optimlint",
                               OPT102_MESSAGE.replace("opt.", "optimizer."))]
    assert await diagnostics_for(client, cells[0][0]) == []
    # the fix edits the cell, in the cell's rows
    actions = await actions_at(client, cells[2][0], 9, only=[lsp.CodeActionKind.QuickFix])
    fixed_cell = "%matplotlib inline\n" + OPT102_LOOP_FIXED[len("import torch\nfrom torch import nn\n"):]
    assert actions[0].title.startswith("optimlint (OPT102): Move ")
    (fix_all,) = await actions_at(client, cells[2][0], 0, only=["source.fixAll.optimlint"])
    assert edits_of(fix_all) == {cells[2][0]: [(8, 0, 10, 0, "".join(fixed_cell.splitlines(True)[8:10]))]}
    # an edit of a cell re-lints the notebook: clearing first fixes it
    before = client.diagnostics[cells[2][0]]
    client.notebook_document_did_change(lsp.DidChangeNotebookDocumentParams(
        lsp.VersionedNotebookDocumentIdentifier(version=2, uri=nb_uri),
        lsp.NotebookDocumentChangeEvent(cells=lsp.NotebookDocumentCellChanges(text_content=[
            lsp.NotebookDocumentCellContentChanges(lsp.VersionedTextDocumentIdentifier(uri=cells[2][0], version=2), [
                lsp.TextDocumentContentChangeWholeDocument(fixed_cell)])]))))
    assert await diagnostics_for(client, cells[2][0], before) == []


# --------------------------------------------------------------------------- runtime report
@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER))
async def client_with_report(lsp_client: LanguageClient, project):
    await lsp_client.initialize_session(lsp.InitializeParams(
        capabilities=client_capabilities("neovim"), root_uri=uri_of(project),
        workspace_folders=[lsp.WorkspaceFolder(uri_of(project), "project")],
        initialization_options={"runtimeReport": "report.json"}))
    yield
    await lsp_client.shutdown_session()


async def test_the_runtime_report_marks_diagnostics(client_with_report, project):
    from optimlint.runtime.report import error_to_json

    client = client_with_report
    train = project / "train.py"
    write(project / "report.json", json.dumps([
        {"code": "OPT102", "filename": str(train), "location": {"row": 9, "column": 9}, "runtime": "confirmed"},
        {"code": "OPT301", "filename": str(train), "location": {"row": 5, "column": 48}, "runtime": "not-observed"},
        error_to_json("optimizer step pre-hook: RuntimeError: x"),  # an internal error marks nothing
    ]))
    uri = open_doc(client, train, TRAIN)
    found = await diagnostics_for(client, uri)
    assert [(d.code, d.message) for d in found] == [
        ("OPT301", OPT301_MESSAGE + " [runtime: not observed in the last run]"),
        ("OPT102", OPT102_MESSAGE + " [runtime: confirmed by the last run]")]
    assert [d.data["runtime"] for d in found] == ["not-observed", "confirmed"]
