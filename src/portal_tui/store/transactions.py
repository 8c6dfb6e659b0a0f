"""One connection shared by a process's coroutines, and transactions that survive other processes.

- Every write is one short ``BEGIN IMMEDIATE`` transaction: the writer takes
  the lock up front instead of failing half-way when upgrading a read lock.
- SQLite's busy timeout waits for a lock; on top of it the WHOLE transaction
  is retried with backoff while the file stays locked (on tenacity, sleeping
  on the injected clock: :func:`portal_tui.store.busy.while_busy`), so
  two consoles and a cron check never show "database is locked".
- Inside the process, an asyncio lock stops coroutines sharing the
  connection from interleaving their transactions.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Literal, TypeVar

import aiosqlite

from portal_tui.store.busy import BUSY_TIMEOUT_MS, error_code, is_busy, while_busy
from portal_tui.store.connection import close_quietly, is_corruption
from portal_tui.vocabulary.clock import Clock
from portal_tui.vocabulary.errors import StoreError

log = logging.getLogger(__name__)

T = TypeVar("T")
Mode = Literal["read", "write", "bare"]
"""``write``: BEGIN IMMEDIATE; ``read``: BEGIN (one consistent snapshot);
``bare``: no transaction (PRAGMAs that refuse to run inside one)."""

BUSY_ATTEMPTS = 6  # each attempt already waits up to BUSY_TIMEOUT_MS inside SQLite
BUSY_BACKOFF_START = 0.05
BUSY_BACKOFF_MAX = 1.0
_UNWRITABLE = (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM, sqlite3.SQLITE_CANTOPEN)


class SharedConnection:
    """An aiosqlite connection that runs one transaction at a time, retrying on lock contention."""

    def __init__(self, conn: aiosqlite.Connection, path: Path, clock: Clock) -> None:
        self._conn: aiosqlite.Connection | None = conn
        self._path = path
        self._clock = clock
        self._lock = asyncio.Lock()

    async def run(
        self,
        action: str,
        fn: Callable[[aiosqlite.Connection], Awaitable[T]],
        *,
        mode: Mode = "write",
    ) -> T:
        """Run ``fn`` in a transaction; ``action`` names it in error messages.

        SQLite errors become StoreError. While another process holds the lock
        the whole transaction is tried again, up to ``BUSY_ATTEMPTS`` times in
        all, with a backoff on the injected clock; SQLite's busy timeout waits
        (real time) inside each try.
        """

        def once() -> Awaitable[T]:
            # Shielded: once a transaction starts it runs to its COMMIT or
            # ROLLBACK even if the caller is cancelled (the console quitting
            # mid-write), so the connection is never left inside one.
            return asyncio.shield(self._locked(fn, mode))

        try:
            return await while_busy(
                self._clock,
                once,
                attempts=BUSY_ATTEMPTS,
                first_wait=BUSY_BACKOFF_START,
                max_wait=BUSY_BACKOFF_MAX,
                what=f"{action} on {self._path}",
            )
        except sqlite3.Error as exc:
            raise self._error(action, exc) from exc

    async def close(self) -> None:
        """Close after any transaction in progress; safe to call twice."""
        async with self._lock:
            conn, self._conn = self._conn, None
            if conn is None:
                return
            try:
                # Cheap, and keeps the query planner's statistics current.
                await conn.execute_fetchall("PRAGMA optimize")
            except sqlite3.Error as exc:
                log.debug("PRAGMA optimize on close failed: %s", exc)
            await close_quietly(conn)

    async def _locked(self, fn: Callable[[aiosqlite.Connection], Awaitable[T]], mode: Mode) -> T:
        async with self._lock:
            return await self._once(fn, mode)

    async def _once(self, fn: Callable[[aiosqlite.Connection], Awaitable[T]], mode: Mode) -> T:
        conn = self._conn
        if conn is None:
            raise StoreError(f"the local records file {self._path} is closed")
        if mode == "bare":
            return await fn(conn)
        if conn.in_transaction:  # defensive: never build on a transaction left open
            await _rollback_quietly(conn)
        await conn.execute("BEGIN IMMEDIATE" if mode == "write" else "BEGIN")
        try:
            result = await fn(conn)
            await conn.execute("COMMIT")
        except BaseException:
            await _rollback_quietly(conn)
            raise
        return result

    def _error(self, action: str, exc: sqlite3.Error) -> StoreError:
        where = self._path
        if is_busy(exc):
            waited = BUSY_ATTEMPTS * BUSY_TIMEOUT_MS // 1000
            return StoreError(
                f"{action}: {where} stayed locked by another process for over {waited} s; "
                "retry, or look for a stuck portal-tui or check process"
            )
        if is_corruption(exc):
            return StoreError(
                f"{action}: {where} is damaged ({exc}); run 'portal-tui doctor'. Restarting "
                "portal-tui moves the damaged file aside and starts a fresh one."
            )
        if error_code(exc) == sqlite3.SQLITE_FULL:
            return StoreError(f"{action}: the disk holding {where} is full; free some space")
        if error_code(exc) in _UNWRITABLE:
            return StoreError(
                f"{action}: {where} cannot be written ({exc}); check its permissions and "
                "those of its directory, or set [storage] path in the config"
            )
        return StoreError(f"{action} failed on {where}: {exc}")


async def _rollback_quietly(conn: aiosqlite.Connection) -> None:
    try:
        await conn.execute("ROLLBACK")
    except (sqlite3.Error, ValueError) as exc:  # no transaction left, or connection closed
        log.debug("rollback: %s", exc)
