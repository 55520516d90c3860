"""``--show-settings``: the settings one file is linted with, laid out as Ruff lays out its
own (a header naming the file and the config that decides it, then the settings by
section, one list item a line), and written as TOML a user can paste back into
``[tool.optimlint]`` or an ``optimlint.toml``: every key as the config spells it, the rule
tables last, and the rules that run on the file (a computed value, not a key) as comments."""

from __future__ import annotations

import json

from optimlint.config import Settings
from optimlint.discovery import DEFAULT_EXCLUDES
from optimlint.registry import RULES


def settings_text(path: str, settings: Settings) -> str:
    """``Resolved settings for``, ``Settings path`` (the config file, or ``(none: defaults)``),
    ``Project root``, then every key by section and the rules enabled for ``path``
    (selection, ``per-file-ignores`` and preview applied)."""
    lines = [f"Resolved settings for: {path}",
             f"Settings path: {settings.config_path or '(none: defaults)'}",
             f"Project root: {settings.root}"]
    sections = [
        ("Rule selection", [("select", settings.select), ("extend-select", settings.extend_select),
                            ("ignore", settings.ignore), ("preview", settings.preview)]),
        ("Fixes", [("unsafe-fixes", settings.unsafe_fixes)]),
        ("Files (patterns with a `/` are relative to the project root)",
         [("exclude", settings.exclude or list(DEFAULT_EXCLUDES)), ("extend-exclude", settings.extend_exclude)]),
        ("Calls that build optimizers and schedulers",
         [("optimizer-factories", settings.optimizer_factories),
          ("scheduler-factories", settings.scheduler_factories)]),
    ]
    for title, pairs in sections:
        lines += ["", f"# {title}"]
        lines += [_pair(key, value) for key, value in pairs]
    lines += ["", "[per-file-ignores]"]
    lines += [_pair(pattern, codes) for pattern, codes in settings.per_file_ignores.items()]
    lines += ["", "[adam-weight-decay]", _pair("require-evidence", settings.adam_weight_decay_require_evidence)]
    enabled = sorted(settings.enabled_codes() - settings.ignored_for(path))
    lines += ["", f"# Rules that run on this file ({len(enabled)}: selection, per-file-ignores and preview applied)"]
    lines += [f"#\t{code}  {RULES[code].name}" for code in enabled]
    return "\n".join(lines) + "\n"


def _pair(key: str, value) -> str:
    """``key = value`` in TOML; a non-empty list one item a line, as Ruff prints its lists."""
    name = key if key.replace("-", "").replace("_", "").isalnum() else json.dumps(key)
    if isinstance(value, list) and value:
        return "\n".join([f"{name} = [", *(f"\t{json.dumps(item)}," for item in value), "]"])
    return f"{name} = {json.dumps(value)}"
