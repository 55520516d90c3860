"""Which files to lint: walk the given paths, honour ``.gitignore`` and the excludes.

Semantics (Ruff's, so users need not learn new ones):

- directories are walked for ``.py``, ``.pyi`` and ``.ipynb`` files;
- a directory or file matched by a default exclude (``.git``, ``.venv``, ``build`` ...),
  by ``exclude`` / ``extend-exclude`` from the config, or by a ``.gitignore`` (nested ones
  included, ``!`` negation, ``dir/``-only patterns, ``**``) is skipped;
- a path given explicitly on the command line is linted even if it is excluded, unless
  ``force_exclude`` (what the pre-commit hook passes, since pre-commit names every file);
- a path that does not exist is a *problem*, returned separately so the engine can
  report it while still linting everything else.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from optimlint.config import Settings

LINTABLE_SUFFIXES = (".py", ".pyi", ".ipynb")

DEFAULT_EXCLUDES = (
    ".bzr", ".direnv", ".eggs", ".git", ".git-rewrite", ".hg", ".ipynb_checkpoints",
    ".mypy_cache", ".nox", ".optimlint_cache", ".pants.d", ".pyenv", ".pytest_cache",
    ".pytype", ".ruff_cache", ".svn", ".tox", ".venv", ".vscode", "__pypackages__",
    "__pycache__", "_build", "buck-out", "build", "dist", "node_modules", "site-packages",
    "venv",
)


# --------------------------------------------------------------------------- patterns
@lru_cache(maxsize=4096)
def _glob_to_regex(glob: str) -> str:
    """Translate a gitignore-style glob (no leading ``/``) into a regex body.

    ``*`` and ``?`` never cross ``/``; ``**`` as a whole component matches any number of
    directories; ``[...]`` is a character class (``[!...]`` negated).
    """
    out: list[str] = []
    i, n = 0, len(glob)
    while i < n:
        c = glob[i]
        if c == "*":
            if glob.startswith("**", i):
                at_start = i == 0 or glob[i - 1] == "/"
                j = i + 2
                if at_start and j < n and glob[j] == "/":
                    out.append("(?:.*/)?")  # "**/": zero or more directories
                    i = j + 1
                    continue
                if at_start and j == n:
                    out.append(".*")  # trailing "/**": everything inside
                    i = j
                    continue
                out.append("[^/]*")
                i = j
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = glob.find("]", i + 2 if glob[i + 1:i + 2] in ("!", "^", "]") else i + 1)
            if j == -1:
                out.append(re.escape(c))
            else:
                body = glob[i + 1:j]
                if body[:1] in ("!", "^"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = j
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(glob[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


_GLOB_CHARS = frozenset("*?[\\")


class Pattern:
    """One gitignore line, compiled. ``base`` is the directory it is relative to.

    The common shapes are matched by comparing strings: a name or path without glob
    characters (every default exclude: ``.git``, ``build`` ...), and, without ``/``,
    ``*SUFFIX`` (``*.egg-info``) and ``PREFIX*`` (``.coverage.*``); the others by a regex,
    compiled on first use. Compiling the regexes of the default excludes and a typical
    ``.gitignore`` cost more than the rest of a clean file's run.
    """

    __slots__ = ("negated", "dir_only", "text", "_body", "_literal", "_shape", "_regex")

    def __init__(self, body: str, negated: bool, dir_only: bool, text: str,
                 literal: str | None = None, shape: str | None = None) -> None:
        self.negated = negated
        self.dir_only = dir_only
        self.text = text
        self._body = body  # the regex, matched against the whole relative path
        # Or, when ``shape`` is set, the string that ``rel`` ("path", anchored) or its last
        # component ("name", "suffix", "prefix") must equal, end with or start with.
        self._literal = literal
        self._shape = shape
        self._regex = None

    def __repr__(self) -> str:
        return f"Pattern({self.text!r})"

    @property
    def regex(self) -> re.Pattern:
        if self._regex is None:
            self._regex = re.compile(self._body + r"\Z", re.S)
        return self._regex

    @classmethod
    def parse(cls, line: str) -> "Pattern | None":
        text = line.rstrip("\n").rstrip("\r")
        # Trailing spaces are ignored unless escaped with a backslash.
        stripped = text.rstrip(" ")
        if stripped.endswith("\\") and len(stripped) < len(text):
            stripped += " "
        text = stripped
        if not text or text.startswith("#"):
            return None
        negated = False
        if text.startswith("!"):
            negated, text = True, text[1:]
        elif text.startswith(("\\!", "\\#")):
            text = text[1:]
        dir_only = text.endswith("/")
        text = text.rstrip("/")
        if not text:
            return None
        anchored = "/" in text
        text = text.lstrip("/")
        body = _glob_to_regex(text)
        if not anchored:
            body = "(?:.*/)?" + body  # matches at any depth below the base
        literal, shape = None, None
        if not _GLOB_CHARS.intersection(text):
            literal, shape = text, ("path" if anchored else "name")
        elif not anchored and len(text) > 1:  # one component: the regex matches the last one
            if text[0] == "*" and not _GLOB_CHARS.intersection(text[1:]):
                literal, shape = text[1:], "suffix"
            elif text[-1] == "*" and not _GLOB_CHARS.intersection(text[:-1]):
                literal, shape = text[:-1], "prefix"
        return cls(body, negated, dir_only, line.strip(), literal, shape)

    def matches(self, rel: str, is_dir: bool) -> bool:
        if self.dir_only and not is_dir:
            return False
        shape = self._shape
        if shape is None:
            return self.regex.match(rel) is not None
        # What the regex would match, without compiling it.
        if shape == "path":
            return rel == self._literal
        name = rel[rel.rfind("/") + 1:]
        if shape == "name":
            return name == self._literal
        return name.endswith(self._literal) if shape == "suffix" else name.startswith(self._literal)


class IgnoreFile:
    """The patterns of one ``.gitignore`` (or an exclude list), relative to ``base``."""

    __slots__ = ("base", "patterns")

    def __init__(self, base: str, patterns: list[Pattern] | None = None) -> None:
        self.base = base  # absolute, normalised directory
        self.patterns = [] if patterns is None else patterns

    def __repr__(self) -> str:
        return f"IgnoreFile(base={self.base!r}, patterns={self.patterns!r})"

    @classmethod
    def from_lines(cls, base: str, lines) -> "IgnoreFile":
        pats = [p for p in (Pattern.parse(line) for line in lines) if p is not None]
        return cls(base, pats)

    def verdict(self, path: str, is_dir: bool) -> bool | None:
        """True (ignored), False (re-included by ``!``) or None (no pattern matched)."""
        if not self.patterns:
            return None
        rel = os.path.relpath(path, self.base).replace(os.sep, "/")
        outside = rel == ".." or rel.startswith("../")
        for pat in reversed(self.patterns):  # the last matching pattern wins
            # A path outside the base only by a pattern that climbs out of it: ``../gen``,
            # an exclude an extended config wrote for its own folder (``config.rebased_excludes``).
            if (not outside or pat.text.lstrip("!").startswith("../")) and pat.matches(rel, is_dir):
                return not pat.negated
        return None


def read_gitignore(directory: str) -> IgnoreFile | None:
    path = os.path.join(directory, ".gitignore")
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return IgnoreFile.from_lines(directory, fh.read().splitlines())
    except OSError:
        return None


# --------------------------------------------------------------------------- matcher
class Excluder:
    """Decides whether a path is excluded: default excludes, config excludes, gitignores."""

    def __init__(self, settings: "Settings | None", root: str) -> None:
        self.root = os.path.abspath(root)
        excludes = list(DEFAULT_EXCLUDES)
        if settings is not None and settings.exclude:
            excludes = list(settings.exclude)
        if settings is not None:
            excludes += list(settings.extend_exclude)
        self.excludes = IgnoreFile.from_lines(self.root, excludes)
        self.respect_gitignore = True if settings is None else getattr(settings, "respect_gitignore", True)
        self._gitignores: dict[str, IgnoreFile | None] = {}
        self._chains: dict[str, list[IgnoreFile]] = {}

    def _gitignore(self, directory: str) -> IgnoreFile | None:
        if directory not in self._gitignores:
            self._gitignores[directory] = read_gitignore(directory)
        return self._gitignores[directory]

    def _gitignore_chain(self, directory: str) -> list[IgnoreFile]:
        """``.gitignore`` files that govern entries of ``directory``, outermost first.

        Inside a git repository the chain climbs to the repository root (the first
        ancestor holding ``.git``), so ``optimlint check sub/dir`` honours the top-level
        ``.gitignore``; outside one it climbs no higher than the project root.
        """
        if directory in self._chains:
            return self._chains[directory]
        in_repo = _repo_above(directory)
        chain: list[IgnoreFile] = []
        current = directory
        while True:
            gi = self._gitignore(current)
            if gi is not None:
                chain.append(gi)
            if in_repo and os.path.exists(os.path.join(current, ".git")):
                break
            if not in_repo and (current == self.root or not _is_within(current, self.root)):
                break
            parent = os.path.dirname(current)
            if parent == current:
                break
            current = parent
        chain.reverse()
        self._chains[directory] = chain
        return chain

    def excluded_name(self, path: str, is_dir: bool) -> bool:
        """Excluded by the default / configured exclude patterns."""
        verdict = self.excludes.verdict(path, is_dir)
        if verdict is None and not _is_within(path, self.root):
            # A pattern without "/" applies to a path outside the root too.
            name = os.path.basename(path)
            for pat in reversed(self.excludes.patterns):
                if pat.matches(name, is_dir):
                    return not pat.negated
        return bool(verdict)

    def gitignored(self, path: str, is_dir: bool) -> bool:
        if not self.respect_gitignore:
            return False
        verdict = None
        for gi in self._gitignore_chain(os.path.dirname(path)):  # innermost last: wins
            v = gi.verdict(path, is_dir)
            if v is not None:
                verdict = v
        return bool(verdict)

    def excluded(self, path: str, is_dir: bool) -> bool:
        return self.excluded_name(path, is_dir) or self.gitignored(path, is_dir)

    def excluded_with_ancestors(self, path: str, is_dir: bool) -> bool:
        """For ``--force-exclude``: the path or any directory above it (up to the root) excluded."""
        if self.excluded(path, is_dir):
            return True
        current = os.path.dirname(path)
        stop = self.root if _is_within(path, self.root) else os.path.dirname(current)
        while _is_within(current, stop) and current != stop:
            if self.excluded(current, True):
                return True
            current = os.path.dirname(current)
        return False


def _is_within(path: str, root: str) -> bool:
    try:
        return os.path.commonpath([path, root]) == root
    except ValueError:
        return False


@lru_cache(maxsize=256)
def _repo_above(directory: str) -> bool:
    current = directory
    while True:
        if os.path.exists(os.path.join(current, ".git")):
            return True
        parent = os.path.dirname(current)
        if parent == current:
            return False
        current = parent


# --------------------------------------------------------------------------- discovery
class Problem:
    """A path given on the command line that cannot be linted, and why."""

    __slots__ = ("path", "message")

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message

    def __repr__(self) -> str:
        return f"Problem(path={self.path!r}, message={self.message!r})"

    def __eq__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        return (self.path, self.message) == (other.path, other.message)

    __hash__ = None  # mutable, like the dataclass it replaces


def discover(paths, settings: "Settings | None" = None, force_exclude: bool = False,
             root: str | None = None) -> tuple[list[str], list[Problem]]:
    """The files to lint under ``paths`` (sorted, de-duplicated) and the problems met.

    Returned paths keep the spelling the user gave (``src/a.py``, not absolute), joined
    with what the walk found below them.
    """
    excluder_for = _excluders(settings, root)
    files: list[str] = []
    problems: list[Problem] = []
    seen: set[str] = set()

    def add(path: str) -> None:
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            files.append(path)

    for given in paths or (".",):
        given_str = os.fspath(given)
        absolute = os.path.abspath(given_str)
        if not os.path.exists(absolute):
            problems.append(Problem(given_str, "No such file or directory"))
            continue
        is_dir = os.path.isdir(absolute)
        excluder = excluder_for(absolute if is_dir else os.path.dirname(absolute))
        if force_exclude and excluder.excluded_with_ancestors(absolute, is_dir):
            continue
        if not is_dir:
            add(given_str)
            continue
        for found in _walk(given_str, excluder_for):
            add(found)
    files.sort(key=path_parts)
    return files, problems


def path_parts(path: str) -> tuple[str, ...]:
    """``pathlib.Path(path).parts`` (the order files are listed in), without importing pathlib
    on POSIX."""
    if os.sep != "/" or os.altsep:  # Windows: drives, UNC, both separators
        from pathlib import Path

        return Path(path).parts
    rest = path.lstrip("/")
    leading = len(path) - len(rest)
    root = () if not leading else ("//",) if leading == 2 else ("/",)  # POSIX: "//" is special
    return root + tuple(part for part in rest.split("/") if part and part != ".")


def _excluders(settings, root: str | None):
    """``excluder_for(folder)``: the Excluder deciding the entries of ``folder``.

    ``settings`` is one Settings (or None) for every folder, or an
    ``optimlint.hierarchy.Hierarchy``: then each folder's nearest config decides which of
    its entries are excluded, relative to that config's folder, as Ruff does."""
    if settings is not None and hasattr(settings, "for_path") and settings.fixed is not None:
        settings = settings.fixed
    if settings is None or not hasattr(settings, "for_path"):
        single = Excluder(settings, root or getattr(settings, "root", None) or os.getcwd())
        return lambda folder: single
    made: dict[int, Excluder] = {}

    def excluder_for(folder: str) -> Excluder:
        found = settings.for_path(folder)
        hit = made.get(id(found))
        if hit is None:
            hit = made[id(found)] = Excluder(found, found.root or os.getcwd())
        return hit

    return excluder_for


def _walk(top: str, excluder_for):
    """Lintable files below ``top``, pruning excluded directories as early as possible."""
    for dirpath, dirnames, filenames in os.walk(top):
        abs_dir = os.path.abspath(dirpath)
        excluder = excluder_for(abs_dir)
        kept = []
        for name in sorted(dirnames):
            child = os.path.join(abs_dir, name)
            if os.path.islink(child) and not _is_within(os.path.realpath(child), excluder.root):
                continue  # a symlink leaving the project is not walked
            if not excluder.excluded(child, True):
                kept.append(name)
        dirnames[:] = kept
        for name in sorted(filenames):
            if not name.endswith(LINTABLE_SUFFIXES):
                continue
            child = os.path.join(abs_dir, name)
            if not excluder.excluded(child, False):
                yield os.path.normpath(os.path.join(dirpath, name))
