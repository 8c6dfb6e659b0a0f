"""``verify_results``: what ``portal-tui verify`` found, one row per workspace and dashboard.

A verify run re-fetches a sample of workspaces past the cache and compares
each recorded row with one computed from the new responses. Its rows are
written in one transaction (a run is whole or absent) and pruned with the
API logs (``retention_days``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiosqlite

from portal_tui.store.records import from_epoch, to_epoch

STATUSES = ("match", "differs", "unverified")

_INSERT = """
INSERT INTO verify_results (run_at, instance, workspace_id, workspace, dashboard, status,
    recorded_at, fetched_at, differences, message)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""

_COLUMNS = """
    run_at, instance, workspace_id, workspace, dashboard, status, recorded_at, fetched_at,
    differences, message
"""


@dataclass(frozen=True, slots=True)
class VerifyResultRecord:
    """One workspace on one dashboard, as a verify run found it."""

    run_at: datetime
    instance: str
    workspace_id: int
    workspace: str
    dashboard: str
    status: str  # match | differs | unverified
    recorded_at: datetime | None  # when the recorded row's data was fetched
    fetched_at: datetime | None  # when verify re-fetched it
    differences: Sequence[dict[str, Any]] = ()  # {"field", "recorded", "fetched"}
    message: str = ""


def verify_rows(
    records: Sequence[VerifyResultRecord], redact: Callable[[str], str]
) -> list[tuple[object, ...]]:
    """SQL parameters, checked (ValueError on an unknown status or a naive time)."""
    rows: list[tuple[object, ...]] = []
    for r in records:
        if r.status not in STATUSES:
            raise ValueError(f"verify status {r.status!r} is not one of {', '.join(STATUSES)}")
        rows.append(
            (
                to_epoch(r.run_at),
                r.instance,
                r.workspace_id,
                r.workspace,
                r.dashboard,
                r.status,
                None if r.recorded_at is None else to_epoch(r.recorded_at),
                None if r.fetched_at is None else to_epoch(r.fetched_at),
                redact(json.dumps(list(r.differences), default=str, allow_nan=False)),
                redact(r.message),
            )
        )
    return rows


async def insert_verify(conn: aiosqlite.Connection, rows: Sequence[tuple[object, ...]]) -> None:
    """Write one run's rows (caller's transaction)."""
    await conn.executemany(_INSERT, rows)


async def verify_results_since(
    conn: aiosqlite.Connection, *, since: datetime
) -> list[VerifyResultRecord]:
    """Rows of runs at or after ``since``, oldest run first."""
    cursor = await conn.execute(
        f"SELECT {_COLUMNS} FROM verify_results WHERE run_at >= ? ORDER BY run_at, id",
        (to_epoch(since),),
    )
    fetched = list(await cursor.fetchall())
    names = [str(column[0]) for column in cursor.description]  # read by name, not position
    found: list[VerifyResultRecord] = []
    for values in fetched:
        r = dict(zip(names, values, strict=True))
        try:
            differences = json.loads(r["differences"])
        except ValueError:
            differences = []
        found.append(
            VerifyResultRecord(
                run_at=from_epoch(r["run_at"]),
                instance=r["instance"],
                workspace_id=int(r["workspace_id"]),
                workspace=r["workspace"],
                dashboard=r["dashboard"],
                status=r["status"],
                recorded_at=None if r["recorded_at"] is None else from_epoch(r["recorded_at"]),
                fetched_at=None if r["fetched_at"] is None else from_epoch(r["fetched_at"]),
                differences=differences if isinstance(differences, list) else [],
                message=r["message"],
            )
        )
    return found
