"""What the rest of the code hands to the store, and what it gets back.

Every record is a frozen dataclass holding timezone-aware datetimes; the
store converts them to REAL unix-epoch seconds (UTC) on the way in and back
on the way out. A naive datetime is refused rather than guessed at, because
a local-time timestamp read as UTC shifts every range query by hours.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from portal_tui.fetch.events import ApiCallRecord
from portal_tui.store.consistency_records import ConsistencyRecord
from portal_tui.vocabulary.validation import ValidationIssue

DASHBOARD_KEY_PREFIX = "dashboard:"


class TriggeredBy(StrEnum):
    """What started a refresh cycle (``triggered_by`` in SQLite)."""

    MANUAL = "manual"
    AUTO = "auto"
    STARTUP = "startup"
    CHECK = "check"


class CacheStatus(StrEnum):
    """Outcome of the last refresh of a cache entry or dashboard."""

    OK = "ok"
    PARTIAL = "partial"  # some workspaces failed; the rest is good
    ERROR = "error"


class WorkspaceState(StrEnum):
    """A workspace's state for one dashboard, as notifications see it."""

    OK = "ok"
    FAILING = "failing"
    RECOVERED = "recovered"


def to_epoch(when: datetime) -> float:
    """Unix-epoch seconds of an aware datetime; naive datetimes are refused."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"naive datetime {when!r}: the store only takes timezone-aware times")
    return when.timestamp()


def from_epoch(value: float) -> datetime:
    """The aware UTC datetime of unix-epoch seconds."""
    return datetime.fromtimestamp(value, UTC)


def dashboard_cache_key(dashboard: str) -> str:
    """The ``data_cache_metadata`` key describing a whole dashboard's last refresh."""
    return f"{DASHBOARD_KEY_PREFIX}{dashboard}"


def snapshot_checksum(payload: str) -> str:
    """Hex sha256 of a snapshot payload (UTF-8), as stored in ``checksum``."""
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------
# Written by the rest of the code


@dataclass(frozen=True, slots=True)
class CacheMetadataRecord:
    """State of one cache entry (a row of ``data_cache_metadata``).

    Rows keyed ``dashboard:<name>`` (see :func:`dashboard_cache_key`) describe
    a dashboard's last refresh and feed the health view. ``last_updated`` is
    the time of the last GOOD fetch: pass None on a failed refresh and the
    stored value is kept, so an error never makes stale data look fresh.
    """

    cache_key: str
    dashboard: str | None
    last_updated: datetime | None
    last_fetch_duration_ms: float
    record_count: int
    data_size_bytes: int
    status: str  # a CacheStatus value
    error_message: str | None
    ttl_seconds: float | None
    version: int = 1


@dataclass(frozen=True, slots=True)
class SnapshotRecord:
    """The last good data of one dashboard, so the console paints at start-up.

    ``payload`` is JSON text (the store checks it is valid JSON);
    ``checksum`` is :func:`snapshot_checksum` of it, verified on write and on
    load. ``schema_version`` is the version of the payload's row model, so a
    console can ignore a snapshot written by an older build.
    """

    dashboard: str
    payload: str
    fetched_at: datetime
    refreshed_at: datetime
    row_count: int
    checksum: str
    schema_version: int = 1

    @classmethod
    def build(
        cls,
        dashboard: str,
        payload: str,
        *,
        fetched_at: datetime,
        refreshed_at: datetime,
        row_count: int,
        schema_version: int = 1,
    ) -> SnapshotRecord:
        """A snapshot with its checksum computed."""
        return cls(
            dashboard=dashboard,
            payload=payload,
            fetched_at=fetched_at,
            refreshed_at=refreshed_at,
            row_count=row_count,
            checksum=snapshot_checksum(payload),
            schema_version=schema_version,
        )

    @property
    def intact(self) -> bool:
        """Whether the checksum matches the payload."""
        return snapshot_checksum(self.payload) == self.checksum


@dataclass(frozen=True, slots=True)
class StateTransition:
    """A workspace changing state (a row of ``workspace_state_transitions``).

    ``dashboard`` is None for a transition that concerns every dashboard;
    ``from_state`` is None the first time a workspace is seen.
    """

    instance: str
    workspace: str
    dashboard: str | None
    from_state: str | None  # a WorkspaceState value
    to_state: str  # a WorkspaceState value
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Hysteresis:
    """Failed cycles in a row before FAILING, good cycles in a row before RECOVERED."""

    fail_after: int = 2
    recover_after: int = 2


@dataclass(frozen=True, slots=True)
class WorkspaceObservation:
    """What one cycle saw of one workspace: the dashboards that failed for it (none: good)."""

    instance: str
    workspace_id: int
    workspace: str
    failed_dashboards: tuple[str, ...]
    reason: str
    at: datetime

    @property
    def failed(self) -> bool:
        """True when any dashboard failed for the workspace this cycle."""
        return bool(self.failed_dashboards)


@dataclass(frozen=True, slots=True)
class CycleRecord:
    """Everything one refresh cycle learnt, written in ONE transaction.

    ``validated`` lists the ``(dashboard, workspace)`` pairs whose data was
    validated this cycle: an open validation error of such a pair that is
    absent from ``validation_issues`` is marked resolved. Pairs not listed
    (e.g. the workspace's fetch failed) keep their open errors untouched.
    The pairs of ``validation_issues`` count as validated too.
    ``consistency`` (optional) is the cycle's consistency result, written in
    the same transaction.
    """

    triggered_by: str  # a TriggeredBy value
    started_at: datetime
    finished_at: datetime
    dashboards: Sequence[str] = ()
    api_calls: Sequence[ApiCallRecord] = ()
    validation_issues: Sequence[ValidationIssue] = ()
    validated: Set[tuple[str, str]] = frozenset()
    cache_metadata: Sequence[CacheMetadataRecord] = ()
    snapshots: Sequence[SnapshotRecord] = ()
    transitions: Sequence[StateTransition] = ()
    consistency: ConsistencyRecord | None = None
    failed_requests: int = 0
    """Requests that finally failed, after their retries (attempts are in ``api_calls``)."""
    observations: Sequence[WorkspaceObservation] = ()
    """Each workspace's result this cycle, counted into its standing in the same transaction."""
    hysteresis: Hysteresis = field(default_factory=lambda: Hysteresis())
    unreachable: Sequence[str] = ()
    """Instances this cycle found unreachable."""


# ---------------------------------------------------------------------------
# Read back by the faces


@dataclass(frozen=True, slots=True)
class HealthSummary:
    """One row of the ``dashboard_health_summary`` view (SPEC section 5).

    ``reason`` is the deciding reason only; to list every condition that
    holds, feed the counts and names to :func:`portal_tui.engine.health.score`.
    ``computed_at`` is SQLite's real now, not the injected clock.
    """

    score: int
    reason: str
    error_dashboards: int
    failed_calls_5m: int
    critical_errors_1h: int
    stale_dashboards: int
    error_dashboard_names: tuple[str, ...]
    stale_dashboard_names: tuple[str, ...]
    computed_at: datetime


@dataclass(frozen=True, slots=True)
class ValidationErrorRow:
    """A stored validation error, open or resolved."""

    id: int
    dashboard: str
    workspace: str
    error_type: str
    field_name: str
    expected: str
    actual: str
    message: str
    severity: str
    occurrences: int  # refresh cycles in which it was seen
    first_occurrence: datetime
    last_occurrence: datetime
    resolved: bool
    resolved_at: datetime | None


@dataclass(frozen=True, slots=True)
class WorkspaceHistory:
    """API health of one ``(instance, workspace)`` over a time range.

    ``workspace`` is None for instance-level calls (listing workspaces).
    Percentiles are nearest-rank over every attempt's response time.
    """

    instance: str
    workspace: str | None
    calls: int
    successes: int
    p50_ms: float
    p95_ms: float
    max_ms: float
    errors_by_type: Mapping[str, int]
    last_call_at: datetime
    last_failure_at: datetime | None
    last_error: str | None
    recent_ms: tuple[float, ...] = field(default=())  # oldest first, for a sparkline

    @property
    def failures(self) -> int:
        """Failed attempts."""
        return self.calls - self.successes

    @property
    def success_rate(self) -> float:
        """Successful attempts / attempts, in [0, 1]."""
        return self.successes / self.calls if self.calls else 0.0


@dataclass(frozen=True, slots=True)
class CycleSummary:
    """One committed refresh cycle (a row of ``refresh_cycles``)."""

    id: int
    triggered_by: str
    started_at: datetime
    finished_at: datetime
    dashboards: tuple[str, ...]
    requests: int
    failures: int


@dataclass(frozen=True, slots=True)
class ApiCallCount:
    """Attempts logged over a range, per instance, or per failing error kind.

    ``error_type`` None: every attempt of ``instance`` (``failed`` of them
    failed); otherwise the failed attempts of that ``(error_type, status_code)``.
    """

    instance: str
    error_type: str | None
    status_code: int | None
    attempts: int
    failed: int
