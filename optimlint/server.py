"""``optimlint server``: a Language Server over stdio (pygls + lsprotocol), as ``ruff server``.

- Diagnostics for ``.py`` documents and notebook cells (LSP notebook document sync) on
  open, change and save. A change to a document that is not being linted is linted at
  once; edits that arrive while a lint of it runs, or within ``DEBOUNCE_S`` (10 ms) of the
  start of its last lint, are coalesced into one more lint of the newest text (a burst of
  keystrokes costs a lint per window, not one per key), and a result for a text that has
  changed since is dropped, never published. Lints run one at a time on a worker thread,
  so the server keeps reading messages while LibCST works.
- Code actions: each finding's fix (``quickfix``; unsafe ones say so and are not
  preferred), "disable OPTnnn for this line" (``# noqa``, merged with one already there),
  and "fix all" (``source.fixAll.optimlint``: what ``check --fix`` applies).
- Hover on a diagnostic, or on a code in a ``# noqa`` comment, shows the rule's page.
- Settings: the config nearest each document, re-read when a config file changes
  (``server_settings``); the runtime companion's report, when configured
  (``initializationOptions`` or ``workspace/didChangeConfiguration``:
  ``{"runtimeReport": "path/to/report.json"}``), marks each diagnostic's message.
The analysis itself lives in ``server_lint``; this module speaks the protocol.
"""

from __future__ import annotations

import asyncio
import functools
import os
from concurrent.futures import ThreadPoolExecutor

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.uris import to_fs_path

from optimlint import __version__
from optimlint.diagnostics import Applicability, Diagnostic, Edit, Location
from optimlint.fixing import line_offsets
from optimlint.server_lint import Cell, Document, Finding, code_in_noqa, disable_edit
from optimlint.server_parse import IncrementalParser
from optimlint.server_settings import RuntimeReport, SettingsCache, with_verdict

DEBOUNCE_S = 0.01
# A full garbage collection after every this many lints (the others collect the young
# generations only): see ``OptimlintServer.collect_garbage``.
FULL_COLLECTION_EVERY = 100
FIX_ALL = f"{lsp.CodeActionKind.SourceFixAll.value}.optimlint"
PYTHON_IDS = ("python", "python3")
CONFIG_GLOBS = ("**/pyproject.toml", "**/optimlint.toml")


class Linted:
    """The last published lint of one document (a text document or a whole notebook)."""

    __slots__ = ("versions", "document", "findings", "uris")

    def __init__(self, versions, document: Document, findings: list[Finding], uris: list[str]) -> None:
        self.versions = versions
        self.document = document
        self.findings = findings
        self.uris = uris  # every document published to (a notebook's cells)


class Protocol(LanguageServerProtocol):
    """pygls's protocol, without its memory growth over a session's notifications.

    pygls 2.1 files the future of each message it handles in ``_request_futures`` (so a
    ``$/cancelRequest`` can find it), and takes it out when it sends a request's response;
    a notification has no response, so the future of every ``didChange``, ``didOpen`` and
    ``didSave`` (a ``Future`` with its condition and locks, and a uuid) stayed: ~2 KiB an
    edit, the server's growth over thousands of edits (tracemalloc, 2026-12-04). Here a
    notification's future leaves the table once it is done (``_check_handler_result`` is the
    callback pygls attaches to notifications only); nothing could cancel it any more."""

    def _check_handler_result(self, future) -> None:
        super()._check_handler_result(future)
        futures = getattr(self, "_request_futures", None)
        if isinstance(futures, dict):
            for msg_id in [k for k, f in futures.items() if f is future]:
                del futures[msg_id]


class OptimlintServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__(
            "optimlint", __version__, text_document_sync_kind=lsp.TextDocumentSyncKind.Incremental,
            notebook_document_sync=lsp.NotebookDocumentSyncOptions(
                notebook_selector=[lsp.NotebookDocumentFilterWithCells(
                    cells=[lsp.NotebookCellLanguage(language="python")], notebook="*")],
                save=True), protocol_cls=Protocol)
        self.settings = SettingsCache()
        self.report = RuntimeReport()
        self.report_setting: str | None = None
        self.linted: dict[str, Linted] = {}
        self.tasks: dict[str, asyncio.Task] = {}
        self.started: dict[str, float] = {}  # per document: when (loop time) its last lint started
        self.shown_errors: set[str] = set()
        self.parsers: dict[str, IncrementalParser] = {}  # per document: its last tree, for the next edit
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="optimlint-lint")
        self.collections = 0  # garbage collections after a lint (``collect_garbage``)

    # ------------------------------------------------------------------ documents
    def is_python(self, uri: str) -> bool:
        doc = self.workspace.text_documents.get(uri)
        if doc is None:
            return False
        return doc.language_id in PYTHON_IDS or uri.endswith((".py", ".pyi"))

    def path_of(self, uri: str) -> str:
        path = to_fs_path(uri) if uri.startswith("file:") else None
        if path:
            return path
        folders = list(self.workspace.folders.values())
        root = to_fs_path(folders[0].uri) if folders else (self.workspace.root_path or os.getcwd())
        return os.path.join(root or os.getcwd(), "untitled.py")

    def snapshot(self, key: str):
        """``(versions, Document)`` of what ``key`` holds now, or None when it is closed."""
        notebook = self.workspace.notebook_documents.get(key)
        if notebook is None:
            doc = self.workspace.text_documents.get(key)
            if doc is None or not self.is_python(key):
                return None
            return doc.version, Document(self.path_of(key), key, text=doc.source)
        cells, versions = [], [notebook.version]
        for cell in notebook.cells:
            doc = self.workspace.text_documents.get(cell.document)
            code = cell.kind == lsp.NotebookCellKind.Code and doc is not None
            python = code and doc.language_id in PYTHON_IDS
            cells.append(Cell(cell.document, doc.source if doc is not None else "", code, python))
            versions.append(doc.version if doc is not None else None)
        return tuple(versions), Document(self.path_of(key), key, cells=cells)

    def key_of(self, uri: str) -> str:
        """The document linted for ``uri``: itself, or the notebook holding the cell."""
        notebook = self.workspace.get_notebook_document(cell_uri=uri)
        return notebook.uri if notebook is not None else uri

    def open_keys(self) -> list[str]:
        return [*self.workspace.notebook_documents,
                *(uri for uri in self.workspace.text_documents
                  if self.workspace.get_notebook_document(cell_uri=uri) is None)]

    # ------------------------------------------------------------------ linting
    def schedule(self, key: str) -> None:
        """Lint ``key`` soon; a lint already under way for it picks up the newest text."""
        task = self.tasks.get(key)
        if task is None or task.done():
            self.tasks[key] = asyncio.get_running_loop().create_task(self._lint_until_current(key))

    async def _lint_until_current(self, key: str) -> None:
        loop = asyncio.get_running_loop()
        while True:
            # The debounce: a document's lints start at least DEBOUNCE_S apart. The first
            # edit after a pause is linted at once (an edit's latency is its lint, not the
            # lint plus a wait); a lint that took longer than the window is followed at once
            # by the lint of what arrived meanwhile.
            wait = self.started.get(key, float("-inf")) + DEBOUNCE_S - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            snap = self.snapshot(key)
            if snap is None:
                return
            self.started[key] = loop.time()
            linted = await self.lint(key, snap)
            current = self.snapshot(key)
            if current is None:
                return
            if current[0] == snap[0]:
                self.publish(key, linted)
                self.collect_garbage()
                return
            # edited meanwhile: this result is stale; lint the newest text

    async def lint(self, key: str, snap) -> Linted:
        versions, document = snap
        loop = asyncio.get_running_loop()
        findings, error = await loop.run_in_executor(self.pool, self._findings, document)
        if error is not None and error not in self.shown_errors:
            self.shown_errors.add(error)
            self.window_show_message(lsp.ShowMessageParams(lsp.MessageType.Error, f"optimlint: {error}"))
        uris = [c.uri for c in document.cells] if document.cells is not None else [key]
        return Linted(versions, document, findings, uris)

    def _findings(self, document: Document) -> tuple[list[Finding], str | None]:
        """Runs on the worker thread."""
        settings = self.settings.settings_for(document.path)
        if isinstance(settings, str):
            return [], settings  # a broken config: say so, and show nothing it would change
        parser = self.parsers.setdefault(document.uri, IncrementalParser())
        findings = document.findings(settings, parser.parse)
        if document.notebook is None:  # notebooks do not run under `optimlint run`
            for f in findings:
                f.verdict = self.report.verdict(document.path, f.diagnostic.code, f.diagnostic.location.row)
        return findings, None

    async def current(self, key: str) -> Linted | None:
        """The lint of ``key``'s current text (linted now if the last one is stale)."""
        snap = self.snapshot(key)
        if snap is None:
            return None
        linted = self.linted.get(key)
        if linted is not None and linted.versions == snap[0]:
            return linted
        linted = await self.lint(key, snap)
        return linted

    def publish(self, key: str, linted: Linted) -> None:
        previous = self.linted.get(key)
        self.linted[key] = linted
        by_uri: dict[str, list[lsp.Diagnostic]] = {uri: [] for uri in linted.uris}
        for f in linted.findings:
            by_uri.setdefault(f.uri, []).append(self.to_lsp(f, linted))
        for uri in (previous.uris if previous is not None else []):
            by_uri.setdefault(uri, [])  # a cell that left the notebook: cleared
        for uri, diagnostics in by_uri.items():
            version = linted.versions if isinstance(linted.versions, int) else None
            self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri, diagnostics, version))

    def collect_garbage(self) -> None:
        """Free a lint's garbage once its diagnostics are published (so no edit waits for it).

        The analyses define LibCST visitor classes inside functions; each class is a
        reference cycle holding what its methods close over (the lint's tree and tables),
        which only the cyclic collector frees. ``serve`` raises the collector's first
        threshold to 50,000 allocations, so without this the garbage of a dozen lints piled
        up before a collection, and what was still in use at a collection of the middle
        generation moved to the oldest, which is collected only every 100 such collections
        or so: the server grew by tens of MiB over 1,000 edits. Collecting the young
        generations right after each lint costs about a millisecond (a 225-line script); every
        ``FULL_COLLECTION_EVERY``-th lint collects all generations (tens of ms), so what
        became garbage after it was promoted is freed too."""
        import gc

        self.collections += 1
        gc.collect(2 if self.collections % FULL_COLLECTION_EVERY == 0 else 1)

    def relint_all(self) -> None:
        for key in self.open_keys():
            self.linted.pop(key, None)
            self.schedule(key)

    # ------------------------------------------------------------------ conversions
    def text_of(self, linted: Linted, uri: str) -> str:
        cells = linted.document.cells
        if cells is None:
            return linted.document.text
        return next((c.text for c in cells if c.uri == uri), "")

    def position(self, text: str, loc: Location) -> lsp.Position:
        rows = _rows(text)
        line = loc.row - 1
        if line >= len(rows):
            return lsp.Position(len(rows), 0)
        return lsp.Position(line, self.units(rows[line].rstrip("\r\n")[: loc.column - 1]))

    def units(self, text: str) -> int:
        """The length of ``text`` in the client's position encoding (UTF-16 unless agreed)."""
        if text.isascii():
            return len(text)  # the usual case: one unit per character in every encoding
        encoding = self.workspace.position_encoding
        if encoding == lsp.PositionEncodingKind.Utf32:
            return len(text)
        if encoding == lsp.PositionEncodingKind.Utf8:
            return len(text.encode("utf-8", "surrogatepass"))
        return len(text.encode("utf-16-le", "surrogatepass")) // 2

    def range(self, text: str, start: Location, end: Location) -> lsp.Range:
        return lsp.Range(self.position(text, start), self.position(text, end))

    def to_lsp(self, f: Finding, linted: Linted) -> lsp.Diagnostic:
        d = f.diagnostic
        text = self.text_of(linted, f.uri)
        return lsp.Diagnostic(
            range=self.range(text, d.location, d.end_location), message=with_verdict(d.message, f.verdict),
            severity=lsp.DiagnosticSeverity.Error if d.code == "OPT000" else lsp.DiagnosticSeverity.Warning,
            code=d.code, code_description=lsp.CodeDescription(href=d.url), source="optimlint",
            data={"name": d.name, "fixable": d.fix is not None, "runtime": f.verdict})

    def text_edits(self, text: str, edits) -> list[lsp.TextEdit]:
        return [lsp.TextEdit(self.range(text, e.location, e.end_location), e.content) for e in edits]

    # ------------------------------------------------------------------ code actions
    async def code_actions(self, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
        uri = params.text_document.uri
        linted = await self.current(self.key_of(uri))
        if linted is None:
            return []
        only = params.context.only
        wanted = lambda kind: not only or any(kind == k or kind.startswith(f"{k}.") for k in only)  # noqa: E731
        actions: list[lsp.CodeAction] = []
        text = self.text_of(linted, uri)
        if wanted(lsp.CodeActionKind.QuickFix):
            lines = range(params.range.start.line, params.range.end.line + 1)
            for f in linted.findings:
                # the findings on the lines asked about (a cursor asks for its line)
                d = f.diagnostic
                if f.uri == uri and (d.location.row - 1 in lines or d.end_location.row - 1 in lines
                                     or d.location.row - 1 < lines.start and d.end_location.row - 1 >= lines.stop):
                    actions.extend(self.quick_fixes(f, linted, text))
        if wanted(FIX_ALL):
            edits = await asyncio.get_running_loop().run_in_executor(self.pool, self._fix_all, linted.document)
            if edits:
                changes = {u: self.text_edits(self.text_of(linted, u), e) for u, e in edits.items()}
                actions.append(lsp.CodeAction("optimlint: Fix all auto-fixable problems", kind=FIX_ALL,
                                              edit=lsp.WorkspaceEdit(changes=changes)))
        return actions

    def _fix_all(self, document: Document) -> dict[str, list[Edit]]:
        settings = self.settings.settings_for(document.path)
        return {} if isinstance(settings, str) else document.fix_all(settings)

    def quick_fixes(self, f: Finding, linted: Linted, text: str) -> list[lsp.CodeAction]:
        d: Diagnostic = f.diagnostic
        diagnostic = self.to_lsp(f, linted)
        out = []
        if d.fix is not None:
            unsafe = d.fix.applicability == Applicability.UNSAFE
            title = f"optimlint ({d.code}): {d.fix.message}" + (" (unsafe fix)" if unsafe else "")
            out.append(lsp.CodeAction(title, kind=lsp.CodeActionKind.QuickFix, diagnostics=[diagnostic],
                                      is_preferred=not unsafe,
                                      edit=lsp.WorkspaceEdit(changes={f.uri: self.text_edits(text, d.fix.edits)})))
        if d.code != "OPT000":
            edit = disable_edit(text, d)
            if edit is not None:
                out.append(lsp.CodeAction(f"optimlint ({d.code}): Disable {d.code} for this line",
                                          kind=lsp.CodeActionKind.QuickFix, diagnostics=[diagnostic],
                                          edit=lsp.WorkspaceEdit(changes={f.uri: self.text_edits(text, [edit])})))
        return out

    # ------------------------------------------------------------------ hover
    async def hover(self, params: lsp.HoverParams) -> lsp.Hover | None:
        from optimlint.catalogue import page_text

        uri = params.text_document.uri
        doc = self.workspace.text_documents.get(uri)
        if doc is None:
            return None
        rows = _rows(doc.source)
        pos = params.position
        if pos.line < len(rows):
            line = rows[pos.line].rstrip("\r\n")
            column = doc.position_codec.position_from_client_units([line], lsp.Position(0, pos.character)).character
            code = code_in_noqa(line, column)
            if code is not None and page_text(code) is not None:
                return lsp.Hover(lsp.MarkupContent(lsp.MarkupKind.Markdown, page_text(code)))
        linted = await self.current(self.key_of(uri))
        if linted is None:
            return None
        codes, where = [], None
        for f in linted.findings:
            r = self.to_lsp(f, linted).range
            if f.uri == uri and _contains(r, pos) and f.diagnostic.code not in codes:
                codes.append(f.diagnostic.code)
                where = where or r
        pages = [page_text(c) for c in codes if page_text(c) is not None]
        if not pages:
            return None
        return lsp.Hover(lsp.MarkupContent(lsp.MarkupKind.Markdown, "\n\n---\n\n".join(pages)), range=where)

    # ------------------------------------------------------------------ settings
    def configure(self, options) -> None:
        """``{"runtimeReport": PATH}`` from the editor (relative to the first workspace folder)."""
        if not isinstance(options, dict):
            return
        if "optimlint" in options and isinstance(options["optimlint"], dict):
            options = options["optimlint"]
        path = options.get("runtimeReport")
        if path is not None and not isinstance(path, str):
            return
        if path is not None and not os.path.isabs(path):
            folders = list(self.workspace.folders.values())
            root = to_fs_path(folders[0].uri) if folders else self.workspace.root_path
            path = os.path.join(root or os.getcwd(), path)
        self.report_setting = path
        self.report = RuntimeReport(path)

    async def watch_config_files(self) -> None:
        caps = self.client_capabilities.workspace
        watched = caps.did_change_watched_files if caps is not None else None
        if watched is None or not watched.dynamic_registration:
            return  # the stat check in server_settings still sees changes, at the next lint
        globs = list(CONFIG_GLOBS)
        if self.report_setting:
            globs.append(self.report_setting)
        watchers = [lsp.FileSystemWatcher(glob_pattern=g) for g in globs]
        await self.client_register_capability_async(lsp.RegistrationParams([lsp.Registration(
            "optimlint-config-files", lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES,
            lsp.DidChangeWatchedFilesRegistrationOptions(watchers=watchers))]))


@functools.lru_cache(maxsize=16)
def _rows(text: str) -> tuple[str, ...]:
    """The rows of ``text`` (with their line endings), split as Python and LibCST split them.
    Cached: a publication converts every finding's range against the same text (a str
    caches its hash, so a hit costs no pass over the text)."""
    offsets = line_offsets(text)
    return tuple(text[a:b] for a, b in zip(offsets, offsets[1:]))


def _before(a: lsp.Position, b: lsp.Position) -> bool:
    return (a.line, a.character) < (b.line, b.character)


def _contains(r: lsp.Range, p: lsp.Position) -> bool:
    return not _before(p, r.start) and not _before(r.end, p)


# --------------------------------------------------------------------------- features
def _lint_on(key_of):
    """A handler that lints the document ``key_of(ls, params)`` names (open, change, save)."""
    def handler(ls: OptimlintServer, params) -> None:
        ls.schedule(key_of(ls, params))
    return handler


def _reload(ls: OptimlintServer, params) -> None:
    """A config file or a workspace folder changed: read the settings again, lint again."""
    ls.settings.forget()
    ls.relint_all()


def build() -> OptimlintServer:
    from optimlint.analysis import walk

    walk.keep_previous_index()  # an edit's tree shares most statements with the last one's
    server = OptimlintServer()

    @server.feature(lsp.INITIALIZE)
    def initialize(ls: OptimlintServer, params: lsp.InitializeParams) -> None:
        ls.configure(params.initialization_options or {})

    @server.feature(lsp.INITIALIZED)
    async def initialized(ls: OptimlintServer, params: lsp.InitializedParams) -> None:
        await ls.watch_config_files()

    for method, key in ((lsp.TEXT_DOCUMENT_DID_OPEN, lambda ls, p: p.text_document.uri),
                        (lsp.TEXT_DOCUMENT_DID_CHANGE, lambda ls, p: p.text_document.uri),
                        (lsp.TEXT_DOCUMENT_DID_SAVE, lambda ls, p: ls.key_of(p.text_document.uri)),
                        (lsp.NOTEBOOK_DOCUMENT_DID_OPEN, lambda ls, p: p.notebook_document.uri),
                        (lsp.NOTEBOOK_DOCUMENT_DID_CHANGE, lambda ls, p: p.notebook_document.uri),
                        (lsp.NOTEBOOK_DOCUMENT_DID_SAVE, lambda ls, p: p.notebook_document.uri)):
        server.feature(method)(_lint_on(key))

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: OptimlintServer, params: lsp.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.linted.pop(uri, None)
        ls.parsers.pop(uri, None)
        ls.started.pop(uri, None)
        ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri, []))

    @server.feature(lsp.NOTEBOOK_DOCUMENT_DID_CLOSE)
    def notebook_close(ls: OptimlintServer, params: lsp.DidCloseNotebookDocumentParams) -> None:
        linted = ls.linted.pop(params.notebook_document.uri, None)
        ls.started.pop(params.notebook_document.uri, None)
        ls.parsers.pop(params.notebook_document.uri, None)
        for uri in linted.uris if linted is not None else []:
            ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri, []))

    for method in (lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES, lsp.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS):
        server.feature(method)(_reload)

    @server.feature(lsp.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def configuration_changed(ls: OptimlintServer, params: lsp.DidChangeConfigurationParams) -> None:
        ls.configure(params.settings or {})
        ls.relint_all()

    @server.feature(lsp.TEXT_DOCUMENT_CODE_ACTION, lsp.CodeActionOptions(
        code_action_kinds=[lsp.CodeActionKind.QuickFix, FIX_ALL]))
    async def code_action(ls: OptimlintServer, params: lsp.CodeActionParams):
        return await ls.code_actions(params)

    @server.feature(lsp.TEXT_DOCUMENT_HOVER)
    async def hover(ls: OptimlintServer, params: lsp.HoverParams):
        return await ls.hover(params)

    return server


def serve() -> None:
    """Run the server on stdin/stdout until the client closes it."""
    import gc

    # As in ``engine._lint_all``: LibCST allocates millions of objects per parse that
    # reference counting frees; the default collector threshold spends 15-20% of a lint
    # finding nothing.
    gc.set_threshold(50_000, *gc.get_threshold()[1:])
    build().start_io()
