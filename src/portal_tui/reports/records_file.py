"""Finding and opening the local records file for the offline commands (export, history).

They read SQLite alone: no network and no token. The file is ``--db``, else
the demo file with ``--demo``, else the config's ``[storage] path`` (the
config is read without requiring its token variables), else the default in
the user data directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from portal_tui.config import Config, find_config_path, load_config
from portal_tui.dashboards.registry import default_ttls
from portal_tui.store.database import Store
from portal_tui.vocabulary.clock import Clock
from portal_tui.vocabulary.errors import StoreError
from portal_tui.vocabulary.locations import data_dir, default_database_path

DEMO_DATABASE = "demo.sqlite3"


@dataclass(frozen=True, slots=True)
class RecordsLocation:
    """Where the records file is and why that one."""

    path: Path
    source: str  # "--db", "--demo", "config FILE", "default"
    config: Config | None = None
    config_path: Path | None = None

    @property
    def demo(self) -> bool:
        """Whether this is the demo's records file."""
        return self.source == "--demo" or self.path.name == DEMO_DATABASE


def locate_records(*, config_arg: str | None, demo: bool, db_arg: str | None) -> RecordsLocation:
    """Resolve the records file; raises ConfigError for a config that cannot be read."""
    if db_arg:
        return RecordsLocation(Path(db_arg).expanduser(), "--db")
    if demo:
        return RecordsLocation(data_dir() / DEMO_DATABASE, "--demo")
    config_path = find_config_path(config_arg)
    if config_path is not None:
        config = load_config(config_path, check_env=False, dashboard_ttls=default_ttls())
        return RecordsLocation(
            config.storage_path().expanduser(), f"config {config_path}", config, config_path
        )
    return RecordsLocation(default_database_path(), "default")


async def open_records(location: RecordsLocation, clock: Clock) -> Store:
    """Open an EXISTING records file (never creates one); raises StoreError.

    A damaged file is moved aside and reported (DamagedRecords), with no fresh
    file in its place; a file this user cannot write is read read-only.
    """
    if not location.path.exists():
        raise StoreError(
            f"no local records at {location.path} (from {location.source}): nothing has been "
            "recorded there yet; run 'portal-tui check' or the console first, or pass --db PATH"
        )
    return await Store.open(location.path, clock=clock, create=False)
