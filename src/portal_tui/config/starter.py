"""The commented starter config ``portal-tui init`` writes, and where it goes.

The text ships inside the package (``starter.toml``, package data), so a
``pipx install`` or ``uv tool install`` has it without the repository's
``config.example.toml``. It goes where the loader looks
(:func:`~portal_tui.config.loading.find_config_path`'s order): ``--config``,
else ``$PORTAL_TUI_CONFIG``, else the user config directory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path

from portal_tui.config.loading import CONFIG_ENV_VAR
from portal_tui.vocabulary import locations


def starter_text() -> str:
    """The starter config's text (valid TOML: one instance to edit, the rest commented)."""
    return files("portal_tui.config").joinpath("starter.toml").read_text(encoding="utf-8")


def init_path(explicit: str | None, env: Mapping[str, str] | None = None) -> Path:
    """Where ``init`` writes: the path the loader would read first."""
    environ = os.environ if env is None else env
    if explicit:
        return Path(explicit).expanduser()
    if environ.get(CONFIG_ENV_VAR):
        return Path(environ[CONFIG_ENV_VAR]).expanduser()
    return locations.default_config_path()


class AlreadyThere(Exception):
    """The config file exists: ``init`` never overwrites it."""


def write_starter(path: Path) -> None:
    """Create ``path`` (and its directories) with :func:`starter_text`.

    Raises :class:`AlreadyThere` when anything is at ``path`` (checked by the
    create itself, so a file appearing meanwhile is not overwritten either),
    and :class:`OSError` when it cannot be written (its ``strerror`` says why).
    """
    if path.is_dir():
        raise NotADirectoryError(0, "is a directory; give the file's path, e.g. DIR/config.toml")
    if path.exists() or path.is_symlink():
        raise AlreadyThere(str(path))
    blocking = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise NotADirectoryError(0, f"{blocking} is a file, not a directory")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("x", encoding="utf-8") as handle:
            handle.write(starter_text())
    except FileExistsError:
        raise AlreadyThere(str(path)) from None
