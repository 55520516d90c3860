"""``optimlint server`` keeps nothing per edit: after many edits of one document, the objects
the server holds are those it held after a few (issue 16: memory bounded over 1,000 edits).

The server runs as the editor starts it, over stdio with a real LSP client (pytest-lsp),
with one request added for the test: ``optimlint/test/held`` answers how many objects the
Python heap holds after a full garbage collection (and after the position caches' sweep of
dead statements, which otherwise runs every 256 insertions), and how many futures pygls
keeps for cancellation."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

if os.environ.get("CI") != "true":  # CI installs the test extras: there it must not skip
    pytest.importorskip("pytest_lsp", reason="pytest-lsp is not installed: pip install -e '.[test]'")
import pytest_lsp  # noqa: E402
from lsprotocol import types as lsp  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities  # noqa: E402

from conftest import TRAIN_TWO_FINDINGS, write  # noqa: E402
from test_server import accept_registrations  # noqa: E402

pytestmark = pytest.mark.asyncio(loop_scope="function")

WAIT_S = 60
# ``optimlint server`` (server.serve) with the test's request added
SERVER = [sys.executable, "-c", """
import gc
from optimlint import server
from optimlint.analysis import positions

ls = server.build()

@ls.feature("optimlint/test/held")
def held(ls, params):
    positions.forget_dead()
    gc.collect()
    return {"objects": len(gc.get_objects()), "futures": len(ls.protocol._request_futures)}

gc.set_threshold(50_000, *gc.get_threshold()[1:])
ls.start_io()
"""]


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER))
async def client(lsp_client: LanguageClient, tmp_path):
    write(tmp_path / "pyproject.toml", '[tool.optimlint]\nselect = ["OPT1", "OPT3"]\n')
    accept_registrations(lsp_client)
    await lsp_client.initialize_session(lsp.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"), root_uri=f"file://{tmp_path}"))
    yield
    await lsp_client.shutdown_session()


async def edit_and_wait(client: LanguageClient, uri: str, version: int) -> list[tuple]:
    """Retype the learning rate's exponent (``1e-3`` / ``1e-4``), as a user would; wait for
    that version's diagnostics."""
    published = asyncio.get_running_loop().create_future()
    original = client.protocol.fm.features[lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS]

    def record(params):
        if params.version == version and not published.done():
            published.set_result([(d.code, d.range.start.line) for d in params.diagnostics])
        return original(params)

    client.protocol.fm.features[lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = record
    try:
        at = TRAIN_TWO_FINDINGS.splitlines()[4].index("1e-3") + 3
        client.text_document_did_change(lsp.DidChangeTextDocumentParams(
            lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
            [lsp.TextDocumentContentChangePartial(range=lsp.Range(lsp.Position(4, at), lsp.Position(4, at + 1)),
                                                  text="34"[version % 2])]))
        return await asyncio.wait_for(published, WAIT_S)
    finally:
        client.protocol.fm.features[lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = original


async def held(client: LanguageClient) -> dict:
    found = await client.protocol.send_request_async("optimlint/test/held", {})
    return {"objects": found.objects, "futures": found.futures} if not isinstance(found, dict) else found


async def test_nothing_accumulates_over_edits(client, tmp_path):
    path = tmp_path / "train.py"
    write(path, TRAIN_TWO_FINDINGS)
    uri = f"file://{path}"
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(
        lsp.TextDocumentItem(uri, "python", 1, TRAIN_TWO_FINDINGS)))
    version = 1
    for _ in range(20):  # warm: every cache filled once
        version += 1
        assert await edit_and_wait(client, uri, version) == [("OPT301", 4), ("OPT102", 8)]
    before = await held(client)
    for _ in range(80):
        version += 1
        assert await edit_and_wait(client, uri, version) == [("OPT301", 4), ("OPT102", 8)]
    after = await held(client)
    assert after["futures"] == before["futures"] == 1  # this request's own: no edit's future is kept
    # (about 6 objects an edit grew before: pygls's futures with their conditions and locks)
    assert after["objects"] - before["objects"] < 40
