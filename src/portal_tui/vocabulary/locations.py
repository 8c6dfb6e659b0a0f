"""Where portal-tui keeps its files (platformdirs)."""

from __future__ import annotations

from pathlib import Path

import platformdirs

APP_NAME = "portal-tui"


def config_dir() -> Path:
    """The user config directory."""
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def data_dir() -> Path:
    """The user data directory (the SQLite file and logs live here)."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_config_path() -> Path:
    """``config.toml`` in the user config directory."""
    return config_dir() / "config.toml"


def default_database_path() -> Path:
    """``portal-tui.sqlite3`` in the user data directory."""
    return data_dir() / "portal-tui.sqlite3"
