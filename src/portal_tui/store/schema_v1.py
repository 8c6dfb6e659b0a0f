"""The first schema (version 1): the portal's monitoring tables and the health view.

Released files carry it: never edit it; later versions are migrations in
:mod:`portal_tui.store.schema`.
"""

from __future__ import annotations

# "PTUI": lets the store refuse to write its tables into somebody else's file.
APPLICATION_ID = 0x50545549

ERROR_TYPES = "'timeout', 'network', '4xx', '5xx', 'rate_limited', 'validation', 'breaker_open'"
TRIGGERS = "'manual', 'auto', 'startup', 'check'"
STATES = "'ok', 'failing', 'recovered'"


V1_TABLES = (
    f"PRAGMA application_id = {APPLICATION_ID}",
    # One row per cache entry. Rows keyed 'dashboard:<name>' describe a
    # dashboard's last refresh; ttl_seconds lets the view compute staleness.
    """
    CREATE TABLE data_cache_metadata (
        cache_key              TEXT PRIMARY KEY,
        dashboard              TEXT,
        last_updated           REAL,
        last_fetch_duration_ms REAL NOT NULL DEFAULT 0,
        record_count           INTEGER NOT NULL DEFAULT 0,
        data_size_bytes        INTEGER NOT NULL DEFAULT 0,
        status                 TEXT NOT NULL CHECK (status IN ('ok', 'partial', 'error')),
        error_message          TEXT,
        ttl_seconds            REAL CHECK (ttl_seconds IS NULL OR ttl_seconds > 0),
        version                INTEGER NOT NULL DEFAULT 1,
        updated_at             REAL NOT NULL
    ) WITHOUT ROWID
    """,
    # Each refresh cycle commits its row together with all of its other rows,
    # so every api_health_logs.cycle_id names a complete cycle.
    f"""
    CREATE TABLE refresh_cycles (
        id           INTEGER PRIMARY KEY,
        triggered_by TEXT NOT NULL CHECK (triggered_by IN ({TRIGGERS})),
        started_at   REAL NOT NULL,
        finished_at  REAL NOT NULL CHECK (finished_at >= started_at),
        dashboards   TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(dashboards)),
        requests     INTEGER NOT NULL DEFAULT 0,
        failures     INTEGER NOT NULL DEFAULT 0
    )
    """,
    "CREATE INDEX idx_refresh_cycles_finished_at ON refresh_cycles (finished_at)",
    # cycle_id is deliberately not a FOREIGN KEY: pruning deletes old logs and
    # old cycles with the same cut-off, and a FK would cost a child lookup per
    # deleted cycle for nothing.
    f"""
    CREATE TABLE api_health_logs (
        id               INTEGER PRIMARY KEY,
        cycle_id         INTEGER,
        instance         TEXT NOT NULL,
        endpoint         TEXT NOT NULL,
        method           TEXT NOT NULL,
        workspace        TEXT,
        status_code      INTEGER,
        response_time_ms REAL NOT NULL CHECK (response_time_ms >= 0),
        success          INTEGER NOT NULL CHECK (success IN (0, 1)),
        error_type       TEXT CHECK (error_type IS NULL OR error_type IN ({ERROR_TYPES})),
        error_message    TEXT,
        attempt          INTEGER NOT NULL DEFAULT 1 CHECK (attempt >= 1),
        triggered_by     TEXT NOT NULL CHECK (triggered_by IN ({TRIGGERS})),
        timestamp        REAL NOT NULL
    )
    """,
    "CREATE INDEX idx_api_health_logs_timestamp ON api_health_logs (timestamp)",
    "CREATE INDEX idx_api_health_logs_workspace"
    " ON api_health_logs (instance, workspace, timestamp)",
    # The health view counts recent failures; a partial index keeps that
    # lookup proportional to failures, not to all traffic.
    "CREATE INDEX idx_api_health_logs_failed ON api_health_logs (timestamp) WHERE success = 0",
    """
    CREATE TABLE data_validation_errors (
        id               INTEGER PRIMARY KEY,
        source_dashboard TEXT NOT NULL,
        workspace        TEXT NOT NULL,
        error_type       TEXT NOT NULL CHECK (error_type IN
                             ('missing_field', 'invalid_type', 'range_error', 'schema_mismatch')),
        field_name       TEXT NOT NULL,
        expected         TEXT NOT NULL DEFAULT '',
        actual           TEXT NOT NULL DEFAULT '',
        message          TEXT NOT NULL,
        severity         TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'error', 'critical')),
        occurrences      INTEGER NOT NULL DEFAULT 1 CHECK (occurrences >= 1),
        first_occurrence REAL NOT NULL,
        last_occurrence  REAL NOT NULL,
        resolved         INTEGER NOT NULL DEFAULT 0 CHECK (resolved IN (0, 1)),
        resolved_at      REAL,
        CHECK ((resolved = 0) = (resolved_at IS NULL))
    )
    """,
    # At most one OPEN row per issue identity: a repeat bumps occurrences.
    # Resolved rows stay as history, so an issue that comes back opens a new row.
    "CREATE UNIQUE INDEX uq_data_validation_errors_open ON data_validation_errors"
    " (source_dashboard, workspace, field_name, error_type) WHERE resolved = 0",
    "CREATE INDEX idx_data_validation_errors_resolved_at"
    " ON data_validation_errors (resolved_at) WHERE resolved = 1",
    "CREATE INDEX idx_data_validation_errors_critical"
    " ON data_validation_errors (last_occurrence) WHERE resolved = 0 AND severity = 'critical'",
    """
    CREATE TABLE dashboard_snapshots (
        dashboard      TEXT PRIMARY KEY,
        payload        TEXT NOT NULL CHECK (json_valid(payload)),
        fetched_at     REAL NOT NULL,
        refreshed_at   REAL NOT NULL,
        row_count      INTEGER NOT NULL CHECK (row_count >= 0),
        checksum       TEXT NOT NULL CHECK (length(checksum) = 64),
        schema_version INTEGER NOT NULL DEFAULT 1
    )
    """,
    f"""
    CREATE TABLE workspace_state_transitions (
        id         INTEGER PRIMARY KEY,
        instance   TEXT NOT NULL,
        workspace  TEXT NOT NULL,
        dashboard  TEXT,
        from_state TEXT CHECK (from_state IS NULL OR from_state IN ({STATES})),
        to_state   TEXT NOT NULL CHECK (to_state IN ({STATES})),
        reason     TEXT NOT NULL DEFAULT '',
        at         REAL NOT NULL
    )
    """,
    "CREATE INDEX idx_workspace_state_transitions_at ON workspace_state_transitions (at)",
    "CREATE INDEX idx_workspace_state_transitions_workspace"
    " ON workspace_state_transitions (instance, workspace, at)",
)

# The SPEC 5 score, first match wins. "now" is SQLite's real clock
# (julianday gives milliseconds, where unixepoch() on 3.40 gives whole
# seconds); it is fixed for the duration of one statement, so every branch
# sees the same instant. Reason texts match portal_tui.engine.health.
V1_HEALTH_VIEW = """
CREATE VIEW dashboard_health_summary AS
WITH
    clock (now) AS (SELECT (julianday('now') - 2440587.5) * 86400.0),
    dashboards AS (
        SELECT coalesce(dashboard, substr(cache_key, 11)) AS name,
               status, last_updated, ttl_seconds
        FROM data_cache_metadata
        WHERE cache_key LIKE 'dashboard:%'
    ),
    counts AS (
        SELECT
            (SELECT count(*) FROM dashboards WHERE status = 'error') AS error_dashboards,
            (SELECT group_concat(name, ', ') FROM
                (SELECT name FROM dashboards WHERE status = 'error' ORDER BY name)
            ) AS error_dashboard_names,
            (SELECT count(*) FROM api_health_logs
              WHERE success = 0 AND timestamp >= clock.now - 300) AS failed_calls_5m,
            (SELECT count(*) FROM data_validation_errors
              WHERE resolved = 0 AND severity = 'critical'
                AND last_occurrence >= clock.now - 3600) AS critical_errors_1h,
            (SELECT count(*) FROM dashboards
              WHERE last_updated IS NOT NULL AND ttl_seconds IS NOT NULL
                AND clock.now - last_updated >= ttl_seconds) AS stale_dashboards,
            (SELECT group_concat(name, ', ') FROM
                (SELECT name FROM dashboards
                  WHERE last_updated IS NOT NULL AND ttl_seconds IS NOT NULL
                    AND clock.now - last_updated >= ttl_seconds
                  ORDER BY name)
            ) AS stale_dashboard_names,
            clock.now AS now
        FROM clock
    )
SELECT
    CASE
        WHEN error_dashboards > 0 THEN 30
        WHEN failed_calls_5m > 5 THEN 50
        WHEN critical_errors_1h > 0 THEN 60
        WHEN stale_dashboards > 2 THEN 75
        ELSE 100
    END AS score,
    CASE
        WHEN error_dashboards > 0
            THEN 'dashboard in error: ' || error_dashboard_names
        WHEN failed_calls_5m > 5
            THEN failed_calls_5m || ' failed API calls in the last 5 min'
        WHEN critical_errors_1h > 0
            THEN critical_errors_1h || ' critical validation error(s) in the last hour'
        WHEN stale_dashboards > 2
            THEN stale_dashboards || ' stale dashboards: ' || stale_dashboard_names
        ELSE 'all dashboards fresh, no recent failures'
    END AS reason,
    error_dashboards,
    failed_calls_5m,
    critical_errors_1h,
    stale_dashboards,
    coalesce(error_dashboard_names, '') AS error_dashboard_names,
    coalesce(stale_dashboard_names, '') AS stale_dashboard_names,
    now AS computed_at
FROM counts
"""

