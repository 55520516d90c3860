"""Re-parsing an edited document without re-parsing all of it (the language server's part of
"reuse what does not change between edits").

LibCST's parse is about a third of a lint. An edit touches one place; the module-level
statements around it are re-parsed, and every other statement of the previous tree is
reused as it is (LibCST nodes are immutable values). The result is the tree a full parse of
the new text gives (``tests/test_server_parse.py`` compares the two with ``deep_equals`` over
random edits), or None when that cannot be shown cheaply, and the engine parses in full:

- the statements overlapping the edited span, and one more on each side (an ``else:`` or
  a decorator joins its neighbour), are parsed as a text of their own, which must parse;
- that text starts and ends at statement boundaries of the old text, and the text outside it
  is unchanged, so the tokenizer is at the top level on both sides of it in the new text too;
- blank and comment lines before the first re-parsed statement are its ``leading_lines``, as
  LibCST attaches them (the module's ``header`` when it is the first statement);
- the re-parsed statements must generate exactly their text under the module's indentation
  and newline, else None; and the edit comes after what LibCST reads those from (the first
  line ending, the first indented block), so a full parse would detect the same ones.
"""

from __future__ import annotations

import re

import libcst as cst

_BLOCK = 4096
_NEWLINE = re.compile(r"\r\n?|\n")
_NEWLINE_KEPT = re.compile(r"[^\r\n]*(?:\r\n?|\n)")  # each line with its ending
_FLUSH_LEFT = re.compile(r"(?:#[^\r\n]*)?(?:\r\n?|\n)")  # an empty line, or a comment at column 0


def _common_prefix(a: str, b: str) -> int:
    """The length of the longest common prefix of ``a`` and ``b``: whole blocks compared
    first, then the differing block halved (slice comparisons run in C; a character loop
    over a block cost more than the rest of the incremental parse)."""
    n = min(len(a), len(b))
    lo = 0
    while lo < n and a[lo:lo + _BLOCK] == b[lo:lo + _BLOCK]:
        lo += _BLOCK
    hi = min(n, lo + _BLOCK)  # a[:lo] == b[:lo]; they differ before hi, or hi == n
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid
    if lo < n and a[lo] == b[lo]:
        lo += 1
    return lo


def _common_suffix(a: str, b: str, limit: int) -> int:
    """The length of the longest common suffix of ``a`` and ``b``, at most ``limit``."""
    n = min(len(a), len(b), limit)
    la, lb = len(a), len(b)
    k = 0
    while k < n:
        step = min(_BLOCK, n - k)
        if a[la - k - step:la - k] == b[lb - k - step:lb - k]:
            k += step
            continue
        hi = k + step  # the last k match; somewhere before k + step they differ
        while hi - k > 1:
            mid = (k + hi) // 2
            if a[la - mid:la - k] == b[lb - mid:lb - k]:
                k = mid
            else:
                hi = mid
        if a[la - 1 - k] == b[lb - 1 - k]:
            k += 1
        return k
    return k


class IncrementalParser:
    """One document's last text, its module, and where each module-level statement is."""

    def __init__(self) -> None:
        self.text: str | None = None
        self.module: cst.Module | None = None
        self.spans: list[tuple[int, int]] = []  # [start, end) of each statement of module.body
        self.partial = 0  # how many parses reused the previous tree
        self.alone = 0  # how many of those re-parsed the edited statements without a neighbour
        # An edit before this offset may change what LibCST detects for the whole module
        # (its newline, its indentation): such an edit is parsed in full.
        self.stable_from = 0

    def parse(self, text: str) -> cst.Module | None:
        """The module of ``text``; None when it does not parse (the engine reports why)."""
        if self.module is not None and self.text is not None:
            if text == self.text:
                return self.module
            module = self._splice(text)
            if module is not None:
                return module
        return self._parse_all(text)

    def _parse_all(self, text: str) -> cst.Module | None:
        self.text, self.module, self.spans = None, None, []
        try:
            module = cst.parse_module(text)
        except Exception:  # a syntax error, or worse: the engine's parse says what
            return None
        start = sum(len(module.code_for_node(line)) for line in module.header)
        spans = _spans(module, text, start, module.body)
        if spans:  # else no splicing: the next edit parses in full again
            self.text, self.module, self.spans = text, module, spans
            newline = _NEWLINE.search(text)
            block = next((end for stmt, (_, end) in zip(module.body, spans)
                          if isinstance(getattr(stmt, "body", None), cst.IndentedBlock)), len(text) + 1)
            self.stable_from = max(newline.end() if newline else len(text) + 1, block)
        return module

    def _splice(self, text: str) -> cst.Module | None:
        old, spans = self.text, self.spans
        prefix = _common_prefix(old, text)
        suffix = _common_suffix(old, text, min(len(old), len(text)) - prefix)
        edit_start, edit_end = prefix, len(old) - suffix  # the replaced span of the old text
        if edit_start < max(spans[0][0], self.stable_from) or edit_end > spans[-1][1]:
            return None  # the module's header, footer, newline or indentation may change
        first = next(i for i, (_, end) in enumerate(spans) if end >= edit_start)
        touched = max(i for i, (start, _) in enumerate(spans) if start <= edit_end)
        return self._alone(text, first, touched) or self._with_neighbours(text, first, touched)

    def _alone(self, text: str, first: int, touched: int) -> cst.Module | None:
        """The touched statements re-parsed without their neighbours, where that provably
        gives what a full parse gives (else None):

        - they parse alone into simple statements (one line of code each: ``x = 1``,
          ``import os``) with no comment lines after them, so they cannot take lines from
          the statement that follows (only an indented block owns the indented comment lines
          after it), nor can that statement join them (``else:`` joins a compound one);
        - the statement before them is a simple statement, or their leading lines are
          empty or comments at column 0: an indented block before them owns exactly the
          lines after it up to the last indented one, and none of theirs is indented (so
          the statement before keeps the text it had, the one its old object generates).

        Re-parsing a neighbour is most of a small edit's cost: the neighbour of a
        module-level assignment is usually a whole function."""
        module, spans = self.module, self.spans
        delta = len(text) - len(self.text)
        start, end = spans[first][0], spans[touched][1] + delta
        chunk = text[start:end]
        try:
            part = cst.parse_module(chunk)
        except Exception:
            return None
        if not part.body or part.footer or not all(type(s) is cst.SimpleStatementLine for s in part.body):
            return None
        body = list(part.body)
        if part.header:
            if first == 0:
                return None  # lines before the module's first statement: its header
            body[0] = body[0].with_changes(leading_lines=(*part.header, *body[0].leading_lines))
        if first > 0 and type(module.body[first - 1]) is not cst.SimpleStatementLine:
            lead = sum(len(part.code_for_node(line)) for line in body[0].leading_lines)
            if not all(_FLUSH_LEFT.fullmatch(line) for line in _NEWLINE_KEPT.findall(chunk[:lead])):
                return None
        if touched == len(spans) - 1 and part.has_trailing_newline != module.has_trailing_newline:
            return None
        new = self._commit(text, first, touched, touched, body, module.footer, start, end)
        self.alone += new is not None
        return new

    def _with_neighbours(self, text: str, first: int, touched: int) -> cst.Module | None:
        """The touched statements re-parsed with one more statement on each side (an
        ``else:`` or a decorator joins its neighbour)."""
        module, spans = self.module, self.spans
        first, last = max(0, first - 1), min(len(spans) - 1, touched + 1)
        delta = len(text) - len(self.text)
        part = None
        while part is None or (part.footer and last < len(spans) - 1 and last - touched < 3):
            if part is not None:
                last += 1  # comment lines ending the chunk: see whether the next statement takes them
            start, end = spans[first][0], spans[last][1] + delta
            try:
                part = cst.parse_module(text[start:end])
            except Exception:
                return None
        if not part.body:
            return None
        body = list(part.body)
        footer = module.footer
        if part.footer:
            if last == len(spans) - 1:
                footer = (*part.footer, *module.footer)  # they end the module, as its footer
                end -= sum(len(module.code_for_node(line)) for line in part.footer)
            elif last > touched and type(body[-1]) is type(module.body[last]):
                # Comment lines ending the block of the last statement, which the edit did not
                # touch: alone, LibCST gives them to the module; the old node holds them, as a
                # full parse does (the text check below confirms it).
                body[-1] = module.body[last]
            else:
                return None
        if part.header:
            if first == 0:
                return None  # lines before the module's first statement: its header
            body[0] = body[0].with_changes(leading_lines=(*part.header, *body[0].leading_lines))
        if last == len(spans) - 1 and part.has_trailing_newline != module.has_trailing_newline:
            return None
        return self._commit(text, first, last, touched, body, footer, start, end)

    def _commit(self, text: str, first: int, last: int, touched: int, body: list, footer, start: int,
                end: int) -> cst.Module | None:
        """The module with statements ``first..last`` replaced by ``body`` (re-parsed from
        ``text[start:end]``), kept for the next edit once each re-parsed statement is shown to
        generate exactly its text; None when one does not."""
        old, module, spans = self.text, self.module, self.spans
        delta = len(text) - len(old)
        new = module.with_changes(body=(*module.body[:first], *body, *module.body[last + 1:]), footer=footer)
        new_spans = _spans(new, text, start, body)
        if new_spans is None or new_spans[-1][1] != end:
            return None
        kept = _kept(body, new_spans, text, module.body[first:last + 1], spans[first:last + 1], old)
        if kept != body:
            body = kept
            new = new.with_changes(body=(*module.body[:first], *body, *module.body[last + 1:]))
        self.text, self.module = text, new
        self.partial += 1
        self.spans = [*spans[:first], *new_spans, *((s + delta, e + delta) for s, e in spans[last + 1:])]
        return new


def _kept(body: list, new_spans, text: str, old_body, old_spans, old: str) -> list:
    """``body`` with each re-parsed statement whose text is the text of the old statement in
    its place (counted from either end of the re-parsed chunk) replaced by that old statement:
    the same text parses to an equal tree under the same module (its indentation and newline
    are kept), and an unchanged object lets what is kept per statement object (positions,
    ``analysis.positions``) be reused."""
    out = list(body)
    n = min(len(body), len(old_body))

    def same(j: int, o: int) -> bool:
        (a, b), (c, d) = new_spans[j], old_spans[o]
        return b - a == d - c and text[a:b] == old[c:d] and type(body[j]) is type(old_body[o])

    head = 0
    while head < n and same(head, head):
        out[head] = old_body[head]
        head += 1
    tail = 1
    while tail <= n - head and same(len(body) - tail, len(old_body) - tail):
        out[len(body) - tail] = old_body[len(old_body) - tail]
        tail += 1
    return out


def _spans(module: cst.Module, text: str, start: int, statements) -> list[tuple[int, int]] | None:
    """``[start, end)`` of each of ``statements`` (consecutive in ``text`` from offset
    ``start``), each checked to be exactly the text it generates under ``module``'s
    indentation and newline; None when one is not."""
    out = []
    for stmt in statements:
        code = module.code_for_node(stmt)
        if not text.startswith(code, start):
            return None
        out.append((start, start + len(code)))
        start += len(code)
    return out or None
