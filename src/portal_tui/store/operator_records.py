"""What engineers did, and what they acknowledged: ``operator_actions`` and ``finding_acks``.

An operator action is one row (who, when, what, a detail line) written in
its own short transaction. An acknowledgement is written only while its
finding is open in the records (in the same transaction as its operator
action); the schema's trigger deletes it when the finding is resolved. The
evidence a finding was raised on is read from ``consistency_findings``.
Every text passes the store's redactor.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import datetime
from functools import partial

import aiosqlite

from portal_tui.store.records import from_epoch, to_epoch
from portal_tui.store.redaction import Redactor
from portal_tui.store.rows import rows
from portal_tui.store.transactions import SharedConnection
from portal_tui.vocabulary.clock import Clock

FindingKey = tuple[str, str, str]
"""``(rule, scope, subject)``: a finding's identity."""

NOTE_MAX_CHARS = 500
"""An acknowledgement's note is one short line."""


def operator_name() -> str:
    """Who is at the keyboard: the OS user name (``unknown`` when it cannot be read)."""
    try:
        return getpass.getuser() or "unknown"
    except (OSError, KeyError, ImportError):
        return "unknown"


@dataclass(frozen=True, slots=True)
class OperatorAction:
    """One thing an engineer did from a console."""

    at: datetime
    who: str
    action: str  # clear-cache | pause | resume | force-refresh | refresh-workspace | ...
    detail: str = ""


@dataclass(frozen=True, slots=True)
class FindingAck:
    """An open finding acknowledged with a note."""

    rule: str
    scope: str
    subject: str
    note: str
    who: str
    at: datetime
    first_seen: datetime

    @property
    def key(self) -> FindingKey:
        """``(rule, scope, subject)``."""
        return (self.rule, self.scope, self.subject)


_INSERT_ACTION = "INSERT INTO operator_actions (at, who, action, detail) VALUES (?, ?, ?, ?)"

_ACKNOWLEDGE = """
INSERT INTO finding_acks (rule, scope, subject, first_seen, note, who, at)
SELECT rule, scope, subject, first_seen, ?4, ?5, ?6 FROM consistency_findings
WHERE resolved = 0 AND rule = ?1 AND scope = ?2 AND subject = ?3
ON CONFLICT (rule, scope, subject) DO UPDATE SET
    note = excluded.note, who = excluded.who, at = excluded.at
"""


async def insert_action(conn: aiosqlite.Connection, row: tuple[object, ...]) -> None:
    """Write one operator action (caller's transaction)."""
    await conn.execute(_INSERT_ACTION, row)


async def acknowledge(
    conn: aiosqlite.Connection, ack: tuple[object, ...], action: tuple[object, ...]
) -> bool:
    """Acknowledge an open finding and record the action; False when it is not open."""
    cursor = await conn.execute(_ACKNOWLEDGE, ack)
    done = cursor.rowcount > 0
    await cursor.close()
    if done:
        await conn.execute(_INSERT_ACTION, action)
    return done


async def actions_since(conn: aiosqlite.Connection, *, since: float) -> list[OperatorAction]:
    """Operator actions at or after ``since``, oldest first."""
    found = await rows(
        conn,
        "SELECT at, who, action, detail FROM operator_actions WHERE at >= ? ORDER BY at, id",
        (since,),
    )
    return [OperatorAction(from_epoch(r["at"]), r["who"], r["action"], r["detail"]) for r in found]


async def open_acks(conn: aiosqlite.Connection) -> list[FindingAck]:
    """Acknowledgements of findings open now."""
    found = await rows(
        conn,
        """
        SELECT a.rule, a.scope, a.subject, a.note, a.who, a.at, a.first_seen
        FROM finding_acks a JOIN consistency_findings f
          ON f.resolved = 0 AND f.rule = a.rule AND f.scope = a.scope AND f.subject = a.subject
        ORDER BY a.at
        """,
    )
    return [
        FindingAck(
            r["rule"],
            r["scope"],
            r["subject"],
            r["note"],
            r["who"],
            from_epoch(r["at"]),
            from_epoch(r["first_seen"]),
        )
        for r in found
    ]


async def evidence_of(conn: aiosqlite.Connection, *, key: FindingKey) -> str | None:
    """The evidence of the open finding ``key`` (else its latest resolved one), if any."""
    found = await rows(
        conn,
        """
        SELECT evidence FROM consistency_findings
        WHERE rule = ? AND scope = ? AND subject = ? AND evidence IS NOT NULL
        ORDER BY resolved, last_seen DESC LIMIT 1
        """,
        key,
    )
    return str(found[0]["evidence"]) if found else None


class OperatorRecords:
    """The operator-action and acknowledgement methods of
    :class:`~portal_tui.store.database.Store` (a mixin)."""

    _db: SharedConnection
    _clock: Clock
    _redactor: Redactor

    def stored_key(self, key: FindingKey) -> FindingKey:
        """A finding's identity as the records hold it (scope and subject pass the redactor)."""
        rule, scope, subject = key
        return (rule, self._redactor.exact(scope), self._redactor(subject))

    def _action_row(
        self, action: str, detail: str, who: str | None, at: datetime | None
    ) -> tuple[object, ...]:
        when = to_epoch(at or self._clock.now())
        return (when, self._redactor(who or operator_name()), action, self._redactor(detail))

    async def record_operator_action(
        self, action: str, detail: str = "", *, who: str | None = None, at: datetime | None = None
    ) -> None:
        """Record what an engineer did (``who`` defaults to the OS user name)."""
        row = self._action_row(action, detail, who, at)
        await self._db.run("recording an operator action", partial(insert_action, row=row))

    async def operator_actions(self, since: datetime) -> list[OperatorAction]:
        """Operator actions since ``since``, oldest first."""
        query = partial(actions_since, since=to_epoch(since))
        return await self._db.run("reading operator actions", query, mode="read")

    async def acknowledge_finding(
        self, key: FindingKey, note: str, *, who: str | None = None, at: datetime | None = None
    ) -> bool:
        """Acknowledge the open finding ``key`` with ``note`` (also an operator action);
        False when the records hold no open finding by that identity."""
        rule, scope, subject = self.stored_key(key)
        clean = " ".join(note.split())[:NOTE_MAX_CHARS]
        action = self._action_row("acknowledge", f"{rule} {subject}: {clean}", who, at)
        ack = (rule, scope, subject, self._redactor(clean), action[1], action[0])
        write = partial(acknowledge, ack=ack, action=action)
        return await self._db.run("acknowledging a finding", write)

    async def acknowledgements(self) -> dict[FindingKey, FindingAck]:
        """Acknowledgements of the findings open now, by finding identity."""
        found = await self._db.run("reading acknowledgements", open_acks, mode="read")
        return {ack.key: ack for ack in found}

    async def finding_evidence(self, key: FindingKey) -> str | None:
        """The (redacted, capped) evidence a finding was raised on, if recorded."""
        query = partial(evidence_of, key=self.stored_key(key))
        return await self._db.run("reading a finding's evidence", query, mode="read")


__all__ = [
    "NOTE_MAX_CHARS",
    "FindingAck",
    "FindingKey",
    "OperatorAction",
    "OperatorRecords",
    "operator_name",
]
