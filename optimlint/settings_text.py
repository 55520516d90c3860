"""``--show-settings``: the settings one file is linted with, as text a user can read and
paste back into ``[tool.optimlint]`` (each key as TOML would spell it)."""

from __future__ import annotations

import json

from optimlint.config import Settings
from optimlint.discovery import DEFAULT_EXCLUDES


def settings_text(path: str, settings: Settings) -> str:
    """``Resolved settings for``, ``Settings path`` (the config file, or ``(none: defaults)``),
    then every key and the rules that run (``enabled``)."""
    lines = [f"Resolved settings for: {path}",
             f"Settings path: {settings.config_path or '(none: defaults)'}",
             f"Project root: {settings.root}",
             ""]
    values = [
        ("select", settings.select),
        ("extend-select", settings.extend_select),
        ("ignore", settings.ignore),
        ("per-file-ignores", settings.per_file_ignores),
        ("exclude", settings.exclude or list(DEFAULT_EXCLUDES)),
        ("extend-exclude", settings.extend_exclude),
        ("unsafe-fixes", settings.unsafe_fixes),
        ("preview", settings.preview),
        ("optimizer-factories", settings.optimizer_factories),
        ("scheduler-factories", settings.scheduler_factories),
        ("adam-weight-decay.require-evidence", settings.adam_weight_decay_require_evidence),
    ]
    for key, value in values:
        lines.append(f"{key} = {json.dumps(value)}")
    lines.append(f"enabled = {json.dumps(sorted(settings.enabled_codes()))}")
    return "\n".join(lines) + "\n"
