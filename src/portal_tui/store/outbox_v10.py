"""Migration 10 (issue 17): REMINDER events, addressed to one target.

A reminder is sent per ``[[alerts]]`` target (each has its own
``reminder_minutes``), so an outbox row gains ``target``: NULL for an event
every target may take, a target's label for a reminder to it alone. SQLite
cannot change a CHECK constraint in place, so the table is rebuilt (it holds
at most a few thousand rows: the retention prunes it) and its index made again.
"""

from __future__ import annotations

from portal_tui.store.outbox import KINDS, OUTBOX_INDEX

_COLUMNS = (
    "id, kind, subject, title, body, created_at, claimed_by, claimed_until, attempts,"
    " delivered_at, last_error, sent_to"
)

V10_REMINDERS: tuple[str, ...] = (
    f"""
    CREATE TABLE alert_outbox_v10 (
        id            INTEGER PRIMARY KEY,
        kind          TEXT NOT NULL CHECK (kind IN ({", ".join(repr(k) for k in KINDS)})),
        subject       TEXT NOT NULL,
        title         TEXT NOT NULL,
        body          TEXT NOT NULL,
        created_at    REAL NOT NULL,
        claimed_by    TEXT,
        claimed_until REAL NOT NULL DEFAULT 0,
        attempts      INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        delivered_at  REAL,
        last_error    TEXT,
        sent_to       TEXT NOT NULL DEFAULT '',
        target        TEXT,
        CHECK ((kind = 'REMINDER') = (target IS NOT NULL))
    )
    """,
    f"INSERT INTO alert_outbox_v10 ({_COLUMNS}) SELECT {_COLUMNS} FROM alert_outbox",
    "DROP TABLE alert_outbox",
    "ALTER TABLE alert_outbox_v10 RENAME TO alert_outbox",
    OUTBOX_INDEX,
    # The reminder pass asks for the last message about a subject.
    "CREATE INDEX alert_outbox_subject ON alert_outbox (subject, created_at)",
)
