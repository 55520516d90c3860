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

import io
import os
import stat
import tempfile
import tokenize
from dataclasses import dataclass
from typing import Any


class SourceError(Exception):
    """A file that cannot be read or written; the message is shown to the user."""


@dataclass
class SourceFile:
    path: str
    text: str
    encoding: str = "utf-8"  # "utf-8-sig" when the file starts with a BOM
    mode: int | None = None
    notebook: Any = None  # optimlint.notebooks.Notebook for .ipynb files

    @property
    def bom(self) -> bool:
        return self.encoding == "utf-8-sig"


def read_source(path: str) -> SourceFile:
    raw, mode = _read_bytes(path)
    if path.endswith(".ipynb"):
        return _read_notebook(path, raw, mode)
    if b"\x00" in raw:
        row = raw.count(b"\n", 0, raw.index(b"\x00")) + 1
        raise SourceError(f"source code cannot contain null bytes (first at line {row})")
    encoding = _detect_encoding(raw)
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        row = raw.count(b"\n", 0, exc.start) + 1
        shown = "UTF-8" if encoding in ("utf-8", "utf-8-sig") else encoding
        raise SourceError(
            f"cannot decode the file as {shown}: byte 0x{raw[exc.start]:02x} at line {row} "
            f"(declare the encoding with a `# -*- coding: ... -*-` line)") from None
    return SourceFile(path, text, encoding, mode)


def _read_bytes(path: str) -> tuple[bytes, int]:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise SourceError("no such file") from None
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
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
    except SyntaxError as exc:  # unknown encoding in the cookie, or a BOM that disagrees
        raise SourceError(f"bad encoding declaration: {exc}") from None
    return encoding


def _read_notebook(path: str, raw: bytes, mode: int) -> SourceFile:
    from optimlint import notebooks

    try:
        nb = notebooks.read_notebook(path, raw)
    except notebooks.NotebookError as exc:
        raise SourceError(str(exc)) from None
    return SourceFile(path, nb.text, "utf-8", mode, notebook=nb)


# --------------------------------------------------------------------------- writing
def write_source(src: SourceFile, new_text: str) -> None:
    """Replace ``src.path``'s content with ``new_text`` atomically, keeping its format."""
    if src.notebook is not None:
        data = src.notebook.render(new_text).encode("utf-8")
    else:
        try:
            data = new_text.encode(src.encoding)
        except UnicodeEncodeError:
            raise SourceError(f"the fixed text cannot be encoded as {src.encoding}") from None
    target = _write_target(src.path)
    mode = src.mode
    if mode is None:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    atomic_write(target, data, mode)


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


def atomic_write(target: str, data: bytes, mode: int) -> None:
    directory = os.path.dirname(os.path.abspath(target))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(target)}.",
                               suffix=".optimlint-tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
