"""The cyclic garbage collector around each file's lint: off while the file is linted, one
collection of the young generations after it.

LibCST's tree of a file and the analyses' records are millions of objects that reference
counting frees when the lint ends (``FileContext.release`` drops what refers back to the
context, and the visitors that held parts of the tree are classes of their modules: a class
made per call is cyclic, and its methods' closures kept what they read for the collector;
``tests/test_parse_and_collect.py`` holds that). What cycles remain are the analyses' own
(and a few such classes still made per call, which hold small subtrees). Left to run on its own (``engine`` raises its threshold to
50,000 allocations), the collector ran ~50 times over 346 training files, each time walking
the live tree and finding nothing. One collection of generations 0 and 1 after each file
walks only what the file left behind (0.14 s over those files, serial), and a full
collection every ``FULL_EVERY`` files frees the cycles that lived long enough to be
promoted (every 100 files it found 8,473 objects in all, for 0.18 s). A big file linted in
pieces (``optimlint.pieces``) has its young generations collected after each piece as well:
waiting for the end of the file would keep every piece's cycles (a 100k-line file peaked at
515 MB instead of 294 MB).
"""

from __future__ import annotations

import gc
from contextlib import contextmanager

FULL_EVERY = 1000
_linted = [0]


def piece_done() -> None:
    """A piece of a big file is linted and dropped: its cycles go now."""
    gc.collect(1)


@contextmanager
def one_file():
    """Lint one file under this: the collector's policy above. A caller that turned the
    collector off (a profiler, a host application) keeps it off, and collects itself."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        _linted[0] += 1
        gc.collect(2 if _linted[0] % FULL_EVERY == 0 else 1)
        gc.enable()
