"""Settings, and loading them from ``[tool.optimlint]`` / ``optimlint.toml``.

Where the settings come from (first found wins):

1. ``--config FILE``: a ``pyproject.toml`` (its ``[tool.optimlint]`` table) or any other
   TOML file (top-level keys, like ``optimlint.toml``);
2. walking up from the first linted path (or the current directory): in each directory,
   ``optimlint.toml``, then a ``pyproject.toml`` that has a ``[tool.optimlint]`` table;
3. the defaults (every rule selected).

The directory of the config file is the *project root*: ``per-file-ignores`` and
``exclude`` patterns are relative to it. Every mistake in a config (invalid TOML, unknown
key, wrong type, unknown rule code) is a ``ConfigError`` naming the file, the key and its
line, so the CLI can exit 2 with a message a user can act on.
"""

from __future__ import annotations

import fnmatch
import os
import re
import sys

from optimlint.hashing import sha256_hex
from optimlint.records import Record
from optimlint import registry
from optimlint.registry import ALWAYS_ON, RULES, expand_selector


class Settings(Record):
    """What to lint for and how: the config file's keys, validated.

    A plain class with a dataclass's behaviour (fields in this order, keyword or
    positional, ``repr``, equality by value, unhashable): creating a dataclass costs
    ~0.5 ms at import, on the start-up path of every run.
    """

    _FIELDS = ("select", "ignore", "extend_select", "per_file_ignores", "exclude", "extend_exclude",
               "unsafe_fixes", "optimizer_factories", "scheduler_factories", "adam_weight_decay_require_evidence",
               "root", "config_path", "preview")

    def __init__(self, select: list[str] | None = None, ignore: list[str] | None = None,
                 extend_select: list[str] | None = None, per_file_ignores: dict[str, list[str]] | None = None,
                 exclude: list[str] | None = None, extend_exclude: list[str] | None = None,
                 unsafe_fixes: bool = False, optimizer_factories: list[str] | None = None,
                 scheduler_factories: list[str] | None = None, adam_weight_decay_require_evidence: bool = True,
                 root: str | None = None, config_path: str | None = None, preview: bool = False) -> None:
        self.select = ["OPT"] if select is None else select
        self.ignore = [] if ignore is None else ignore
        self.extend_select = [] if extend_select is None else extend_select
        self.per_file_ignores = {} if per_file_ignores is None else per_file_ignores
        self.exclude = [] if exclude is None else exclude
        self.extend_exclude = [] if extend_exclude is None else extend_exclude
        self.unsafe_fixes = unsafe_fixes
        self.optimizer_factories = [] if optimizer_factories is None else optimizer_factories
        self.scheduler_factories = [] if scheduler_factories is None else scheduler_factories
        # [tool.optimlint.adam-weight-decay] require-evidence: OPT302 only where decoupled decay was meant
        self.adam_weight_decay_require_evidence = adam_weight_decay_require_evidence
        # Where the settings came from; patterns are relative to ``root``.
        self.root = root
        self.config_path = config_path
        # Rules still in preview (``registry.PREVIEW``) run only with ``preview = true``/--preview.
        self.preview = preview


    def enabled_codes(self) -> set[str]:
        codes: set[str] = set()
        for sel in [*self.select, *self.extend_select]:
            codes.update(expand_selector(sel))
        for sel in self.ignore:
            codes.difference_update(expand_selector(sel))
        if not self.preview:
            codes.difference_update(registry.PREVIEW)
        return codes | set(ALWAYS_ON)

    def ignored_for(self, path: str) -> set[str]:
        """Codes that ``per-file-ignores`` switches off for ``path``."""
        if not self.per_file_ignores:
            return set()
        root = self.root or os.getcwd()
        absolute = os.path.abspath(path)
        rel = os.path.relpath(absolute, root).replace(os.sep, "/")
        base = os.path.basename(absolute)
        out: set[str] = set()
        for pattern, selectors in self.per_file_ignores.items():
            if pattern.startswith("/"):  # from an extended config in another folder (``layered``)
                matched = glob_match(pattern, absolute.replace(os.sep, "/"))
            else:
                matched = glob_match(pattern, rel) or glob_match(pattern, base)
            if matched:
                for sel in selectors:
                    out.update(expand_selector(sel))
        out.difference_update(ALWAYS_ON)
        return out

    def fingerprint(self) -> str:
        """A stable string of everything that changes lint results (for the cache key)."""
        return repr((sorted(self.enabled_codes()), sorted(self.per_file_ignores.items()),
                     self.optimizer_factories, self.scheduler_factories, self.root,
                     self.adam_weight_decay_require_evidence))


def glob_match(pattern: str, path: str) -> bool:
    """Ruff's per-file-ignores globs: ``*`` may cross ``/`` and ``**/`` matches zero dirs too."""
    pattern = pattern.replace(os.sep, "/")
    if pattern.startswith("./"):
        pattern = pattern[2:]
    if fnmatch.fnmatchcase(path, pattern):
        return True
    return "**/" in pattern and fnmatch.fnmatchcase(path, pattern.replace("**/", ""))


# --------------------------------------------------------------------------- errors
class ConfigError(Exception):
    """A config mistake: ``str(err)`` is the message the CLI prints."""


KEYS: dict[str, str] = {
    # key -> expected shape: "selectors", "strings", "bool", "per-file"
    "select": "selectors",
    "ignore": "selectors",
    "extend-select": "selectors",
    "per-file-ignores": "per-file",
    "exclude": "strings",
    "extend-exclude": "strings",
    "unsafe-fixes": "bool",
    "preview": "bool",
    "optimizer-factories": "strings",
    "scheduler-factories": "strings",
    "adam-weight-decay": "rule-table",
    "extend": "path",
}
# The keys of each rule's own table (``[tool.optimlint.adam-weight-decay]``): key -> shape.
RULE_TABLES: dict[str, dict[str, str]] = {
    "adam-weight-decay": {"require-evidence": "bool"},
}


def _loads(text: str):
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib
    return tomllib.loads(text), tomllib.TOMLDecodeError


# The last text ``_mentions_optimlint`` parsed, so that ``load_file`` does not parse it again.
_PARSED: tuple[str, str, dict] | None = None


def _parse_toml(path: str, text: str) -> dict:
    global _PARSED
    if _PARSED is not None and _PARSED[:2] == (path, text):
        data, _PARSED = _PARSED[2], None
        return data
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        m = re.search(r"\s*\(at line (\d+), column \d+\)$", message)
        if m:
            line, message = m.group(1), message[: m.start()]
        else:
            line = str(max(1, len(text.splitlines())))
            message = re.sub(r"\s*\(at end of document\)$", " at end of file", message)
        raise ConfigError(f"{path}:{line}: invalid TOML: {message}") from None


def _key_line(text: str, table: tuple[str, ...], key: str, needle: str | None = None) -> int | None:
    """The 1-based line of ``key`` in ``table`` (``()`` for top level) of a TOML text.

    With ``needle`` (e.g. an offending code), the line of that value at or after the key.
    A best-effort scan of the text: TOML parsers do not keep positions.
    """
    lines = text.splitlines()
    current: tuple[str, ...] = ()
    key_re = re.compile(r'^\s*(?:"%s"|\'%s\'|%s)\s*=' % ((re.escape(key),) * 3))
    dotted = ".".join(table)
    for i, line in enumerate(lines):
        header = re.match(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$", line)
        if header:
            current = tuple(part.strip().strip('"\'') for part in header.group(1).split("."))
            if current[: len(table) + 1] == (*table, key):
                return _needle_line(lines, i, needle)  # the key is a table: [tool.optimlint.key]
            continue
        if current == table and key_re.match(line):
            return _needle_line(lines, i, needle)
        # Dotted keys in a parent table: ``optimlint.select = ...`` under [tool].
        if table and current == table[:-1] and re.match(
                r"^\s*%s\.%s\s*=" % (re.escape(table[-1]), re.escape(key)), line):
            return _needle_line(lines, i, needle)
        if table and not current and re.match(r"^\s*%s\.%s\s*=" % (re.escape(dotted), re.escape(key)), line):
            return _needle_line(lines, i, needle)
    return None


def _needle_line(lines: list[str], start: int, needle: str | None) -> int:
    if needle:
        for j in range(start, min(len(lines), start + 200)):
            if needle in lines[j]:
                return j + 1
    return start + 1


def _where(path: str, text: str, table: tuple[str, ...], key: str, needle: str | None = None) -> str:
    line = _key_line(text, table, key, needle)
    return f"{path}:{line}" if line else path


def _cannot_ignore(code: str) -> str:
    return (f"`{code}` ({RULES[code].name}) cannot be ignored")


_ALWAYS_REPORTED = "a file that cannot be read or parsed is always reported"


def _validate_selectors(values, path, text, table, key) -> list[str]:
    out = []
    for value in values:
        if key == "ignore" and value.strip().upper() in ALWAYS_ON:
            where = _where(path, text, table, key, f"{value}")
            raise ConfigError(f"{where}: {_cannot_ignore(value.strip().upper())} in `{key}`: {_ALWAYS_REPORTED}")
        try:
            expand_selector(value)
        except KeyError:
            where = _where(path, text, table, key, f"{value}")
            raise ConfigError(f"{where}: unknown rule selector `{value}` in `{key}` "
                              f"(run `optimlint rules` for the list of codes)") from None
        out.append(value.strip().upper())
    return out


def _expect_strings(value, path, text, table, key) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        where = _where(path, text, table, key)
        raise ConfigError(f"{where}: `{key}` must be a list of strings, got {_describe(value)}")
    return list(value)


def _describe(value) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "a table"}.get(type(value), type(value).__name__)


def settings_from_table(table_data: dict, path: str, text: str, table: tuple[str, ...]) -> Settings:
    """Validate one ``[tool.optimlint]`` table (or a top-level optimlint.toml) into Settings."""
    settings = Settings(config_path=os.path.abspath(path), root=os.path.dirname(os.path.abspath(path)))
    for attr, value in fields_from_table(table_data, path, text, table).items():
        if attr != "extend":
            setattr(settings, attr, value)
    return settings


def fields_from_table(table_data: dict, path: str, text: str, table: tuple[str, ...]) -> dict:
    """The Settings fields a table sets (validated), by attribute name: only the keys it has.

    ``extend`` (a path, as written) is returned under ``extend``."""
    settings = Settings()
    given: dict = {}
    for key, value in table_data.items():
        shape = KEYS.get(key)
        if shape is None:
            where = _where(path, text, table, key)
            hint = ""
            close = [k for k in KEYS if k.replace("-", "_") == key or k.replace("-", "") == key.replace("_", "")]
            if close:
                hint = f" (did you mean `{close[0]}`?)"
            raise ConfigError(f"{where}: unknown key `{key}` in [{'.'.join(table) or 'optimlint'}]{hint}; "
                              f"known keys: {', '.join(KEYS)}")
        attr = key.replace("-", "_")
        if shape == "bool":
            if not isinstance(value, bool):
                raise ConfigError(f"{_where(path, text, table, key)}: `{key}` must be true or false, "
                                  f"got {_describe(value)}")
            setattr(settings, attr, value)
        elif shape == "strings":
            setattr(settings, attr, _expect_strings(value, path, text, table, key))
        elif shape == "selectors":
            values = _expect_strings(value, path, text, table, key)
            setattr(settings, attr, _validate_selectors(values, path, text, table, key))
        elif shape == "rule-table":
            _rule_table(settings, value, path, text, table, key)
        elif shape == "per-file":
            if not isinstance(value, dict):
                raise ConfigError(f"{_where(path, text, table, key)}: `{key}` must be a table of "
                                  f"glob = [codes], got {_describe(value)}")
            pfi: dict[str, list[str]] = {}
            for pattern, codes in value.items():
                sub = (*table, key)
                if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
                    line = _key_line(text, table, key, pattern) or _key_line(text, sub, pattern)
                    where = f"{path}:{line}" if line else path
                    raise ConfigError(f"{where}: `{key}` entry {pattern!r} must be a list of rule codes, "
                                      f"got {_describe(codes)}")
                for code in codes:
                    if code.strip().upper() in ALWAYS_ON:
                        line = (_key_line(text, sub, pattern, code) or _key_line(text, table, key, code))
                        where = f"{path}:{line}" if line else path
                        raise ConfigError(f"{where}: {_cannot_ignore(code.strip().upper())} in `{key}` for "
                                          f"{pattern!r}: {_ALWAYS_REPORTED}")
                    try:
                        expand_selector(code)
                    except KeyError:
                        line = (_key_line(text, sub, pattern, code) or _key_line(text, table, key, code))
                        where = f"{path}:{line}" if line else path
                        raise ConfigError(f"{where}: unknown rule selector `{code}` in `{key}` "
                                          f"for {pattern!r}") from None
                pfi[pattern] = [c.strip().upper() for c in codes]
            settings.per_file_ignores = pfi
        elif shape == "path":
            if not isinstance(value, str) or not value:
                raise ConfigError(f"{_where(path, text, table, key)}: `{key}` must be the path of a config file, "
                                  f"got {_describe(value)}")
            given[attr] = value
            continue
        if shape == "rule-table":
            for name in value:
                rattr = f"{key}_{name}".replace("-", "_")
                given[rattr] = getattr(settings, rattr)
        else:
            given[attr] = getattr(settings, attr)
    return given


def _rule_table(settings: Settings, value, path: str, text: str, table: tuple[str, ...], key: str) -> None:
    """``[tool.optimlint.<rule-name>]``: a rule's own settings, each checked like a top-level key."""
    if not isinstance(value, dict):
        raise ConfigError(f"{_where(path, text, table, key)}: `{key}` must be a table, got {_describe(value)}")
    known = RULE_TABLES[key]
    sub = (*table, key)
    for name, v in value.items():
        shape = known.get(name)
        if shape is None:
            raise ConfigError(f"{_where(path, text, sub, name)}: unknown key `{name}` in [{'.'.join(sub)}]; "
                              f"known keys: {', '.join(known)}")
        if shape == "bool" and not isinstance(v, bool):
            raise ConfigError(f"{_where(path, text, sub, name)}: `{name}` must be true or false, got {_describe(v)}")
        setattr(settings, f"{key}_{name}".replace("-", "_"), v)


# --------------------------------------------------------------------------- loading
# What a settings cache entry holds: the fields read from the file (root and config_path
# follow from its path).
_STORED = tuple(name for name in Settings._FIELDS if name not in ("root", "config_path"))


def load_file(path: str, cache: bool = False, _chain: tuple[str, ...] = ()) -> Settings:
    """Settings from one file: ``pyproject.toml`` reads ``[tool.optimlint]``, others top level.

    ``extend = PATH`` (relative to the file) loads that file first and lays this one's keys
    over it (``layered``). With ``cache``, a file whose bytes were validated before is read
    from the settings cache (``optimlint.cache.SettingsCache``) instead of being parsed
    again; a file that extends another is never cached (its bytes do not decide it).
    """
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror or exc}") from None
    stored = _stored_settings(path, raw) if cache else None
    if stored is not None:
        return stored
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: config file is not valid UTF-8") from None
    data = _parse_toml(path, text)
    table_name: tuple[str, ...] = ()
    table = data
    if os.path.basename(path) == "pyproject.toml":
        tool = data.get("tool", {})
        table = tool.get("optimlint", {}) if isinstance(tool, dict) else {}
        table_name = ("tool", "optimlint")
        if not isinstance(table, dict):
            raise ConfigError(f"{_where(path, text, ('tool',), 'optimlint')}: `tool.optimlint` must be a table")
    fields = fields_from_table(table, path, text, table_name)
    absolute = os.path.abspath(path)
    here = {"root": os.path.dirname(absolute), "config_path": absolute}
    extend = fields.pop("extend", None)
    if extend is None:
        settings = Settings(**here)
        for attr, value in fields.items():
            setattr(settings, attr, value)
    else:
        target = os.path.normpath(os.path.join(here["root"], os.path.expanduser(os.path.expandvars(extend))))
        where = _where(path, text, table_name, "extend")
        chain = (*_chain, absolute)
        if target in chain:
            cycle = " -> ".join([*chain[chain.index(target):], target])
            raise ConfigError(f"{where}: `extend` makes a cycle: {cycle}")
        if not os.path.isfile(target):
            raise ConfigError(f"{where}: `extend` names {extend!r}, and {target} is not a file")
        settings = layered(load_file(target, False, chain), fields, **here)
    if cache and extend is None:
        from optimlint.store import SettingsCache  # start-up: json, only in runs that use the cache

        SettingsCache(path).put_fields(path, sha256_hex(raw), {name: getattr(settings, name) for name in _STORED})
    return settings


_SELECTION = ("select", "extend_select", "ignore")


def layered(base: Settings, fields: dict, root: str | None = None, config_path: str | None = None,
            fields_root: str | None = None) -> Settings:
    """The keys one config sets (``fields``, by attribute) laid over ``base``, as Ruff
    combines an ``extend``ed file or ``--config KEY=VALUE`` with the file it extends.

    A key replaces the base's value, except ``extend-exclude``, which adds to it, and the
    rule selection, which applies in order: a ``select`` starts afresh; ``extend-select``
    and ``ignore`` without one start from the rules the base enables. ``per-file-ignores``
    and exclude paths keep the folder of the file that wrote them when ``root`` moves;
    ``fields_root``: the folder ``fields``' exclude paths are relative to when it is not
    the result's root (the current folder, for ``--config KEY=VALUE``), as Ruff has it.
    """
    out = Settings(**{name: _copy(getattr(base, name)) for name in Settings._FIELDS})
    if root is not None:
        out.root, out.config_path = root, config_path
        if base.root and root != base.root:
            if "per_file_ignores" not in fields:
                out.per_file_ignores = {_anchored(p, base.root): codes for p, codes in base.per_file_ignores.items()}
            out.exclude = rebased_excludes(base.exclude, base.root, root)
            out.extend_exclude = rebased_excludes(base.extend_exclude, base.root, root)
    for attr, value in fields.items():
        if attr in _SELECTION:
            continue
        if attr in ("exclude", "extend_exclude") and fields_root and out.root:
            value = rebased_excludes(value, fields_root, out.root)
        if attr == "extend_exclude":
            value = [*out.extend_exclude, *value]
        setattr(out, attr, _copy(value))
    if "select" in fields:
        out.select = list(fields["select"])
        out.extend_select = list(fields.get("extend_select", []))
        out.ignore = list(fields.get("ignore", []))
    elif "extend_select" in fields or "ignore" in fields:
        out.select = sorted(base.enabled_codes() - set(ALWAYS_ON))
        out.extend_select = list(fields.get("extend_select", []))
        out.ignore = list(fields.get("ignore", []))
    return out


def _copy(value):
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


def _anchored(pattern: str, root: str) -> str:
    """A per-file-ignores pattern made absolute from the folder of the file that wrote it."""
    pattern = pattern.replace(os.sep, "/")
    if pattern.startswith("/"):
        return pattern
    if pattern.startswith("./"):
        pattern = pattern[2:]
    return root.replace(os.sep, "/").rstrip("/") + "/" + pattern


def rebased_excludes(patterns: list[str], written_in: str, root: str) -> list[str]:
    """Exclude patterns relative to ``written_in`` (the folder of the config that wrote
    them) made relative to ``root`` (the folder of the config that uses them), as Ruff
    resolves them: a pattern with a ``/`` names a path below the folder of its config
    (``sub/gen`` written in ``./pyproject.toml`` is ``/gen`` to ``sub/pyproject.toml``, and
    ``../gen`` to ``other/pyproject.toml``); one without (``gen``, ``*_pb2.py``) names any
    file or folder so called, wherever it is used, and stays as it is."""
    if os.path.abspath(written_in) == os.path.abspath(root):
        return list(patterns)
    out = []
    for pattern in patterns:
        negated = pattern.startswith("!")
        body = (pattern[1:] if negated else pattern).replace(os.sep, "/")
        if "/" not in body.rstrip("/"):
            out.append(pattern)
            continue
        dir_only = "/" if body.endswith("/") else ""
        body = (body[2:] if body.startswith("./") else body.lstrip("/")).rstrip("/")
        parts = body.split("/")
        literal = 0  # the leading folders without glob characters
        while literal < len(parts) - 1 and not _GLOB.search(parts[literal]):
            literal += 1
        above = os.path.join(written_in, *parts[:literal])
        try:
            if parts[literal] == "**" and _within(root, above):  # any depth below ``above``: below root too
                anchored = "/" + "/".join(parts[literal:])
            else:
                rel = os.path.relpath(os.path.join(written_in, *parts), root).replace(os.sep, "/")
                anchored = rel if rel.startswith("../") else "/" + rel  # a leading "/": below ``root`` only
        except ValueError:  # pragma: no cover - Windows: another drive
            out.append(pattern)
            continue
        out.append(("!" if negated else "") + anchored + dir_only)
    return out


_GLOB = re.compile(r"[*?\[]")


def _within(path: str, folder: str) -> bool:
    path, folder = os.path.abspath(path), os.path.abspath(folder)
    return os.path.commonpath([path, folder]) == folder


def _stored_settings(path: str, raw: bytes) -> Settings | None:
    """The settings cached for ``path`` holding ``raw``, or None."""
    from optimlint.store import SettingsCache  # start-up: json, only in runs that use the cache

    fields = SettingsCache(path).get_fields(path, sha256_hex(raw))
    if fields is None or set(fields) != set(_STORED):
        return None
    absolute = os.path.abspath(path)
    try:
        return Settings(**fields, root=os.path.dirname(absolute), config_path=absolute)
    except TypeError:  # pragma: no cover - a foreign entry
        return None


def find_config(start: str, cache: bool = False) -> str | None:
    """The nearest ``optimlint.toml`` or ``pyproject.toml`` with ``[tool.optimlint]``."""
    current = os.path.abspath(start)
    if not os.path.isdir(current):
        current = os.path.dirname(current)
    while True:
        candidate = os.path.join(current, "optimlint.toml")
        if os.path.isfile(candidate):
            return candidate
        candidate = os.path.join(current, "pyproject.toml")
        if os.path.isfile(candidate) and _mentions_optimlint(candidate, cache):
            return candidate
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


def _mentions_optimlint(path: str, cache: bool = False) -> bool:
    global _PARSED
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError:
        return False
    text = raw.decode("utf-8", "replace")
    if "optimlint" not in text:
        return False
    if cache and _stored_settings(path, raw) is not None:
        return True  # validated before: it has the table
    seen = _MENTIONS.get(path)
    if seen is not None and seen[0] == text:
        return seen[1]
    try:
        data, _ = _loads(text)
    except Exception:
        return True  # let load_file report the invalid TOML with its line
    _PARSED = (path, text, data)
    tool = data.get("tool")
    found = isinstance(tool, dict) and "optimlint" in tool
    _MENTIONS[path] = (text, found)
    return found


# ``_mentions_optimlint``'s answers by path, with the text they were read from: a run asks
# again for every folder under the file (each of a wheel's ~600 folders parsed the TOML of the
# project around it, 0.3 s of a run).
_MENTIONS: dict[str, tuple[str, bool]] = {}


def load_settings(config: str | None = None, start: str | None = None, cache: bool = False) -> Settings:
    """Settings for a run: ``config`` if given, else the nearest config above ``start``.

    ``cache``: read and write validated configs in the settings cache (what runs that use
    the results cache do)."""
    if config is not None:
        if not os.path.isfile(config):
            raise ConfigError(f"{config}: config file not found")
        return load_file(config, cache)
    found = find_config(start or os.getcwd(), cache)
    if found is None:
        return Settings(root=os.getcwd())
    return load_file(found, cache)


def override_fields(text: str) -> dict:
    """The fields one ``--config 'KEY = VALUE'`` sets (a TOML pair, ``[tool.optimlint]``'s keys),
    validated as a config file's are; ConfigError names the option."""
    label = f"--config {text!r}"
    try:
        data, _ = _loads(text)
    except Exception as exc:
        message = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)$", "", str(exc))
        raise ConfigError(f"invalid value for `--config`: {text!r} is neither a config file nor a "
                          f"TOML `KEY = VALUE` pair ({message})") from None
    try:
        fields = fields_from_table(data, label, text, ())
    except ConfigError as exc:  # the line of a one-line value says nothing: name the option instead
        message = re.sub(r"^.*?:(1:)? ", "", str(exc).replace(label, "", 1), count=1)
        raise ConfigError(f"invalid value for `--config` {text!r}: {message}") from None
    if "extend" in fields:
        raise ConfigError(f"invalid value for `--config` {text!r}: `extend` is for config files; "
                          f"give the file with `--config PATH`")
    return fields


def validate_selectors(values, option: str) -> list[str]:
    """Selectors from the command line; raises ConfigError naming the option."""
    out = []
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if not part:
                # Ruff refuses it too: an unset variable in CI must not turn linting off.
                raise ConfigError(f"invalid value for `{option}`: empty rule selector in {value!r} "
                                  f"(is a variable unset?)")
            if option == "--ignore" and part.upper() in ALWAYS_ON:
                raise ConfigError(f"invalid value for `{option}`: {_cannot_ignore(part.upper())}: "
                                  f"{_ALWAYS_REPORTED}")
            try:
                expand_selector(part)
            except KeyError:
                raise ConfigError(f"invalid value for `{option}`: unknown rule selector `{part}` "
                                  f"(run `optimlint rules` for the list of codes)") from None
            out.append(part.upper())
    return out


__all__ = ["Settings", "RULES", "ConfigError", "load_settings", "load_file", "find_config",
           "validate_selectors", "glob_match", "layered", "override_fields"]
