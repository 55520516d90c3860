"""Reading a source file into text the checks see, and writing fixed text back safely.

Reading decodes like CPython does (PEP 263 coding cookie, UTF-8 BOM) and refuses, with a
message meant for the user, what cannot be linted: a directory, an unreadable file, NUL
bytes, bytes that do not decode. Line endings are kept as they are in ``text`` (LibCST
round-trips ``\\r\\n`` and mixed endings), so a fix touches only the lines it edits.

Writing is atomic: the new bytes go to a temporary file in the target's directory, which
then replaces the target with ``os.replace``; the file keeps its encoding, BOM and mode, and
a crash at any moment leaves either the old file or the new one, never a mix.
"""

from __future__ import annotations

import codecs
import io
import os
import re
import stat

from optimlint.atomic import atomic_write
from optimlint.hashing import hash_file, sha256_hex
from optimlint.records import Record

_FIRST_NEWLINE = re.compile(r"\r\n|\r|\n")


class SourceError(Exception):
    """A file that cannot be read or written; the message is shown to the user.

    ``row``/``column`` (1-based) locate the problem in the file when it has a place
    (the first NUL byte, the undecodable byte, the innermost parenthesis too many).
    """

    def __init__(self, message: str, row: int = 1, column: int = 1) -> None:
        super().__init__(message)
        self.row = max(row, 1)
        self.column = max(column, 1)


class SourceFile(Record):
    """A file's text as the checks see it, and what writing it back must keep. A plain
    class, not a dataclass: creating one costs ~0.5 ms at start-up."""

    _FIELDS = ("path", "text", "encoding", "mode", "notebook", "digest")

    def __init__(self, path: str, text: str, encoding: str = "utf-8", mode: int | None = None,
                 notebook: object = None, digest: str | None = None) -> None:
        self.path = path
        self.text = text
        self.encoding = encoding  # "utf-8-sig" when the file starts with a BOM
        self.mode = mode
        self.notebook = notebook  # optimlint.notebooks.Notebook for .ipynb files
        # A digest of the bytes read, so a write can refuse to replace a file that changed
        # on disk meanwhile (an editor saved it while optimlint was fixing it).
        self.digest = digest


    @property
    def bom(self) -> bool:
        return self.encoding == "utf-8-sig"

    @property
    def newline(self) -> str:
        """The first line ending of the file (what LibCST uses for inserted lines)."""
        match = _FIRST_NEWLINE.search(self.text)
        return match.group() if match else "\n"


def read_source(path: str) -> SourceFile:
    raw, mode = _read_bytes(path)
    return source_from_bytes(path, raw, mode)


def source_from_bytes(path: str, raw: bytes, mode: int | None = None) -> SourceFile:
    """``raw`` decoded as the content of ``path`` (standard input linted as ``path``, an
    editor's buffer); raises ``SourceError`` as ``read_source`` does."""
    digest = sha256_hex(raw)
    if path.endswith(".ipynb"):
        src = _read_notebook(path, raw, mode)
        src.digest = digest
        return src
    if b"\x00" in raw:
        at = raw.index(b"\x00")
        row, column = _row_column(raw, at)
        raise SourceError(f"source code cannot contain null bytes (first at line {row})", row, column)
    encoding = _detect_encoding(raw)
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        row, column = _row_column(raw, exc.start)
        shown = "UTF-8" if encoding in ("utf-8", "utf-8-sig") else encoding
        raise SourceError(
            f"cannot decode the file as {shown}: byte 0x{raw[exc.start]:02x} at line {row} "
            f"(declare the encoding with a `# -*- coding: ... -*-` line)", row, column) from None
    return SourceFile(path, text, encoding, mode, digest=digest)


def _row_column(raw: bytes, offset: int) -> tuple[int, int]:
    line_start = max(raw.rfind(b"\n", 0, offset), raw.rfind(b"\r", 0, offset)) + 1
    row = len(_FIRST_NEWLINE.findall(raw[:line_start].decode("latin-1"))) + 1
    return row, offset - line_start + 1


def _read_bytes(path: str) -> tuple[bytes, int]:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise SourceError(f"broken symbolic link to {os.readlink(path)}") from None
        raise SourceError("No such file or directory") from None
    except OSError as exc:
        raise SourceError(f"cannot read the file: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise SourceError("is a directory, not a file")
    if not stat.S_ISREG(st.st_mode):
        raise SourceError("not a regular file")
    try:
        with open(path, "rb") as fh:
            return fh.read(), stat.S_IMODE(st.st_mode)
    except OSError as exc:
        raise SourceError(f"cannot read the file: {exc.strerror or exc}") from None


def _detect_encoding(raw: bytes) -> str:
    """The encoding CPython would use: BOM, then a coding cookie on line 1 or 2, else UTF-8."""
    end = raw.find(b"\n")
    if end >= 0:
        end = raw.find(b"\n", end + 1)
    head = raw if end < 0 else raw[:end]  # lines 1 and 2, as tokenize reads them
    if b"coding" not in head:  # no cookie possible: tokenize's default (no import, ~1 ms)
        return "utf-8-sig" if raw.startswith(codecs.BOM_UTF8) else "utf-8"
    import tokenize

    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
    except SyntaxError as exc:  # unknown encoding in the cookie, or a BOM that disagrees
        if str(exc).startswith("invalid or missing"):
            # Line 1 or 2 is not UTF-8 and declares nothing: decoding as UTF-8 names the byte.
            return "utf-8-sig" if raw.startswith(codecs.BOM_UTF8) else "utf-8"
        raise SourceError(f"bad encoding declaration: {exc}") from None
    return encoding


def _read_notebook(path: str, raw: bytes, mode: int | None) -> SourceFile:
    from optimlint import notebooks  # start-up time: json and the cell mapping, for notebooks only

    try:
        nb = notebooks.read_notebook(path, raw)
    except notebooks.NotebookError as exc:
        raise SourceError(str(exc)) from None
    return SourceFile(path, nb.text, "utf-8", mode, notebook=nb)


# --------------------------------------------------------------------------- writing
def write_source(src: SourceFile, new_text: str) -> None:
    """Replace ``src.path``'s content with ``new_text`` atomically, keeping its format."""
    data = encode_source(src, new_text)
    target = _write_target(src.path)
    try:
        st = os.stat(target)
    except OSError as exc:
        raise SourceError(f"cannot write the file: {exc.strerror or exc}") from None
    if not os.access(target, os.W_OK):
        # The rename would succeed in a writable directory; a read-only file says "keep out".
        raise SourceError("cannot write the file: Permission denied")
    if src.digest is not None and hash_file(target) != src.digest:
        raise SourceError("the file changed on disk while it was being fixed; not overwritten")
    mode = src.mode if src.mode is not None else stat.S_IMODE(st.st_mode)
    atomic_write(target, data, mode, owner=(st.st_uid, st.st_gid))


def encode_source(src: SourceFile, new_text: str) -> bytes:
    """The bytes of ``src`` holding ``new_text``: its encoding and BOM, or for a notebook
    the JSON with only the changed cells' sources replaced."""
    if src.notebook is not None:
        return src.notebook.render(new_text).encode("utf-8")
    try:
        return new_text.encode(src.encoding)
    except UnicodeEncodeError:
        raise SourceError(f"the fixed text cannot be encoded as {src.encoding}") from None


def _write_target(path: str) -> str:
    """The file to replace: ``path`` itself, or a symlink's target when it stays inside the
    directory tree the link lives in (a fix never writes outside the linted tree)."""
    if not os.path.islink(path):
        return path
    real = os.path.realpath(path)
    roots = {os.path.realpath(os.getcwd()), os.path.realpath(os.path.dirname(os.path.abspath(path)))}
    if not any(real == r or real.startswith(r.rstrip(os.sep) + os.sep) for r in roots):
        raise SourceError(f"refusing to write through a symlink to {real}, outside the linted tree")
    return real
