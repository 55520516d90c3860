"""The language server's partial re-parse gives exactly the tree a full parse gives, edit
after edit, and the same findings; where it cannot tell, it parses in full."""

from __future__ import annotations

import random
from pathlib import Path

import libcst as cst
import pytest

from optimlint.config import Settings
from optimlint.lint import lint_source
from optimlint.server_parse import IncrementalParser, _common_prefix

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [(ROOT / "fixtures" / name).read_text() for name in ("train_loop.py", "keras_port.py", "param_groups.py")]
# what users type, including what joins or splits statements and what breaks the parse
SNIPPETS = ["x", "1", " ", "\n", "\n\n", "# note\n", "else:\n    pass\n", "@decorator\n", "def g():\n    return 1\n",
            "(", ")", '"""', "'", "    ", "\t", "if True:\n", "class C:\n    x = 1\n", ":", "import os\n",
            "lr=1e-3, "]


def full_parse(text: str) -> cst.Module | None:
    try:
        return cst.parse_module(text)
    except Exception:
        return None


def random_edit(rng: random.Random, text: str) -> str:
    at = rng.randrange(len(text) + 1)
    if rng.random() < 0.3 and text:
        end = min(len(text), at + rng.randrange(1, 40))
        return text[:at] + text[end:]
    if rng.random() < 0.5:  # at the start of a line, where statements begin
        at = text.rfind("\n", 0, at) + 1
    return text[:at] + rng.choice(SNIPPETS) + text[at:]


@pytest.mark.parametrize("seed", range(4))
def test_every_reparse_equals_a_full_parse(seed):
    rng = random.Random(seed)
    text = SOURCES[seed % len(SOURCES)]
    parser = IncrementalParser()
    spliced = in_reach_count = 0
    for _ in range(200):
        candidate = random_edit(rng, text)
        full = full_parse(candidate)
        if full is None and rng.random() < 0.9:
            continue  # mostly keep to valid texts; sometimes a broken one, which the next edit mends
        before = parser.partial
        # an edit after the module's first block, where the partial path applies
        in_reach = parser.module is not None and _common_prefix(text, candidate) >= parser.stable_from
        got = parser.parse(candidate)
        if full is None:
            assert got is None
            continue
        text = candidate
        assert got is not None and got.deep_equals(full), "the partial re-parse differs from a full parse"
        assert got.code == full.code
        spliced += parser.partial - before
        in_reach_count += in_reach
    # the partial path is the usual one where it applies (not only full parses were compared)
    assert in_reach_count >= 15 and spliced >= 0.8 * in_reach_count


def test_the_findings_are_the_same(tmp_path):
    rng = random.Random(7)
    text = SOURCES[0]
    parser = IncrementalParser()
    settings = Settings()
    for _ in range(40):
        candidate = random_edit(rng, text)
        if full_parse(candidate) is None:
            continue
        text = candidate
        assert lint_source("train.py", text, settings, parse=parser.parse) == lint_source("train.py", text, settings)


def test_unchanged_statements_are_reused():
    text = SOURCES[0]
    parser = IncrementalParser()
    before = parser.parse(text)
    at = text.index("def ", len(text) // 2)  # a function in the second half: edit its name
    after = parser.parse(text[:at + 4] + "x" + text[at + 4:])
    changed = [a is not b for a, b in zip(before.body, after.body)]
    assert 1 <= sum(changed) <= 3  # the edited statement and, at most, its two neighbours
    assert after.deep_equals(cst.parse_module(text[:at + 4] + "x" + text[at + 4:]))


def test_re_parsed_neighbours_whose_text_is_unchanged_are_the_old_statements():
    text = SOURCES[0]
    parser = IncrementalParser()
    before = parser.parse(text)
    at = text.index("def ", len(text) // 2)
    edited = text[:at + 4] + "x" + text[at + 4:]
    after = parser.parse(edited)
    changed = [i for i, (a, b) in enumerate(zip(before.body, after.body)) if a is not b]
    full = cst.parse_module(edited)
    assert len(changed) == 1 and not before.body[changed[0]].deep_equals(full.body[changed[0]])
    assert after.deep_equals(full)


def test_a_syntax_error_gives_none_and_the_next_text_parses_in_full():
    parser = IncrementalParser()
    assert parser.parse("x = 1\n") is not None
    assert parser.parse("x = (\n") is None
    assert parser.parse("x = 2\n").deep_equals(cst.parse_module("x = 2\n"))


def test_a_text_libcst_does_not_round_trip_is_parsed_in_full():
    """A backslash continuation on a line of its own: LibCST's tree generates other text, so
    no span can be trusted; every edit of it parses in full (and still gives LibCST's tree)."""
    text = "def f():\n    return 1\n\\\n    x = 2\n"
    parser = IncrementalParser()
    got = parser.parse(text)
    assert got is not None and got.code != text and parser.module is None
    edited = text.replace("1", "3")
    assert parser.parse(edited).deep_equals(cst.parse_module(edited)) and parser.partial == 0


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_other_line_endings(newline):
    text = SOURCES[0].replace("\n", newline)
    parser = IncrementalParser()
    parser.parse(text)
    at = text.rindex("optimizer.step()")  # a statement in the last function, after its indentation
    indent = " " * (at - text.rindex(newline, 0, at) - len(newline))
    for snippet in (f"# note{newline}{indent}", f"y = 1{newline}{indent}"):
        text = text[:at] + snippet + text[at:]
        assert parser.parse(text).deep_equals(full_parse(text))
    assert parser.partial == 2
    # a line ending of another kind inserted into the file: still the tree of a full parse
    text = text.replace(f"# note{newline}", "# note\n")
    assert parser.parse(text).deep_equals(full_parse(text))


# Module-level statements of every kind a neighbour can be: simple ones, a function whose
# block ends with an indented comment, one-line compound statements, a loop with an else, a
# decorated function, comments at column 0 and at odd indentations.
MODULE_LEVEL = '''import os
x = 1

def f():
    return 1
    # the end of f

# a comment at column 0
y = 2
if x: pass
z = 3
class C:
    a = 1
  # at an odd indentation

w = 4
for i in range(3):
    pass
else:
    pass
v = 5
@decorator
def g():
    pass
u = 6
'''
MODULE_SNIPPETS = ["x", "1", " ", "\n", "# note\n", "    # indented\n", "   \n", "  # two\n", "else:\n    pass\n",
                   "elif x:\n    pass\n", "except E:\n    pass\n", "finally:\n    pass\n", "@decorator\n",
                   "def h():\n    return 1\n", "q = 1\n", "if a: pass\n", "(", ")", ":", "    ", "y = 2; z = 3\n",
                   "if True:\n", "    r = 1\n", "#", "\n\n"]


@pytest.mark.parametrize("seed", range(3))
def test_statements_re_parsed_alone_equal_a_full_parse(seed):
    """Edits among module-level statements, where the edited statements are re-parsed
    without their neighbours when nothing can join them: still the tree of a full parse."""
    rng = random.Random(seed)
    text = MODULE_LEVEL * 3
    parser = IncrementalParser()
    for _ in range(150):
        at = rng.randrange(len(text) + 1)
        if rng.random() < 0.25:
            candidate = text[:at] + text[min(len(text), at + rng.randrange(1, 12)):]
        else:
            if rng.random() < 0.6:
                at = text.rfind("\n", 0, at) + 1
            candidate = text[:at] + rng.choice(MODULE_SNIPPETS) + text[at:]
        full = full_parse(candidate)
        if full is None:
            continue
        text = candidate
        got = parser.parse(candidate)
        assert got is not None and got.deep_equals(full) and got.code == full.code
    assert parser.alone >= 3  # the path was taken, not only declined


def test_a_retyped_assignment_between_functions_is_re_parsed_alone():
    """The usual edit between two functions re-parses that one line: both functions stay the
    old objects, and the tree is a full parse's."""
    text = SOURCES[0]
    at = text.index("\ndef ", len(text) // 2) + 1
    text = text[:at] + "tuning = 1\n\n\n" + text[at:]
    parser = IncrementalParser()
    before = parser.parse(text)
    edited = text.replace("tuning = 1", "tuning = 2")
    after = parser.parse(edited)
    assert parser.alone == 1 and after.deep_equals(cst.parse_module(edited))
    changed = [i for i, (a, b) in enumerate(zip(before.body, after.body)) if a is not b]
    assert len(changed) == 1 and isinstance(after.body[changed[0]], cst.SimpleStatementLine)


@pytest.mark.parametrize("anchor, inserted", [("tuning", "    # indented\n"), ("tuning", "   \n"),
                                               ("tuning", "if tuning:\n    pass\n"), ("\n\ndef g", "\n# after")])
def test_what_a_neighbour_could_take_is_re_parsed_with_it(anchor, inserted):
    """An indented comment or blank line after a function belongs to the function's block; a
    compound statement or trailing comments may take the lines after them: the edited
    statement is then re-parsed with its neighbours, and the tree is still a full parse's."""
    text = "import os\n\n\ndef f():\n    return 1\n\n\ntuning = 1\n\n\ndef g():\n    return 2\n    # end of g\n"
    parser = IncrementalParser()
    parser.parse(text)
    at = text.index(anchor)
    edited = text[:at] + inserted + text[at:]
    got = parser.parse(edited)
    assert got.deep_equals(cst.parse_module(edited)) and got.code == edited
    assert parser.alone == 0 and parser.partial == 1


@pytest.fixture
def previous_index_kept():
    """As in the language server: each module's walk index reuses the last one's statements."""
    from optimlint.analysis import walk

    walk.keep_previous_index()
    yield walk
    walk.keep_previous_index(False)


def _fresh_index(walk, module):
    """The index of ``module`` built from nothing (no previous index to reuse)."""
    kept, walk._LAST[0] = walk._LAST[0], None
    try:
        return walk.Index(module)
    finally:
        walk._LAST[0] = kept


@pytest.mark.parametrize("seed", range(3))
def test_an_index_reusing_the_last_ones_statements_equals_one_built_anew(previous_index_kept, seed):
    """Random edits through the incremental parse: each module's index, which copies the parts
    of the statements the previous tree also held, is the index a walk of the whole tree
    builds (the same node objects in the same order, parents, subtree ends, node types), and
    the findings are a lint from scratch's."""
    walk = previous_index_kept
    rng = random.Random(100 + seed)
    text = SOURCES[seed % len(SOURCES)]
    parser = IncrementalParser()
    settings = Settings()
    reused = 0
    for step in range(60):
        candidate = random_edit(rng, text)
        if full_parse(candidate) is None:
            continue
        text = candidate
        module = parser.parse(text)
        last = walk._LAST[0]
        shared = sum(1 for s in module.body if last is not None and id(s) in walk._top_level(last))
        got = walk.Index(module)
        fresh = _fresh_index(walk, module)
        assert got.usable and fresh.usable
        assert len(got.nodes) == len(fresh.nodes) and all(a is b for a, b in zip(got.nodes, fresh.nodes))
        assert (got.parent, got.end, got.by_name, got.pos) == (fresh.parent, fresh.end, fresh.by_name, fresh.pos)
        assert walk._LAST[0] is got
        reused += shared
        if step % 6 == 0:  # and the lint through it (the context's index reuses the last one)
            expected = lint_source("train.py", text, settings)  # (its index is not the one kept)
            assert lint_source("train.py", text, settings, parse=parser.parse) == expected
    assert reused >= 15  # statements came from the previous index (the path was taken)


def test_the_previous_index_is_kept_only_when_asked():
    from optimlint.analysis import walk

    walk.Index(cst.parse_module("x = 1\n"))
    assert walk._LAST[0] is None  # a command-line lint does not keep a finished file's tree
