"""The alert outbox: one row per event, written in the transaction that causes it.

A workspace going FAILING or RECOVERED (after the hysteresis), the health
level changing (OK / WARNING / CRITICAL), a new error-severity consistency
finding (FINDING) and alert delivery failing repeatedly (DELIVERY_FAILING)
each insert one row here, inside the very transaction that records the
transition, so an event exists exactly when its cause is committed.

Senders in any process sharing the file claim rows with a lease (an
``UPDATE ... WHERE claimed_until < now`` in a write transaction), send,
then mark them delivered: one message per event between every console,
``check`` and ``watch``. A sender that dies after sending and before
marking leaves the row to be sent again once its lease lapses (at least
once across a crash, exactly once otherwise).

Every text here was redacted before it reached the transaction (the
store's redactor): no token is ever in a message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from portal_tui.store.records import from_epoch, to_epoch
from portal_tui.store.standing import WorkspaceTransition

KINDS_V9 = ("FAILING", "RECOVERED", "OK", "WARNING", "CRITICAL", "FINDING", "DELIVERY_FAILING")
"""The kinds of migration 9's table (released: never change it)."""
KINDS = (*KINDS_V9, "REMINDER")
"""The kinds today (migration 10 added REMINDER, :mod:`portal_tui.store.outbox_v10`)."""
NEXT_STEP = "Next: run `portal-tui export` for the records (and `portal-tui doctor`)."
DELIVERY_FAILING_AFTER = 3
"""Failed delivery attempts of one event before a DELIVERY_FAILING event is raised."""

OUTBOX_TABLE = f"""
CREATE TABLE alert_outbox (
    id            INTEGER PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ({", ".join(repr(k) for k in KINDS_V9)})),
    subject       TEXT NOT NULL,
    title         TEXT NOT NULL,
    body          TEXT NOT NULL,
    created_at    REAL NOT NULL,
    claimed_by    TEXT,
    claimed_until REAL NOT NULL DEFAULT 0,
    attempts      INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    delivered_at  REAL,
    last_error    TEXT,
    sent_to       TEXT NOT NULL DEFAULT ''
)
"""
LEVELS_TABLE = """
CREATE TABLE alert_levels (
    subject TEXT PRIMARY KEY,
    level   TEXT NOT NULL,
    at      REAL NOT NULL
) WITHOUT ROWID
"""
"""The level last announced per subject ('health'): health events fire on its changes."""
OUTBOX_INDEX = (
    "CREATE INDEX alert_outbox_pending ON alert_outbox (claimed_until) WHERE delivered_at IS NULL"
)

_INSERT = """
INSERT INTO alert_outbox (kind, subject, title, body, created_at) VALUES (?, ?, ?, ?, ?)
"""


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One row of the outbox."""

    id: int
    kind: str
    subject: str
    title: str
    body: str
    created_at: datetime
    attempts: int = 0
    delivered_at: datetime | None = None
    last_error: str | None = None
    sent_to: tuple[str, ...] = ()
    target: str | None = None
    """The one target this event is for (a REMINDER, per target); None: every target."""


def _when(at: datetime | None) -> str:
    return "unknown" if at is None else at.strftime("%Y-%m-%d %H:%M:%S UTC")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def workspace_event(t: WorkspaceTransition) -> tuple[str, str, str, str, float]:
    """The outbox row of a workspace transition (its texts are already redacted)."""
    subject = f"{t.workspace} ({t.instance})"
    if t.to_state.value == "failing":
        kind = "FAILING"
        title = f"FAILING {subject}: {t.reason} on {_plural(len(t.dashboards), 'dashboard')}"
        body = (
            f"Failing since {_when(t.since or t.at)} (confirmed {_when(t.at)}).\n"
            f"What failed: {t.reason} on {', '.join(t.dashboards) or 'its dashboards'}.\n"
            f"{NEXT_STEP}"
        )
    else:
        kind = "RECOVERED"
        title = f"RECOVERED {subject}: refreshing normally again"
        body = (
            f"Refreshing normally again since {_when(t.at)}.\n"
            f"What was failing: {t.reason}.\n{NEXT_STEP}"
        )
    return kind, subject, title, body, to_epoch(t.at)


async def enqueue_transitions(
    conn: aiosqlite.Connection, transitions: Sequence[WorkspaceTransition]
) -> None:
    """One event per FAILING / RECOVERED transition (the caller holds the transaction)."""
    if transitions:
        await conn.executemany(_INSERT, [workspace_event(t) for t in transitions])


async def enqueue_health_change(
    conn: aiosqlite.Connection,
    cycle_id: int,
    score: int,
    level: str,
    reasons: tuple[str, ...],
) -> None:
    """An OK / WARNING / CRITICAL event when ``level`` differs from the last one announced.

    The level last announced is kept in ``alert_levels`` with the time of the
    cycle it came from, and moved in the caller's transaction: processes
    recording in any order announce each change once, and the verdict of a
    cycle older than the one announced (a slow cycle of another process) is
    not announced. No event for a first verdict that is OK.
    """
    if level not in ("OK", "WARNING", "CRITICAL"):
        return
    async with conn.execute(
        "SELECT finished_at FROM refresh_cycles WHERE id = ?", (cycle_id,)
    ) as cursor:
        found = await cursor.fetchone()
    if found is None:
        return
    at = float(found[0])
    async with conn.execute(
        "SELECT level, at FROM alert_levels WHERE subject = 'health'"
    ) as cursor:
        row = await cursor.fetchone()
    if row is not None and float(row[1]) > at:
        return  # a newer cycle's verdict was announced already
    previous = None if row is None else str(row[0])
    await conn.execute(
        "INSERT INTO alert_levels (subject, level, at) VALUES ('health', ?, ?)"
        " ON CONFLICT (subject) DO UPDATE SET level = excluded.level, at = excluded.at",
        (level, at),
    )
    if previous == level or (previous is None and level == "OK"):
        return
    why = "; ".join(reasons) or "no problem found"
    title = f"{level} portal health: score {score}" + (f" ({reasons[0]})" if reasons else "")
    body = (
        f"Health is {level} (score {score}) since {_when(from_epoch(at))}, "
        f"was {previous or 'not yet recorded'}.\nWhy: {why}.\n{NEXT_STEP}"
    )
    await conn.execute(_INSERT, (level, "portal health", title, body, at))


async def enqueue_new_findings(
    conn: aiosqlite.Connection, findings: Sequence[tuple[object, ...]], at: float
) -> None:
    """A FINDING event per error-severity finding first seen in this transaction.

    ``findings`` are the consistency writer's rows (rule, severity, scope,
    subject, message, first_seen, last_seen), already redacted.
    """
    for rule, severity, scope, subject, message, *_ in findings:
        if severity not in ("error", "critical"):
            continue
        async with conn.execute(
            "SELECT 1 FROM consistency_findings WHERE resolved = 0 AND rule = ? AND scope = ?"
            " AND subject = ? AND occurrences = 1 AND first_seen = ?",
            (rule, scope, subject, at),
        ) as cursor:
            if await cursor.fetchone() is None:
                continue  # seen before: not new
        title = f"FINDING {rule} ({severity}): {subject}"
        body = (
            f"New {severity} consistency finding since {_when(from_epoch(at))}.\n"
            f"Rule {rule} on {scope}: {message}\n{NEXT_STEP}"
        )
        await conn.execute(_INSERT, ("FINDING", f"{rule} {scope}", title, body, at))


_CLAIM = """
UPDATE alert_outbox SET claimed_by = ?1, claimed_until = ?2 + ?3
WHERE id IN (
    SELECT id FROM alert_outbox
    WHERE delivered_at IS NULL AND claimed_until < ?2 AND created_at >= ?2 - ?5
    ORDER BY id LIMIT ?4
)
RETURNING id, kind, subject, title, body, created_at, attempts, sent_to, target
"""


MAX_EVENT_AGE = 86400.0
"""Events older than this are no longer sent (shown as undelivered): a target added
to a file that recorded a week of events unwatched is not flooded with them."""


async def claim(
    conn: aiosqlite.Connection, owner: str, now: float, lease: float, limit: int = 50
) -> list[AlertEvent]:
    """Claim up to ``limit`` undelivered events whose lease lapsed (caller's write txn)."""
    async with conn.execute(_CLAIM, (owner, now, lease, limit, MAX_EVENT_AGE)) as cursor:
        rows = await cursor.fetchall()
    return sorted(
        (
            AlertEvent(
                id=r[0],
                kind=r[1],
                subject=r[2],
                title=r[3],
                body=r[4],
                created_at=from_epoch(r[5]),
                attempts=r[6],
                sent_to=tuple(s for s in str(r[7]).split(",") if s),
                target=r[8],
            )
            for r in rows
        ),
        key=lambda e: e.id,
    )


async def release(conn: aiosqlite.Connection, owner: str, ids: Sequence[int]) -> int:
    """Give back ``owner``'s claims on ``ids`` that it never started sending (caller's
    write txn): any sender may claim them at once. Returns how many were released."""
    marks = ",".join("?" * len(ids))
    cursor = await conn.execute(
        "UPDATE alert_outbox SET claimed_by = NULL, claimed_until = 0"
        f" WHERE claimed_by = ? AND delivered_at IS NULL AND id IN ({marks})",
        (owner, *ids),
    )
    released = cursor.rowcount
    await cursor.close()
    return released


async def settle(
    conn: aiosqlite.Connection,
    *,
    event: AlertEvent,
    owner: str,
    now: float,
    tries: int,
    sent_to: Sequence[str],
    error: str | None,
    delivered: bool,
    retry_at: float,
) -> bool:
    """Record one claimed event's delivery result (caller's write txn).

    ``error`` is the last failure (kept even once delivered, as history).
    Not delivered: the lease is moved to ``retry_at``, and after
    :data:`DELIVERY_FAILING_AFTER` failed attempts of an event (other than a
    DELIVERY_FAILING one) a DELIVERY_FAILING event is raised, once, unless one
    is still undelivered.
    Returns False when another sender took the claim over (lease lapsed).
    """
    cursor = await conn.execute(
        "UPDATE alert_outbox SET attempts = attempts + ?, last_error = coalesce(?, last_error),"
        " sent_to = ?, delivered_at = ?, claimed_until = ?, claimed_by = NULL"
        " WHERE id = ? AND claimed_by = ? AND delivered_at IS NULL",
        (
            tries,
            error,
            ",".join(sent_to),
            now if delivered else None,
            0 if delivered else retry_at,
            event.id,
            owner,
        ),
    )
    changed = cursor.rowcount
    await cursor.close()
    if changed != 1:
        return False
    failed_before = event.attempts
    failed_now = event.attempts + tries
    if (
        not delivered
        and event.kind != "DELIVERY_FAILING"
        and failed_before < DELIVERY_FAILING_AFTER <= failed_now
        and not await _delivery_failing_pending(conn)
    ):
        title = f"DELIVERY_FAILING alerts: {event.kind} {event.subject} not delivered"
        body = (
            f"Alert {event.title!r} (raised {_when(event.created_at)}) failed "
            f"{_plural(failed_now, 'attempt')}; last error: {error or 'unknown'}.\n"
            "Check the targets with `portal-tui alert test`; `portal-tui doctor` lists "
            "undelivered alerts."
        )
        await conn.execute(_INSERT, ("DELIVERY_FAILING", "alerts", title, body, now))
    return True


async def _delivery_failing_pending(conn: aiosqlite.Connection) -> bool:
    """Whether a DELIVERY_FAILING event is still undelivered (one at a time is enough:
    a dead target fails every event, and each one's failure need not be announced)."""
    async with conn.execute(
        "SELECT 1 FROM alert_outbox WHERE kind = 'DELIVERY_FAILING' AND delivered_at IS NULL"
    ) as cursor:
        return await cursor.fetchone() is not None


async def read_events(
    conn: aiosqlite.Connection, *, undelivered_only: bool = False, limit: int = 200
) -> list[AlertEvent]:
    """Recent outbox rows, newest first."""
    where = "WHERE delivered_at IS NULL " if undelivered_only else ""
    async with conn.execute(
        "SELECT id, kind, subject, title, body, created_at, attempts, delivered_at, last_error,"
        f" sent_to, target FROM alert_outbox {where}ORDER BY id DESC LIMIT ?",
        (limit,),
    ) as cursor:
        rows = await cursor.fetchall()
    return [
        AlertEvent(
            id=r[0],
            kind=r[1],
            subject=r[2],
            title=r[3],
            body=r[4],
            created_at=from_epoch(r[5]),
            attempts=r[6],
            delivered_at=None if r[7] is None else from_epoch(r[7]),
            last_error=r[8],
            sent_to=tuple(s for s in str(r[9]).split(",") if s),
            target=r[10],
        )
        for r in rows
    ]
