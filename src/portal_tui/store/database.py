"""The local records file: :class:`Store`, the one way in and out of SQLite.

Two consoles and a cron ``check`` may share one file: WAL mode, short
``BEGIN IMMEDIATE`` write transactions and retries on lock contention (see
:mod:`portal_tui.store.transactions`) make that safe.

Times: record timestamps are whatever the caller recorded (from the injected
clock); :meth:`Store.prune` uses the injected clock too. The
``dashboard_health_summary`` view, however, uses SQLite's real now, because
a view cannot take a parameter: with a FakeClock far from real time,
:meth:`Store.health_summary` sees the rows as old or in the future.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from types import TracebackType

import aiosqlite

from portal_tui.store import pruning, retention, rollup
from portal_tui.store.alert_writes import StoreAlerts
from portal_tui.store.connection import open_checked, present_files, remove_leftovers
from portal_tui.store.cycle_writer import CycleRows, insert_cycle
from portal_tui.store.existing import open_existing
from portal_tui.store.health_records import (
    record_health,
)
from portal_tui.store.maintenance import (
    apply_migrations,
    file_sizes,
    integrity_rows,
    optimize,
    user_version,
)
from portal_tui.store.operator_records import OperatorRecords
from portal_tui.store.reading import StoreReading
from portal_tui.store.records import (
    CycleRecord,
    to_epoch,
)
from portal_tui.store.redaction import Redactor
from portal_tui.store.schema import latest_version
from portal_tui.store.standing import WorkspaceTransition
from portal_tui.store.transactions import SharedConnection
from portal_tui.store.validation import check_cycle
from portal_tui.store.verify_records import (
    VerifyResultRecord,
    insert_verify,
    verify_results_since,
    verify_rows,
)
from portal_tui.vocabulary.clock import Clock
from portal_tui.vocabulary.errors import StoreError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RecordedCycle:
    """A cycle as committed: its id and the standing transitions it caused."""

    cycle_id: int
    transitions: tuple[WorkspaceTransition, ...]


class Store(StoreReading, StoreAlerts, OperatorRecords):
    """The SQLite records file shared by the consoles and ``check``.

    Open it with :meth:`open` (or ``async with await Store.open(...)``). The
    query methods live in :class:`~portal_tui.store.reading.StoreReading`.
    Every method raises :class:`~portal_tui.vocabulary.errors.StoreError` with a
    message fit for the user when SQLite fails; a caller passing malformed
    records (naive datetimes, unknown enum values) gets ValueError.
    """

    def __init__(
        self,
        conn: aiosqlite.Connection,
        *,
        path: Path,
        clock: Clock,
        retention_days: float,
        resolved_retention_days: float,
        redactor: Redactor,
        notices: list[str],
        raw_hours: float = rollup.RAW_HOURS,
    ) -> None:
        self._db = SharedConnection(conn, path, clock)
        self._path = path
        self._clock = clock
        self._retention_days = retention_days
        self._resolved_retention_days = resolved_retention_days
        self._raw_hours = raw_hours
        self._redactor = redactor
        self.notices: list[str] = notices
        """Things the user should be told once (a corrupt file moved aside, ...)."""

    @classmethod
    async def open(
        cls,
        path: Path | str,
        *,
        clock: Clock,
        retention_days: float = 30.0,
        resolved_retention_days: float = 90.0,
        raw_hours: float = rollup.RAW_HOURS,
        redact_values: Iterable[str] = (),
        redact: Callable[[str], str] | None = None,
        create: bool = True,
    ) -> Store:
        """Open (creating if need be) the records file at ``path`` and migrate it.

        With ``create=False`` (the commands that only read) the file must
        exist and nothing is ever created: a damaged file is moved aside and
        :class:`~portal_tui.store.connection.DamagedRecords` raised, and a file
        this user cannot write is opened read-only (see
        :mod:`portal_tui.store.existing`).

        ``redact_values`` are exact values (the configured tokens) that must
        never be written; pass only token values, not the whole environment
        (values under 8 characters are ignored). ``redact`` is an extra
        scrubber applied to free text after the built-in one (see
        :mod:`portal_tui.store.redaction`). More values can be added later
        with :meth:`add_secrets`.

        A damaged file is moved aside (see :attr:`notices`); a file from a
        newer portal-tui, another program's file, or an unusable location
        raises StoreError and leaves the file untouched.
        """
        if retention_days <= 0 or resolved_retention_days <= 0 or raw_hours <= 0:
            raise ValueError("retention periods must be positive")
        path = Path(path).expanduser()
        before = await asyncio.to_thread(present_files, path)
        try:
            if create:
                conn, path, notices = await open_checked(path, clock)
                read_only = False
            else:
                conn, path, notices, can_write = await open_existing(path, clock)
                read_only = not can_write
        except StoreError:
            await asyncio.to_thread(remove_leftovers, path, before)
            raise
        store = cls(
            conn,
            path=path,
            clock=clock,
            retention_days=retention_days,
            resolved_retention_days=resolved_retention_days,
            redactor=Redactor(redact_values, redact),
            notices=notices,
            raw_hours=raw_hours,
        )
        try:
            await store._migrate(read_only=read_only)
        except BaseException:
            await store.close()
            await asyncio.to_thread(remove_leftovers, path, before)
            raise
        return store

    async def close(self) -> None:
        """Close the file (after any operation in progress). Safe to call twice."""
        await self._db.close()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def path(self) -> Path:
        """The records file."""
        return self._path

    def add_secrets(self, secrets: Iterable[str]) -> None:
        """Also redact these exact values from everything written from now on."""
        self._redactor.add_secrets(secrets)

    # -- writing --------------------------------------------------------------

    async def record_cycle(self, cycle: CycleRecord) -> int:
        """Write everything a refresh cycle learnt in one transaction; returns its id."""
        return (await self.record(cycle)).cycle_id

    async def record(self, cycle: CycleRecord) -> RecordedCycle:
        """Write everything a refresh cycle learnt in one transaction.

        Either every row of the cycle (its ``refresh_cycles`` row, API calls,
        validation upserts and resolutions, cache metadata, snapshots, the
        workspaces' standing and the transitions it causes) is committed, or
        none is. Returns the cycle id and those transitions.
        """
        check_cycle(cycle)
        # ~14,000 rows at 1,000 workspaces (~70 ms): built in a worker thread, so the
        # event loop (and a console drawing from it) keeps running meanwhile.
        redactor = self._redactor
        rows = await asyncio.to_thread(CycleRows.build, cycle, redactor, redactor.exact)
        cycle_id, moved = await self._db.run(
            "recording a refresh cycle", partial(insert_cycle, rows=rows)
        )
        return RecordedCycle(cycle_id, tuple(moved))

    async def prune(self, now: datetime | None = None) -> dict[str, int]:
        """Delete rows past retention; returns rows deleted per table.

        API logs, transitions and cycles older than ``retention_days``;
        resolved validation errors resolved more than
        ``resolved_retention_days`` ago. Open errors are kept however old.
        """
        result = await self._prune(to_epoch(now or self._clock.now()), max_rows=None)
        await self._db.run("optimizing", optimize, mode="bare")
        return result.deleted

    async def prune_if_due(self, now: datetime | None = None) -> dict[str, int] | None:
        """After every cycle: prune if no process on this file did in the last 6 hours.

        See :mod:`portal_tui.store.retention`. Rows deleted per table, or None
        when not due or failed: a failure is logged and noticed once, never raised
        (each batch commits whole or not at all).
        """
        deleted = await self._prune_if_due(to_epoch(now or self._clock.now()))
        await self.roll_up_if_due(now)  # hourly; after pruning, so expired rows are not packed
        return deleted

    async def _prune_if_due(self, at: float) -> dict[str, int] | None:
        every = retention.PRUNE_INTERVAL
        try:
            due = partial(retention.due, now=at, interval=every)
            if not await self._db.run("reading the pruning schedule", due, mode="read"):
                return None
            claim = partial(retention.claim, now=at, interval=every)
            if not await self._db.run("scheduling retention pruning", claim):
                return None  # another process claimed it a moment ago
            result = await self._prune(at, max_rows=retention.MAX_ROWS_PER_RUN)
            if result.complete:
                await self._db.run("optimizing", optimize, mode="bare")
            else:
                await self._db.run("noting a pruning backlog", retention.leave_backlog)
        except StoreError as exc:
            self._notice_once(f"Pruning old records failed and is retried later: {exc}")
            return None
        if any(result.deleted.values()):
            log.info("pruned %s from %s", result.deleted, self._path)
        return result.deleted

    async def roll_up_if_due(self, now: datetime | None = None) -> int | None:
        """Move raw API attempts past the raw window into hourly buckets, if due (hourly).

        See :mod:`portal_tui.store.rollup`; asked by :meth:`prune_if_due` after every
        cycle. Attempts moved, or None when not due or failed (logged and noticed once,
        never raised: each batch commits whole or not at all).
        """
        at = to_epoch(now or self._clock.now())
        try:
            result = await rollup.roll_up_if_due(
                self._db, now=at, raw_hours=self._raw_hours, retention_days=self._retention_days
            )
        except StoreError as exc:
            self._notice_once(f"Rolling up old API attempts failed and is retried later: {exc}")
            return None
        return None if result is None else result.rolled

    async def roll_up(self, now: datetime | None = None) -> int:
        """Move every raw API attempt past the raw window into its bucket; returns how many."""
        at = to_epoch(now or self._clock.now())
        done = await rollup.roll_up(
            self._db,
            now=at,
            raw_hours=self._raw_hours,
            max_rows=None,
            retention_days=self._retention_days,
        )
        return done.rolled

    def _notice_once(self, notice: str) -> None:
        log.info("%s", notice)  # said through the notices, once
        if notice not in self.notices:
            self.notices.append(notice)

    async def _prune(self, at: float, *, max_rows: int | None) -> pruning.PruneResult:
        return await pruning.prune(
            self._db,
            now=at,
            retention_days=self._retention_days,
            resolved_retention_days=self._resolved_retention_days,
            max_rows=max_rows,
        )

    # -- writing health -------------------------------------------------------

    async def record_health(
        self, cycle_id: int, score: int, level: str, reasons: tuple[str, ...]
    ) -> None:
        """Keep the verdict a recorded cycle ended on, for trends and the restored first frame."""
        write = partial(
            record_health,
            cycle_id=cycle_id,
            score=score,
            level=level,
            reasons=tuple(self._redactor(r) for r in reasons),
        )
        await self._db.run("recording the health verdict", write)

    # -- verify ---------------------------------------------------------------

    async def record_verification(self, results: Sequence[VerifyResultRecord]) -> None:
        """Write one ``verify`` run's rows in one transaction."""
        rows = verify_rows(results, self._redactor)
        if rows:
            await self._db.run("recording a verify run", partial(insert_verify, rows=rows))

    async def verify_results(self, since: datetime) -> list[VerifyResultRecord]:
        """Rows of ``verify`` runs since ``since``, oldest run first."""
        query = partial(verify_results_since, since=since)
        return await self._db.run("reading verify results", query, mode="read")

    # -- maintenance ----------------------------------------------------------

    async def schema_version(self) -> int:
        """The file's schema version (``PRAGMA user_version``)."""
        return await self._db.run("reading the schema version", user_version, mode="read")

    async def integrity_check(self) -> list[str]:
        """Problems found by a full ``PRAGMA integrity_check``; empty when the file is sound."""
        rows = await self._db.run("checking integrity", integrity_rows, mode="bare")
        return [] if rows == ["ok"] else rows

    async def size_bytes(self) -> int:
        """Bytes on disk: the file plus its write-ahead log."""
        return await asyncio.to_thread(file_sizes, self._path)

    # -- alerts ---------------------------------------------------------------

    def redact(self, text: str) -> str:
        """``text`` through the store's redactor (what every written text passes)."""
        return self._redactor(text)

    # -- internals ------------------------------------------------------------

    async def _migrate(self, *, read_only: bool = False) -> None:
        # Only take the write lock when there is something to do, so an
        # up-to-date file opens without waiting for another console's write.
        version = await self._db.run("reading the schema version", user_version, mode="read")
        if version < latest_version() and read_only:
            raise StoreError(
                f"the local records file {self._path} has schema version {version}, older than "
                f"this portal-tui reads ({latest_version()}), and is read-only, so it cannot be "
                "upgraded; copy it to a writable place and pass --db COPY"
            )
        if version < latest_version():
            await self._db.run("upgrading the schema", partial(apply_migrations, path=self._path))
