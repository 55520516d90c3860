"""SHA-256 of bytes and files: the content keys of the results cache and of fix writes.

SHA-256 comes from one of two implementations with the same digests: CPython's own
(``_sha2``/``_sha256``, loaded in microseconds) while little has been hashed, OpenSSL's
(``hashlib``: ~3 ms to load libcrypto, ~5x faster per byte) once a run hashes more than
``_BULK`` bytes. A pre-commit run over a few files never loads OpenSSL; a warm run over
a whole repository hashes at OpenSSL's speed.
"""

from __future__ import annotations

_BULK = 1 << 20
_hashed = 0
_small_sha256 = None


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of ``data``, in hex."""
    global _hashed, _small_sha256
    _hashed += len(data)
    if _hashed <= _BULK:
        if _small_sha256 is None:
            _small_sha256 = _builtin_sha256() or False
        if _small_sha256:
            return _small_sha256(data).hexdigest()
    import hashlib  # OpenSSL: only once a run hashes enough to pay for loading it (see above)

    return hashlib.sha256(data).hexdigest()


def _builtin_sha256():
    for module in ("_sha2", "_sha256"):  # the name since Python 3.12, and before
        try:
            return __import__(module).sha256
        except (ImportError, AttributeError):
            continue
    return None


def hash_file(path: str) -> str | None:
    """The SHA-256 of the file at ``path``; None when it cannot be read."""
    try:
        with open(path, "rb") as fh:
            return sha256_hex(fh.read())
    except OSError:
        return None
