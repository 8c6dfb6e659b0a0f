"""The embedded shared tier: leases and responses in the records file itself.

Every process on one file (consoles, ``watch``, cron ``check``) sees the
same ``shared_leases`` and ``shared_responses`` tables (schema v5). The tier
has its own connection, so a lease never queues behind this process's
snapshot write; each operation is one short ``BEGIN IMMEDIATE`` transaction
with the store's busy retries. Waiting is polling, but one query per poll
interval for every lease this process waits on, not one per waiter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import aiosqlite

from portal_tui.shared.tier import Lease, LeaseEnd, Stored, TierKind, TierUnavailable
from portal_tui.store.connection import connect
from portal_tui.store.redaction import Redactor
from portal_tui.store.transactions import Mode, SharedConnection
from portal_tui.vocabulary.clock import Clock
from portal_tui.vocabulary.errors import ErrorType, PortalError, UpstreamError

log = logging.getLogger(__name__)

PRUNE_EVERY = 300.0
"""Seconds (wall) between deletions of shared rows too old to serve."""
_CHUNK = 500  # names per IN (...) when polling


class SqliteTier:
    """Leases and shared responses in the records file at ``path`` (already migrated)."""

    kind: TierKind = "sqlite"

    def __init__(
        self,
        path: Path,
        clock: Clock,
        *,
        holder: str,
        lease_seconds: float = 15.0,
        poll_interval: float = 0.05,
        max_staleness: float = 3600.0,
        redactor: Redactor | None = None,
    ) -> None:
        self.holder = holder
        self._path = path
        self._clock = clock
        self._lease = lease_seconds
        self._poll = poll_interval
        self._max_staleness = max_staleness
        self._redact = redactor or Redactor()
        self._db: SharedConnection | None = None
        self._opening = asyncio.Lock()
        self._waiting: dict[str, list[asyncio.Future[LeaseEnd]]] = {}
        self._reads: dict[str, list[asyncio.Future[Stored | None]]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._poller: asyncio.Task[None] | None = None
        self._pruned_at = 0.0

    @property
    def where(self) -> str:
        """The records file."""
        return str(self._path)

    # -- connection ---------------------------------------------------------------------

    async def _run(self, action: str, fn: Any, *, mode: Mode = "write") -> Any:
        db = self._db
        if db is None:
            async with self._opening:
                if self._db is None:
                    try:
                        conn = await connect(self._path)
                        conn.row_factory = aiosqlite.Row
                        # As the store's own connection: in WAL mode, a commit that
                        # waits for no fsync (a lost lease or response costs a refetch).
                        await conn.execute_fetchall("PRAGMA synchronous = NORMAL")
                        self._db = SharedConnection(conn, self._path, self._clock)
                    except (PortalError, sqlite3.Error) as exc:
                        raise TierUnavailable(str(exc)) from exc
                db = self._db
        try:
            return await db.run(action, fn, mode=mode)
        except PortalError as exc:
            raise TierUnavailable(str(exc)) from exc

    async def aclose(self) -> None:
        """Stop polling and close the connection."""
        for task in (self._poller, self._reader):
            if task is not None:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        for futures in self._waiting.values():
            for fut in futures:
                if not fut.done():
                    fut.set_exception(TierUnavailable("the shared tier was closed"))
        self._waiting.clear()
        if self._db is not None:
            db, self._db = self._db, None
            with contextlib.suppress(Exception):
                await db.close()

    def _now(self) -> float:
        return self._clock.now().timestamp()

    # -- responses ----------------------------------------------------------------------

    async def read(self, key: str) -> Stored | None:
        """What is stored for ``key``, if anything.

        Reads asked for in one event-loop iteration (a refresh starts a hundred
        requests at once) are answered by one query.
        """
        fut: asyncio.Future[Stored | None] = asyncio.get_running_loop().create_future()
        self._reads.setdefault(key, []).append(fut)
        if self._reader is None or self._reader.done():
            self._reader = asyncio.get_running_loop().create_task(self._read_batch())
        return await fut

    async def _read_batch(self) -> None:
        await asyncio.sleep(0)  # let the rest of this iteration's reads join
        while self._reads:
            batch, self._reads = self._reads, {}
            keys = list(batch)

            async def fn(
                conn: aiosqlite.Connection, keys: Sequence[str] = keys
            ) -> dict[str, Stored]:
                found: dict[str, Stored] = {}
                for chunk in _chunks(keys, _CHUNK):
                    marks = ",".join("?" * len(chunk))
                    async with conn.execute(
                        "SELECT cache_key, fetched_at, payload, failed_at, error_type,"
                        " error_message, status_code FROM shared_responses"
                        f" WHERE cache_key IN ({marks})",
                        tuple(chunk),
                    ) as cur:
                        for row in await cur.fetchall():
                            found[row["cache_key"]] = Stored(
                                row["fetched_at"],
                                None if row["payload"] is None else bytes(row["payload"]),
                                row["failed_at"],
                                _error(row),
                            )
                return found

            try:
                found = await self._run("read shared responses", fn, mode="read")
            except TierUnavailable as exc:
                for futures in batch.values():
                    for fut in futures:
                        if not fut.done():
                            fut.set_exception(exc)
                continue
            for key, futures in batch.items():
                for fut in futures:
                    if not fut.done():
                        fut.set_result(found.get(key))

    async def put(self, lease: Lease, key: str, stored: Stored) -> None:
        """Store the response or the failure, fenced: an older holder never overwrites."""

        async def fn(conn: aiosqlite.Connection) -> None:
            await self._put_rows(conn, lease, [(key, stored)])

        await self._run("share a response", fn)

    async def _put_rows(
        self, conn: aiosqlite.Connection, lease: Lease, rows: Sequence[tuple[str, Stored]]
    ) -> None:
        now = self._now()
        for key, stored in rows:
            error = stored.error
            if error is None:
                await conn.execute(
                    """
                    INSERT INTO shared_responses (cache_key, fence, holder, fetched_at, payload)
                    VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (cache_key) DO UPDATE SET
                        fence = excluded.fence, holder = excluded.holder,
                        fetched_at = excluded.fetched_at, payload = excluded.payload,
                        failed_at = NULL, error_type = NULL, error_message = NULL,
                        status_code = NULL
                    WHERE excluded.fence >= shared_responses.fence
                    """,
                    (key, lease.fence, lease.holder, stored.fetched_at, stored.payload),
                )
            else:
                await conn.execute(
                    """
                    INSERT INTO shared_responses (cache_key, fence, holder, failed_at,
                                                  error_type, error_message, status_code)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (cache_key) DO UPDATE SET
                        fence = excluded.fence, holder = excluded.holder,
                        failed_at = excluded.failed_at, error_type = excluded.error_type,
                        error_message = excluded.error_message,
                        status_code = excluded.status_code
                    WHERE excluded.fence >= shared_responses.fence
                    """,
                    (
                        key,
                        lease.fence,
                        lease.holder,
                        stored.failed_at,
                        error.error_type.value,
                        self._redact(error.message),
                        error.status_code,
                    ),
                )
        if rows and now - self._pruned_at > PRUNE_EVERY:
            self._pruned_at = now
            await _prune(conn, now - self._max_staleness)

    # -- leases -------------------------------------------------------------------------

    async def take(self, name: str, *, queue: bool = False) -> Lease | None:
        """The lease on ``name`` (a new fence), or None while someone else holds it."""
        me, now, lease = self.holder, self._now(), self._lease

        async def fn(conn: aiosqlite.Connection) -> Lease | None:
            async with conn.execute(
                "SELECT holder, fence, state, expires_at, next_holder, next_until"
                " FROM shared_leases WHERE lease_key = ?",
                (name,),
            ) as cur:
                row = await cur.fetchone()
            if row is not None:
                held = row["state"] == "held" and row["expires_at"] > now
                someone_next = (
                    row["next_holder"] not in (None, me) and (row["next_until"] or 0) > now
                )
                if (held and row["holder"] != me) or (queue and someone_next):
                    if queue and not someone_next:
                        await conn.execute(
                            "UPDATE shared_leases SET next_holder = ?, next_until = ?"
                            " WHERE lease_key = ?",
                            (me, now + lease, name),
                        )
                    return None
            fence = 1 if row is None else int(row["fence"]) + 1
            await conn.execute(
                """
                INSERT INTO shared_leases (lease_key, holder, fence, state, taken_at, expires_at)
                VALUES (?, ?, ?, 'held', ?, ?)
                ON CONFLICT (lease_key) DO UPDATE SET
                    holder = excluded.holder, fence = excluded.fence, state = 'held',
                    taken_at = excluded.taken_at, expires_at = excluded.expires_at,
                    ended_at = NULL,
                    next_holder = CASE WHEN next_holder = excluded.holder
                                       THEN NULL ELSE next_holder END,
                    next_until = CASE WHEN next_holder = excluded.holder
                                      THEN NULL ELSE next_until END
                """,
                (name, me, fence, now, now + lease),
            )
            return Lease(name, me, fence)

        result: Lease | None = await self._run("take a shared lease", fn)
        return result

    async def renew(self, lease: Lease) -> bool:
        """Push the expiry on by a lease's life; False if the lease is no longer ours."""
        until = self._now() + self._lease

        async def fn(conn: aiosqlite.Connection) -> bool:
            cur = await conn.execute(
                "UPDATE shared_leases SET expires_at = ? WHERE lease_key = ? AND holder = ?"
                " AND fence = ? AND state = 'held'",
                (until, lease.name, lease.holder, lease.fence),
            )
            return cur.rowcount == 1

        result: bool = await self._run("renew a shared lease", fn)
        return result

    async def release(self, lease: Lease, results: Sequence[tuple[str, Stored]] = ()) -> None:
        """Store ``results`` (fenced) and end the lease if it is still ours, in one
        transaction (waiters see it at their next look)."""
        now = self._now()

        async def fn(conn: aiosqlite.Connection) -> None:
            await self._put_rows(conn, lease, results)
            await conn.execute(
                "UPDATE shared_leases SET state = 'free', ended_at = ?"
                " WHERE lease_key = ? AND holder = ? AND fence = ? AND state = 'held'",
                (now, lease.name, lease.holder, lease.fence),
            )

        await self._run("release a shared lease", fn)

    # -- waiting ------------------------------------------------------------------------

    async def wait(self, name: str, within: float) -> LeaseEnd | None:
        """How the lease on ``name`` ended, or None if it is still held after ``within`` s."""
        fut: asyncio.Future[LeaseEnd] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(name, []).append(fut)
        if self._poller is None or self._poller.done():
            self._poller = asyncio.get_running_loop().create_task(self._poll_loop())
        try:
            async with self._clock.timeout(within):
                return await asyncio.shield(fut)
        except TimeoutError:
            return None
        finally:
            futures = self._waiting.get(name)
            if futures is not None and fut in futures:
                futures.remove(fut)
                if not futures:
                    del self._waiting[name]
            if not fut.done():
                fut.cancel()

    async def _poll_loop(self) -> None:
        while self._waiting:
            names = list(self._waiting)
            try:
                ends = await self._ends(names)
            except TierUnavailable as exc:
                for futures in self._waiting.values():
                    for fut in futures:
                        if not fut.done():
                            fut.set_exception(exc)
                return
            for name, end in ends.items():
                for fut in self._waiting.get(name, ()):
                    if not fut.done():
                        fut.set_result(end)
            await self._clock.sleep(self._poll)

    async def _ends(self, names: Sequence[str]) -> dict[str, LeaseEnd]:
        now = self._now()

        async def fn(conn: aiosqlite.Connection) -> dict[str, LeaseEnd]:
            rows: dict[str, Any] = {}
            for chunk in _chunks(names, _CHUNK):
                marks = ",".join("?" * len(chunk))
                async with conn.execute(
                    "SELECT lease_key, state, expires_at"
                    f" FROM shared_leases WHERE lease_key IN ({marks})",
                    tuple(chunk),
                ) as cur:
                    for found in await cur.fetchall():
                        rows[found["lease_key"]] = found
            ends: dict[str, LeaseEnd] = {}
            for name in names:
                row = rows.get(name)
                if row is None or row["state"] != "held":
                    ends[name] = LeaseEnd("free")
                elif row["expires_at"] <= now:
                    ends[name] = LeaseEnd("expired")
            return ends

        result: dict[str, LeaseEnd] = await self._run("look at shared leases", fn, mode="read")
        return result


def _error(row: Any) -> UpstreamError | None:
    if row["error_type"] is None:
        return None
    try:
        kind = ErrorType(row["error_type"])
    except ValueError:
        kind = ErrorType.NETWORK
    return UpstreamError(kind, row["error_message"] or "failed", status_code=row["status_code"])


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def _prune(conn: aiosqlite.Connection, cutoff: float) -> None:
    """Drop responses (and failures) too old to serve."""
    await conn.execute(
        "DELETE FROM shared_responses"
        " WHERE max(coalesce(fetched_at, 0), coalesce(failed_at, 0)) < ?",
        (cutoff,),
    )
