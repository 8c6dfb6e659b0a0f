"""REMINDER events: a failure that lasts is announced again, once per period per target.

A target with ``reminder_minutes`` (gatus' reminder) hears again about a
workspace the records still call FAILING, or a health level still CRITICAL,
when the last message about that subject (to every target, or a reminder to
this one) is that old. The pass runs in one write transaction: it reads the
standing, the level last announced and the last message per subject, and
inserts the reminders that are due, so two processes never both remind
(the second sees the first's row). Nothing is reminded once the subject
recovered: the standing or the level no longer says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aiosqlite

from portal_tui.store.outbox import NEXT_STEP, _plural, _when
from portal_tui.store.records import from_epoch
from portal_tui.store.rows import rows, scalar


@dataclass(frozen=True, slots=True)
class ReminderRule:
    """One target's reminders: its label, its period, and which failures it hears of."""

    target: str
    every: float
    """Seconds after the last message about a subject before a reminder is due."""
    workspaces: bool = True
    """Remind of FAILING workspaces (the target takes FAILING events)."""
    health: bool = True
    """Remind of a CRITICAL health level (the target takes CRITICAL events)."""


@dataclass(frozen=True, slots=True)
class _Lasting:
    subject: str
    since: float
    title: str
    body: str


async def _lasting_failures(conn: aiosqlite.Connection) -> tuple[list[_Lasting], list[_Lasting]]:
    """The workspaces still FAILING, and the health level if still CRITICAL."""
    failing = await rows(
        conn,
        "SELECT instance, workspace, failing_since, state_since, dashboards, reason"
        " FROM workspace_standing WHERE state = 'failing' ORDER BY instance, workspace_id",
    )
    workspaces = []
    for row in failing:
        subject = f"{row['workspace']} ({row['instance']})"
        since = float(row["failing_since"] or row["state_since"] or 0.0)
        boards = [b for b in str(row["dashboards"]).split(",") if b]
        title = (
            f"REMINDER {subject} still FAILING since {_when(from_epoch(since))}: "
            f"{row['reason']} on {_plural(len(boards), 'dashboard')}"
        )
        body = (
            f"Still failing since {_when(from_epoch(since))}.\n"
            f"What failed: {row['reason']} on {', '.join(boards) or 'its dashboards'}.\n"
            f"{NEXT_STEP}"
        )
        workspaces.append(_Lasting(subject, since, title, body))
    health = []
    level = await rows(conn, "SELECT level, at FROM alert_levels WHERE subject = 'health'")
    if level and level[0]["level"] == "CRITICAL":
        since = float(
            await scalar(
                conn,
                "SELECT max(created_at) AS since FROM alert_outbox"
                " WHERE subject = 'portal health' AND kind = 'CRITICAL'",
            )
            or level[0]["at"]
        )
        when = _when(from_epoch(since))
        health.append(
            _Lasting(
                "portal health",
                since,
                f"REMINDER portal health still CRITICAL since {when}",
                f"Health is still CRITICAL since {when}.\n{NEXT_STEP}",
            )
        )
    return workspaces, health


async def enqueue_reminders(
    conn: aiosqlite.Connection, rules: Sequence[ReminderRule], now: float
) -> int:
    """Insert the reminders due at ``now`` (the caller holds the write transaction).

    Returns how many were inserted.
    """
    if not rules:
        return 0
    workspaces, health = await _lasting_failures(conn)
    added = 0
    for rule in rules:
        lasting = (workspaces if rule.workspaces else []) + (health if rule.health else [])
        for failure in lasting:
            last = await scalar(
                conn,
                "SELECT max(created_at) AS last FROM alert_outbox"
                " WHERE subject = ? AND (target IS NULL OR target = ?)",
                (failure.subject, rule.target),
            )
            since = failure.since if last is None else max(float(last), failure.since)
            if now - since < rule.every:
                continue
            await conn.execute(
                "INSERT INTO alert_outbox (kind, subject, title, body, created_at, target)"
                " VALUES ('REMINDER', ?, ?, ?, ?, ?)",
                (failure.subject, failure.title, failure.body, now, rule.target),
            )
            added += 1
    return added
