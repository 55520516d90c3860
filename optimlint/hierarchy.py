"""Which settings lint which file: the config nearest each file, as Ruff resolves it.

A file in ``b/`` is linted with ``b/pyproject.toml`` (or ``b/optimlint.toml``) whatever the
order of the paths on the command line; a file with no config above it gets the defaults
(rooted at the current directory). ``--config FILE`` makes one file decide for every
file, ``--isolated`` reads no file at all. The command line's own settings (``--select``,
``--config KEY=VALUE`` ...) are laid over whichever settings a file gets.

Each folder's config is looked up once and each config file read once per run, so the
engine can group files by the ``Settings`` object they share.
"""

from __future__ import annotations

import os

from optimlint.config import Settings, find_config, load_file

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (start-up time)
if TYPE_CHECKING:
    from typing import Callable


class Hierarchy:
    """``for_path(path)``: the Settings a file (or the entries of a folder) is linted with.

    ``fixed``: the settings of every file (``--config FILE``, ``--isolated``, or a caller
    that built one Settings); otherwise each file's nearest config decides. ``adjust`` is
    applied once to each settings found (the command line's overrides) and returns them.
    Raises ``ConfigError`` for the first invalid config a path needs.
    """

    def __init__(self, fixed: Settings | None = None, adjust: Callable[[Settings], Settings] | None = None,
                 cache: bool = False) -> None:
        self._adjust = adjust or (lambda s: s)
        self._fixed = None if fixed is None else self._adjust(fixed)
        self._cache = cache
        self._by_folder: dict[str, Settings] = {}
        self._by_config: dict[str | None, Settings] = {}

    @classmethod
    def of(cls, settings: "Settings | Hierarchy") -> "Hierarchy":
        return settings if isinstance(settings, Hierarchy) else cls(fixed=settings)

    @property
    def fixed(self) -> Settings | None:
        return self._fixed

    def for_path(self, path: str) -> Settings:
        if self._fixed is not None:
            return self._fixed
        absolute = os.path.abspath(path)
        folder = absolute if os.path.isdir(absolute) else os.path.dirname(absolute)
        hit = self._by_folder.get(folder)
        if hit is None:
            hit = self._by_folder[folder] = self._for_config(find_config(folder, self._cache))
        return hit

    def config_of(self, path: str) -> str | None:
        """The config file that decides ``path`` (None: the defaults)."""
        return self.for_path(path).config_path

    def _for_config(self, config: str | None) -> Settings:
        hit = self._by_config.get(config)
        if hit is None:
            found = Settings(root=os.getcwd()) if config is None else load_file(config, self._cache)
            hit = self._by_config[config] = self._adjust(found)
        return hit

    def all_settings(self) -> list[Settings]:
        """Every settings handed out so far (fixed first)."""
        out = [] if self._fixed is None else [self._fixed]
        return out + [s for s in self._by_config.values() if s is not self._fixed]
