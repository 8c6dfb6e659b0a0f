"""Migration 12 (issue 19, targeted actions): operator actions, acknowledgements, evidence.

Kept in its own module so it can be renumbered at merge.

- ``operator_actions``: what an engineer did from a console (clear a cache,
  pause, force or targeted refreshes, retry what failed, verify, acknowledge):
  who (the OS user name), when, what, and a one-line detail. Pruned with the
  API logs.
- ``finding_acks``: an open consistency finding acknowledged with a note. One
  row per finding identity; the trigger deletes it when the finding is
  resolved, so a new occurrence after it cleared is unacknowledged.
  ``first_seen`` is the finding's first-seen time when it was acknowledged.
- ``consistency_findings.evidence``: the offending payload a finding was
  raised on (JSON text, redacted and size-capped by the writer).
"""

from __future__ import annotations

V12_OPERATOR = (
    """
    CREATE TABLE operator_actions (
        id     INTEGER PRIMARY KEY,
        at     REAL NOT NULL,
        who    TEXT NOT NULL,
        action TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT ''
    )
    """,
    "CREATE INDEX idx_operator_actions_at ON operator_actions (at)",
    """
    CREATE TABLE finding_acks (
        rule       TEXT NOT NULL,
        scope      TEXT NOT NULL,
        subject    TEXT NOT NULL,
        first_seen REAL NOT NULL,
        note       TEXT NOT NULL,
        who        TEXT NOT NULL,
        at         REAL NOT NULL,
        PRIMARY KEY (rule, scope, subject)
    ) WITHOUT ROWID
    """,
    """
    CREATE TRIGGER trg_finding_acks_cleared
    AFTER UPDATE OF resolved ON consistency_findings
    WHEN NEW.resolved = 1
    BEGIN
        DELETE FROM finding_acks
        WHERE rule = NEW.rule AND scope = NEW.scope AND subject = NEW.subject;
    END
    """,
    "ALTER TABLE consistency_findings ADD COLUMN evidence TEXT",
)

__all__ = ["V12_OPERATOR"]
