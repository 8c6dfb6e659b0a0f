"""Assemble the core for a face: config, secrets, store, monitor, demo simulator.

Both the console and the headless commands start here, so ``--demo``,
``--config`` and ``--db`` mean the same everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from portal_tui.config import Config, Secrets, find_config_path, load_config
from portal_tui.dashboards.registry import default_ttls
from portal_tui.engine.monitor import PortalMonitor
from portal_tui.store.database import Store
from portal_tui.vocabulary.clock import Clock, SystemClock
from portal_tui.vocabulary.errors import ConfigError
from portal_tui.vocabulary.locations import data_dir, default_config_path


@dataclass(slots=True)
class Runtime:
    """Everything a face needs, opened; close with :meth:`aclose`."""

    config: Config
    config_path: Path | None
    monitor: PortalMonitor
    store: Store | None
    demo: bool
    simulator: Any = None

    async def aclose(self) -> None:
        """Close the network pools and the SQLite file."""
        await self.monitor.aclose()
        if self.store is not None:
            await self.store.close()


def resolve_config(config_arg: str | None, *, secrets: Secrets) -> tuple[Config, Path]:
    """Find and load the config; raises :class:`ConfigError` with a helpful message."""
    path = find_config_path(config_arg)
    if path is None:
        raise ConfigError(
            f"no config found: run `portal-tui init` to write a commented starter config "
            f"at {default_config_path()}, or pass --config PATH, or set PORTAL_TUI_CONFIG; "
            "or try --demo"
        )
    config = load_config(path, secrets=secrets, dashboard_ttls=default_ttls())
    if not config.instances:
        raise ConfigError(
            "no [[instances]] configured, so there is nothing to fetch: add an Email Bison "
            "instance (name, base_url, master_token_env; see config.example.toml)",
            path=str(path),
        )
    return config, path


async def open_runtime(
    *,
    config_arg: str | None = None,
    demo: bool = False,
    db_arg: str | None = None,
    clock: Clock | None = None,
    workspaces: int = 27,
    seed: int = 7,
) -> Runtime:
    """Open config, store and monitor. Raises ConfigError or StoreError."""
    clock = clock or SystemClock()
    simulator = None
    transports = None
    if demo:
        from portal_tui.simulator.demo import build_demo

        setup = build_demo(clock=clock, workspaces=workspaces, seed=seed)
        config, secrets, simulator = setup.config, Secrets(setup.env), setup.simulator
        transports = {setup.config.instances[0].name: simulator.transport()}
        path = None
        db_path = Path(db_arg) if db_arg else data_dir() / "demo.sqlite3"
    else:
        secrets = Secrets()
        config, path = resolve_config(config_arg, secrets=secrets)
        db_path = Path(db_arg) if db_arg else config.storage_path()
    store = await Store.open(
        db_path,
        clock=clock,
        retention_days=config.storage.retention_days,
        resolved_retention_days=config.storage.resolved_retention_days,
        raw_hours=config.storage.raw_attempts_hours,
        redact_values=secrets.token_values(config),
    )
    monitor = PortalMonitor(
        config,
        secrets=secrets,
        clock=clock,
        store=store,
        transports=transports,
        demo=demo,
        # The demo's upstream lives in this process: nothing to share with others.
        share_through=None if demo else store.path,
    )
    return Runtime(config, path, monitor, store, demo, simulator)
