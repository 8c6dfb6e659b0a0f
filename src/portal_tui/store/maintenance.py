"""Looking after the file itself: schema version and migrations, integrity, size, optimize."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import aiosqlite

from portal_tui.store.rows import rows, scalar
from portal_tui.store.schema import latest_version, pending
from portal_tui.vocabulary.errors import StoreError

log = logging.getLogger(__name__)


def file_sizes(path: Path) -> int:
    total = 0
    for candidate in (path, Path(f"{path}-wal")):
        with contextlib.suppress(FileNotFoundError):
            total += candidate.stat().st_size
    return total


async def user_version(conn: aiosqlite.Connection) -> int:
    return int(await scalar(conn, "PRAGMA user_version"))


async def apply_migrations(conn: aiosqlite.Connection, *, path: Path) -> None:
    # Re-read under the write lock: another process may have migrated meanwhile.
    current = await user_version(conn)
    if current > latest_version():
        raise StoreError(
            f"{path} was upgraded to schema version {current} by a newer portal-tui while "
            f"opening; this release understands {latest_version()}. Upgrade portal-tui."
        )
    for migration in pending(current):
        log.info(
            "migrating %s to schema version %d (%s)", path, migration.version, migration.description
        )
        for statement in migration.statements:
            await conn.execute(statement)
        await conn.execute(f"PRAGMA user_version = {migration.version}")


async def integrity_rows(conn: aiosqlite.Connection) -> list[str]:
    return [str(r["integrity_check"]) for r in await rows(conn, "PRAGMA integrity_check")]


async def optimize(conn: aiosqlite.Connection) -> None:
    # execute_fetchall, not execute: a row-returning statement left unfinished
    # would keep a read snapshot open and pin the WAL.
    await conn.execute_fetchall("PRAGMA optimize")
    # PASSIVE never waits for readers; journal_size_limit then trims the WAL.
    await conn.execute_fetchall("PRAGMA wal_checkpoint(PASSIVE)")
