"""Automatic retention: when a prune is due, shared by every process using the file.

Every refresh cycle asks (:meth:`Store.prune_if_due`); a prune runs at most
once per :data:`PRUNE_INTERVAL` in total, whoever asks. The time of the last
run is kept in the file (``store_maintenance``), not in memory: ``check`` runs
from cron every few minutes in a new process each time, and two consoles may
share the file. The claim is its own ``BEGIN IMMEDIATE`` transaction, so of
two processes asking at once exactly one gets it.

Why 6 hours: retention is counted in days, so pruning four times a day lets
the file hold at most 30 days + 6 hours of logs; each run then deletes a
quarter of a day of rows (~30,000 at 27 workspaces with default refresh
intervals, a few tenths of a second), which stays short enough to ride on a
refresh cycle. A run also stops after :data:`MAX_ROWS_PER_RUN` rows
(the first run on a file that was never pruned may hold months), leaving a
backlog that the next cycle, whichever process runs it, continues.
"""

from __future__ import annotations

import aiosqlite

from portal_tui.store.rows import rows

PRUNE_TASK = "prune"
PRUNE_INTERVAL = 6 * 3600.0
"""Seconds between two prunes of one file, across all processes."""
MAX_ROWS_PER_RUN = 50_000
"""A run starts no new batch (:data:`pruning.PRUNE_BATCH` rows each) past this many rows."""

_LAST_RUN = "SELECT last_run_at, backlog FROM store_maintenance WHERE task = ?"
_CLAIM = """
INSERT INTO store_maintenance (task, last_run_at, backlog) VALUES (?, ?, 0)
ON CONFLICT (task) DO UPDATE SET last_run_at = excluded.last_run_at, backlog = 0
"""
_BACKLOG = "UPDATE store_maintenance SET backlog = 1 WHERE task = ?"


def is_due(last_run_at: float | None, backlog: bool, now: float, interval: float) -> bool:
    """Whether a task last run at ``last_run_at`` should run again at ``now``.

    A last run more than an interval in the future (the clock was set back)
    counts as due: waiting for the clock to catch up could mean no pruning
    for as long as it was off.
    """
    if last_run_at is None or backlog:
        return True
    return now - last_run_at >= interval or last_run_at - now > interval


async def due(
    conn: aiosqlite.Connection, *, now: float, interval: float, task: str = PRUNE_TASK
) -> bool:
    """Whether ``task`` is due at ``now`` (a read: most cycles stop here without the write lock)."""
    found = await rows(conn, _LAST_RUN, (task,))
    last, backlog = (found[0]["last_run_at"], bool(found[0]["backlog"])) if found else (None, False)
    return is_due(last, backlog, now, interval)


async def claim(
    conn: aiosqlite.Connection, *, now: float, interval: float, task: str = PRUNE_TASK
) -> bool:
    """Inside a write transaction: mark ``task`` as run at ``now`` if it is (still) due.

    Returns whether it was due (and is now this caller's to run).
    """
    if not await due(conn, now=now, interval=interval, task=task):
        return False
    await conn.execute(_CLAIM, (task, now))
    return True


async def leave_backlog(conn: aiosqlite.Connection, *, task: str = PRUNE_TASK) -> None:
    """Inside a write transaction: the run stopped early, so the next chance continues."""
    await conn.execute(_BACKLOG, (task,))
