"""Migration 11 (issue 20): the roll-up table, in its own module so it can be renumbered.

One row per (hour, instance, workspace) holding every API attempt of that
hour past the raw window, packed (see :mod:`portal_tui.store.rollup_codec`).
``workspace`` is NULL for instance-level calls, as in ``api_health_logs``; a
rowid table, because retention deletes by rowid.
"""

from __future__ import annotations

ROLLUP_TABLE = """
CREATE TABLE api_call_rollups (
    id         INTEGER PRIMARY KEY,
    hour       INTEGER NOT NULL CHECK (hour % 3600 = 0),
    instance   TEXT NOT NULL,
    workspace  TEXT,
    calls      INTEGER NOT NULL CHECK (calls >= 1),
    failures   INTEGER NOT NULL CHECK (failures >= 0 AND failures <= calls),
    total_us   INTEGER NOT NULL CHECK (total_us >= 0),
    max_us     INTEGER NOT NULL CHECK (max_us >= 0),
    attempts   BLOB NOT NULL,
    failed     TEXT NOT NULL DEFAULT '[]',
    last_error TEXT
)
"""
# Windows read buckets by hour; the roll-up finds a bucket by its whole key.
ROLLUP_INDEX = (
    "CREATE INDEX idx_api_call_rollups_hour ON api_call_rollups (hour, instance, workspace)"
)
ROLLUP_SCHEMA = (ROLLUP_TABLE, ROLLUP_INDEX)
"""The statements of the migration that adds roll-ups."""
