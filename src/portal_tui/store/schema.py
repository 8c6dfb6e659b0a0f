"""The SQLite schema and its forward migrations, keyed by ``PRAGMA user_version``.

To change the schema, append a :class:`Migration` with the next version to
:data:`MIGRATIONS`; never edit a released one, because files written by it
already exist on engineers' jump boxes. The store applies every pending
migration in one ``BEGIN IMMEDIATE`` transaction together with the new
``user_version``, so a crash half-way leaves the old version intact, and two
processes opening a fresh file at once cannot both apply it.

Timestamps are REAL unix-epoch seconds (UTC): cheap to compare in range
queries and directly comparable to SQLite's own ``now`` in the health view.
"""

from __future__ import annotations

from dataclasses import dataclass

from portal_tui.store.outbox import LEVELS_TABLE, OUTBOX_INDEX, OUTBOX_TABLE
from portal_tui.store.outbox_v10 import V10_REMINDERS
from portal_tui.store.rollup_schema import ROLLUP_SCHEMA
from portal_tui.store.schema_v1 import (
    APPLICATION_ID,
    V1_HEALTH_VIEW,
    V1_TABLES,
)
from portal_tui.store.schema_v12 import V12_OPERATOR
from portal_tui.store.standing import STANDING_TABLE


@dataclass(frozen=True, slots=True)
class Migration:
    """One step forward: the statements that take a file from ``version - 1`` to ``version``."""

    version: int
    description: str
    statements: tuple[str, ...]


# Version 2: consistency findings (same life cycle as validation errors: one
# open row per identity, resolved when a cycle that judged its scope no longer
# sees it) and the state two rules compare against from cycle to cycle.
_V2_CONSISTENCY = (
    """
    CREATE TABLE consistency_findings (
        id          INTEGER PRIMARY KEY,
        rule        TEXT NOT NULL,
        severity    TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'error', 'critical')),
        scope       TEXT NOT NULL,
        subject     TEXT NOT NULL,
        message     TEXT NOT NULL,
        first_seen  REAL NOT NULL,
        last_seen   REAL NOT NULL CHECK (last_seen >= first_seen),
        occurrences INTEGER NOT NULL DEFAULT 1 CHECK (occurrences >= 1),
        resolved    INTEGER NOT NULL DEFAULT 0 CHECK (resolved IN (0, 1)),
        resolved_at REAL,
        CHECK ((resolved = 0) = (resolved_at IS NULL))
    )
    """,
    "CREATE UNIQUE INDEX uq_consistency_findings_open ON consistency_findings"
    " (rule, scope, subject) WHERE resolved = 0",
    "CREATE INDEX idx_consistency_findings_resolved_at"
    " ON consistency_findings (resolved_at) WHERE resolved = 1",
    "CREATE INDEX idx_consistency_findings_first_seen ON consistency_findings (first_seen)",
    # The content checksum of each dashboard's rows (timestamps excluded) and a
    # digest of everything those rows were computed from, as of the last cycle.
    """
    CREATE TABLE dashboard_checksums (
        dashboard           TEXT PRIMARY KEY,
        checksum            TEXT NOT NULL CHECK (length(checksum) = 64),
        source_digest       TEXT NOT NULL CHECK (length(source_digest) = 64),
        changed_at          REAL NOT NULL,
        checked_at          REAL NOT NULL CHECK (checked_at >= changed_at),
        unchanged_refreshes INTEGER NOT NULL DEFAULT 0 CHECK (unchanged_refreshes >= 0)
    ) WITHOUT ROWID
    """,
    # Every field each endpoint has been seen sending, with when.
    """
    CREATE TABLE schema_fields (
        endpoint   TEXT NOT NULL,
        field      TEXT NOT NULL,
        first_seen REAL NOT NULL,
        last_seen  REAL NOT NULL CHECK (last_seen >= first_seen),
        PRIMARY KEY (endpoint, field)
    ) WITHOUT ROWID
    """,
)

# Version 3: automatic retention and a smaller log.
_V3_RETENTION = (
    # Nothing reads api_health_logs by workspace in SQL: history, export and the
    # health view read a time range (idx_api_health_logs_timestamp) or recent
    # failures (idx_api_health_logs_failed) and group in one pass. This index was
    # 46 of the ~148 bytes each logged attempt cost on disk, a third of the file.
    "DROP INDEX IF EXISTS idx_api_health_logs_workspace",
    # When periodic maintenance last ran, kept in the file itself so that every
    # process sharing it (consoles, a cron check every few minutes) runs it once
    # per interval in total. backlog = 1: the last run stopped at its size limit
    # with rows still past retention, so the next chance continues at once.
    """
    CREATE TABLE store_maintenance (
        task        TEXT PRIMARY KEY,
        last_run_at REAL NOT NULL,
        backlog     INTEGER NOT NULL DEFAULT 0 CHECK (backlog IN (0, 1))
    ) WITHOUT ROWID
    """,
)

# Version 4: snapshot payloads without SQLite's json_valid CHECK. Each cycle's
# Infrastructure payload is ~10 MB of JSON at 50,000 mailboxes; SQLite 3.40's
# parser needs ~2.5 times that while it checks, and it ran twice per write (a
# SELECT naming the bad dashboard, then the CHECK): ~23 MB of the process's peak
# memory at 1,000 workspaces (issue 5). The payload is valid by construction
# (DashboardSnapshot.dumps: pydantic's JSON for rows, json.dumps(allow_nan=False)
# for the envelope) and read back through json.loads, which skips a damaged one.
_V4_SNAPSHOTS = (
    """
    CREATE TABLE dashboard_snapshots_v4 (
        dashboard      TEXT PRIMARY KEY,
        payload        TEXT NOT NULL,
        fetched_at     REAL NOT NULL,
        refreshed_at   REAL NOT NULL,
        row_count      INTEGER NOT NULL CHECK (row_count >= 0),
        checksum       TEXT NOT NULL CHECK (length(checksum) = 64),
        schema_version INTEGER NOT NULL DEFAULT 1
    )
    """,
    "INSERT INTO dashboard_snapshots_v4 SELECT dashboard, payload, fetched_at, refreshed_at,"
    " row_count, checksum, schema_version FROM dashboard_snapshots",
    "DROP TABLE dashboard_snapshots",
    "ALTER TABLE dashboard_snapshots_v4 RENAME TO dashboard_snapshots",
)

# Version 5 (issue 15): the records are the single source of truth. A cycle
# counts the requests that finally failed (after their retries) apart from
# failed attempts, and keeps the health verdict it ended on; each workspace's
# hysteresis runs in a table every process counts into; the health view counts
# failed requests, not attempts that were retried and then succeeded.
_V5_HEALTH_VIEW = V1_HEALTH_VIEW.replace(
    """(SELECT count(*) FROM api_health_logs
              WHERE success = 0 AND timestamp >= clock.now - 300) AS failed_calls_5m""",
    """(SELECT coalesce(sum(failed_requests), 0) FROM refresh_cycles
              WHERE finished_at >= clock.now - 300) AS failed_calls_5m""",
)
_V5_ONE_TRUTH = (
    "ALTER TABLE refresh_cycles ADD COLUMN failed_requests INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE refresh_cycles ADD COLUMN health_score INTEGER",
    "ALTER TABLE refresh_cycles ADD COLUMN health_level TEXT",
    "ALTER TABLE refresh_cycles ADD COLUMN health_reasons TEXT",
    "ALTER TABLE refresh_cycles ADD COLUMN unreachable TEXT NOT NULL DEFAULT ''",
    STANDING_TABLE,
    "DROP VIEW dashboard_health_summary",
    _V5_HEALTH_VIEW,
)

# Version 6 (issue 19, rules across cycles): what the rules that compare one cycle
# with the earlier ones remember per subject (a workspace's month-to-date counts
# and mailbox count, an instance's workspace count), as JSON, one row per rule and
# subject. A later recorded_at wins, so two consoles writing in either order agree.
# (A rowid table: retention pruning deletes by rowid.)
_V6_BASELINES = (
    """
    CREATE TABLE consistency_baselines (
        rule        TEXT NOT NULL,
        subject     TEXT NOT NULL,
        value       TEXT NOT NULL CHECK (json_valid(value)),
        recorded_at REAL NOT NULL,
        PRIMARY KEY (rule, subject)
    )
    """,
)

# Version 7 (issue 19, `portal-tui verify`): one row per workspace and dashboard a
# verify run re-fetched past the cache and compared with the recorded snapshot.
# run_at groups the rows of one run; differences is a JSON list of
# {"field", "recorded", "fetched"}.
_V7_VERIFY = (
    """
    CREATE TABLE verify_results (
        id           INTEGER PRIMARY KEY,
        run_at       REAL NOT NULL,
        instance     TEXT NOT NULL,
        workspace_id INTEGER NOT NULL,
        workspace    TEXT NOT NULL,
        dashboard    TEXT NOT NULL,
        status       TEXT NOT NULL CHECK (status IN ('match', 'differs', 'unverified')),
        recorded_at  REAL,
        fetched_at   REAL,
        differences  TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(differences)),
        message      TEXT NOT NULL DEFAULT ''
    )
    """,
    "CREATE INDEX idx_verify_results_run_at ON verify_results (run_at)",
)

# Version 8 (issue 18, the shared tier): processes sharing this file share the
# upstream responses and single-flight through leases. Kept as one step so it
# can be renumbered at merge. No token reaches either table: keys are the
# redacted request keys (or a salted digest of a token, for its lock) and
# payloads are the validated, redacted responses.
_V8_SHARED_TIER = (
    # One lease per workspace's requests ('response:...': one process fetches a
    # workspace's requests for everyone, so a master token is switched to it once)
    # and per master token ('token:...': the switch+fetch lock). fence grows by one
    # at every take, so a holder that lost its lease (expired while it was stopped)
    # can never overwrite a newer holder's result. state: 'held' until expires_at
    # (its holder renews it), else 'free'. next_holder is the process first in line
    # for a token lock, so no process takes it back-to-back while another waits.
    # Rows are never pruned (one per workspace and token): a fence must not restart.
    """
    CREATE TABLE shared_leases (
        lease_key   TEXT PRIMARY KEY,
        holder      TEXT NOT NULL,
        fence       INTEGER NOT NULL CHECK (fence >= 1),
        state       TEXT NOT NULL CHECK (state IN ('held', 'free')),
        taken_at    REAL NOT NULL,
        expires_at  REAL NOT NULL,
        ended_at    REAL,
        next_holder TEXT,
        next_until  REAL
    ) WITHOUT ROWID
    """,
    # Per distinct request: the last good response (zlib-compressed JSON of the
    # validated payload; fetched_at is the wall time it arrived) and the last
    # failure after it, so processes waiting on a failed fetch do not all retry it.
    """
    CREATE TABLE shared_responses (
        cache_key     TEXT PRIMARY KEY,
        fence         INTEGER NOT NULL,
        holder        TEXT NOT NULL,
        fetched_at    REAL,
        payload       BLOB,
        failed_at     REAL,
        error_type    TEXT,
        error_message TEXT,
        status_code   INTEGER,
        CHECK ((payload IS NULL) = (fetched_at IS NULL))
    ) WITHOUT ROWID
    """,
)

_V13_RUNS = (
    # The last observation before each workspace's current run of failed or good
    # cycles: a cycle recorded after a newer one still counts into the run it
    # belongs to (portal_tui.store.standing.advance). Nothing is known of the runs
    # before this version, so a late cycle there is ignored, as it was.
    "ALTER TABLE workspace_standing ADD COLUMN run_after REAL",
    "UPDATE workspace_standing SET run_after = updated_at",
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema", (*V1_TABLES, V1_HEALTH_VIEW)),
    Migration(2, "consistency findings, dashboard checksums, schema fields", _V2_CONSISTENCY),
    Migration(3, "retention bookkeeping; drop the unused per-workspace log index", _V3_RETENTION),
    Migration(4, "snapshot payloads valid by construction, not re-parsed by SQLite", _V4_SNAPSHOTS),
    Migration(5, "failed requests and health per cycle; workspace standing", _V5_ONE_TRUTH),
    Migration(6, "baselines of the rules that compare across cycles", _V6_BASELINES),
    Migration(7, "verify results: re-fetched samples against the recorded snapshots", _V7_VERIFY),
    Migration(8, "the shared tier: leases and shared responses (issue 18)", _V8_SHARED_TIER),
    Migration(9, "the alert outbox (issue 17)", (OUTBOX_TABLE, OUTBOX_INDEX, LEVELS_TABLE)),
    Migration(10, "alert reminders, addressed to one target (issue 17)", V10_REMINDERS),
    # Version 11 (issue 20): API attempts past the raw window, packed per hour and
    # workspace (see portal_tui.store.rollup). Kept as one step so it can be renumbered.
    Migration(11, "roll-ups of API attempts past the raw window (issue 20)", ROLLUP_SCHEMA),
    Migration(12, "operator actions, finding acknowledgements, evidence (issue 19)", V12_OPERATOR),
    Migration(13, "where each workspace's current run began (late cycles count)", _V13_RUNS),
    # Migration(4, "what changed", ("ALTER TABLE ...", "DROP VIEW ...", "CREATE VIEW ...")),
)

SCHEMA_VERSION = MIGRATIONS[-1].version


def latest_version() -> int:
    """The version this build migrates files to (read at call time, so tests can extend it)."""
    return MIGRATIONS[-1].version


HEALTH_VIEW_COLUMNS = (
    "score",
    "reason",
    "error_dashboards",
    "failed_calls_5m",
    "critical_errors_1h",
    "stale_dashboards",
    "error_dashboard_names",
    "stale_dashboard_names",
    "computed_at",
)


def pending(current: int) -> tuple[Migration, ...]:
    """Migrations to apply to a file at ``current`` version, in order."""
    return tuple(m for m in MIGRATIONS if m.version > current)


def _check_sequence() -> None:
    # A gap or a duplicate would make some file skip a step; fail at import.
    versions = [m.version for m in MIGRATIONS]
    if versions != list(range(1, len(versions) + 1)):
        raise RuntimeError(f"store migrations must be numbered 1..n, got {versions}")


_check_sequence()


__all__ = [
    "APPLICATION_ID",
    "HEALTH_VIEW_COLUMNS",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Migration",
    "latest_version",
    "pending",
]
