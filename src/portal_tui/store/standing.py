"""Each workspace's standing, kept in the records: failing and recovered, with hysteresis.

One failed cycle is a blip: a workspace is FAILING after ``fail_after`` failed
cycles in a row and RECOVERED after ``recover_after`` good ones. The runs are
counted in the ``workspace_standing`` table, inside the transaction that
records the cycle, so every process sharing the file (two consoles and a cron
``check``) counts into the same runs: three ``check`` runs that each see one
failure make one FAILING transition, and "failing since" is the first failure
of the streak, whoever recorded it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import aiosqlite

from portal_tui.store.records import (
    Hysteresis,
    WorkspaceObservation,
    WorkspaceState,
    from_epoch,
    to_epoch,
)
from portal_tui.store.rows import Row, rows


@dataclass(frozen=True, slots=True)
class Standing:
    """A workspace's run of failed or good cycles and the state it implies (one table row)."""

    instance: str
    workspace_id: int
    workspace: str
    state: WorkspaceState = WorkspaceState.OK
    failures_in_row: int = 0
    successes_in_row: int = 0
    failing_since: datetime | None = None
    """First failure of the current streak (None while the last cycle was good)."""
    state_since: datetime | None = None
    dashboards: tuple[str, ...] = ()
    reason: str = ""
    updated_at: datetime | None = None
    run_after: datetime | None = None
    """The last observation before the current run of failed or good cycles began
    (None: no earlier observation is known)."""


@dataclass(frozen=True, slots=True)
class WorkspaceTransition:
    """A workspace started failing or recovered (after hysteresis)."""

    instance: str
    workspace: str
    from_state: WorkspaceState
    to_state: WorkspaceState
    dashboards: tuple[str, ...]
    reason: str
    at: datetime
    since: datetime | None = None
    """For FAILING: the first failure of the streak."""


def advance(
    before: Standing | None, seen: WorkspaceObservation, policy: Hysteresis
) -> tuple[Standing, WorkspaceTransition | None]:
    """Count one observation into a workspace's standing; the transition it causes, if any.

    Observations arrive in the order cycles are recorded, which is not always
    the order they were made: two processes' cycles run side by side, and the
    one that finished fetching first may be recorded second. A late
    observation (older than the last one counted) still counts when it
    belongs to the current run: it agrees with it and came after the last
    observation that disagreed (``run_after``). Two concurrent good cycles
    are then two good cycles, whichever is recorded first. A late one that
    disagrees is ignored, so a stale failure never resets a newer good run.
    """
    now = before or Standing(seen.instance, seen.workspace_id, seen.workspace)
    failing_run = now.failures_in_row > 0
    late = now.updated_at is not None and seen.at < now.updated_at
    if late:
        after_run_began = now.run_after is None or seen.at > now.run_after
        if seen.failed != failing_run or not after_run_began:
            return now, None
    elif now.updated_at is not None and seen.failed != failing_run:
        now = replace(now, run_after=now.updated_at)  # a new run begins after this one
    newest = now if late else replace(now, workspace=seen.workspace, updated_at=seen.at)
    if seen.failed:
        first = seen.at if now.failing_since is None else min(now.failing_since, seen.at)
        now = replace(
            newest,
            failures_in_row=now.failures_in_row + 1,
            successes_in_row=0,
            failing_since=first,
            dashboards=now.dashboards if late else seen.failed_dashboards,
            reason=now.reason if late else seen.reason,
        )
        if now.state is not WorkspaceState.FAILING and now.failures_in_row >= policy.fail_after:
            return _move(now, WorkspaceState.FAILING, seen.at)
        return now, None
    now = replace(
        newest,
        successes_in_row=now.successes_in_row + 1,
        failures_in_row=0,
        failing_since=None,
    )
    if now.state is WorkspaceState.FAILING and now.successes_in_row >= policy.recover_after:
        return _move(now, WorkspaceState.RECOVERED, seen.at, reason="refreshing normally again")
    return now, None


def _move(
    standing: Standing, to_state: WorkspaceState, at: datetime, *, reason: str | None = None
) -> tuple[Standing, WorkspaceTransition]:
    moved = replace(
        standing,
        state=to_state,
        state_since=at,
        reason=reason if reason is not None else standing.reason,
        dashboards=standing.dashboards if to_state is WorkspaceState.FAILING else (),
    )
    transition = WorkspaceTransition(
        standing.instance,
        standing.workspace,
        standing.state,
        to_state,
        moved.dashboards,
        moved.reason,
        at,
        since=standing.failing_since if to_state is WorkspaceState.FAILING else None,
    )
    return moved, transition


_SELECT = """
SELECT instance, workspace_id, workspace, state, failures_in_row, successes_in_row,
    failing_since, state_since, dashboards, reason, updated_at, run_after
FROM workspace_standing
"""

_UPSERT = """
INSERT INTO workspace_standing (instance, workspace_id, workspace, state, failures_in_row,
    successes_in_row, failing_since, state_since, dashboards, reason, updated_at, run_after)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (instance, workspace_id) DO UPDATE SET
    workspace = excluded.workspace,
    state = excluded.state,
    failures_in_row = excluded.failures_in_row,
    successes_in_row = excluded.successes_in_row,
    failing_since = excluded.failing_since,
    state_since = excluded.state_since,
    dashboards = excluded.dashboards,
    reason = excluded.reason,
    updated_at = excluded.updated_at,
    run_after = excluded.run_after
"""


def _standing(row: Row) -> Standing:
    def when(value: float | None) -> datetime | None:
        return None if value is None else from_epoch(value)

    return Standing(
        instance=row["instance"],
        workspace_id=row["workspace_id"],
        workspace=row["workspace"],
        state=WorkspaceState(row["state"]),
        failures_in_row=row["failures_in_row"],
        successes_in_row=row["successes_in_row"],
        failing_since=when(row["failing_since"]),
        state_since=when(row["state_since"]),
        dashboards=tuple(d for d in row["dashboards"].split(",") if d),
        reason=row["reason"],
        updated_at=when(row["updated_at"]),
        run_after=when(row["run_after"]),
    )


async def read_standings(conn: aiosqlite.Connection) -> list[Standing]:
    """Every workspace's standing, in instance and name order."""
    return [_standing(row) for row in await rows(conn, _SELECT + " ORDER BY instance, workspace")]


async def apply_observations(
    conn: aiosqlite.Connection,
    observations: Sequence[WorkspaceObservation],
    policy: Hysteresis,
) -> list[WorkspaceTransition]:
    """Count a cycle's observations into the table (the caller holds the write transaction)."""
    if not observations:
        return []
    current = {(s.instance, s.workspace_id): s for s in await read_standings(conn)}
    rows: list[tuple[object, ...]] = []
    transitions: list[WorkspaceTransition] = []
    for seen in observations:
        after, moved = advance(current.get((seen.instance, seen.workspace_id)), seen, policy)
        current[(seen.instance, seen.workspace_id)] = after
        if moved is not None:
            transitions.append(moved)
        rows.append(
            (
                after.instance,
                after.workspace_id,
                after.workspace,
                after.state.value,
                after.failures_in_row,
                after.successes_in_row,
                None if after.failing_since is None else to_epoch(after.failing_since),
                None if after.state_since is None else to_epoch(after.state_since),
                ",".join(after.dashboards),
                after.reason,
                None if after.updated_at is None else to_epoch(after.updated_at),
                None if after.run_after is None else to_epoch(after.run_after),
            )
        )
    await conn.executemany(_UPSERT, rows)
    return transitions


STANDING_TABLE = """
CREATE TABLE workspace_standing (
    instance         TEXT NOT NULL,
    workspace_id     INTEGER NOT NULL,
    workspace        TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('ok', 'failing', 'recovered')),
    failures_in_row  INTEGER NOT NULL DEFAULT 0 CHECK (failures_in_row >= 0),
    successes_in_row INTEGER NOT NULL DEFAULT 0 CHECK (successes_in_row >= 0),
    failing_since    REAL,
    state_since      REAL,
    dashboards       TEXT NOT NULL DEFAULT '',
    reason           TEXT NOT NULL DEFAULT '',
    updated_at       REAL,
    PRIMARY KEY (instance, workspace_id)
) WITHOUT ROWID
"""
