"""The read-only half of :class:`~portal_tui.store.database.Store`: every query method.

Each method runs one read transaction through the store's shared connection
and returns plain records; nothing here writes to the file.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial
from pathlib import Path

from portal_tui.fetch.events import ApiCallRecord
from portal_tui.store import baseline_queries, consistency_queries, metrics_queries, outbox, queries
from portal_tui.store.consistency_records import ConsistencyState, FindingRow, ResponseTimes
from portal_tui.store.health_records import (
    HealthPoint,
    HealthRecords,
    health_trend,
    read_health_records,
)
from portal_tui.store.history import workspace_history
from portal_tui.store.outbox import AlertEvent
from portal_tui.store.records import (
    ApiCallCount,
    CacheMetadataRecord,
    CycleSummary,
    HealthSummary,
    SnapshotRecord,
    StateTransition,
    ValidationErrorRow,
    WorkspaceHistory,
)
from portal_tui.store.standing import Standing, read_standings
from portal_tui.store.transactions import SharedConnection

log = logging.getLogger(__name__)


class StoreReading:
    """The query methods of :class:`~portal_tui.store.database.Store` (a mixin).

    Needs the store's shared connection, its path (for notices) and its
    notices list.
    """

    _db: SharedConnection
    _path: Path
    notices: list[str]

    # -- reading --------------------------------------------------------------

    async def load_snapshots(self) -> dict[str, SnapshotRecord]:
        """The last good data per dashboard; damaged snapshots are skipped with a notice."""
        found = await self._db.run("loading snapshots", queries.snapshots, mode="read")
        good: dict[str, SnapshotRecord] = {}
        for snapshot in found:
            if snapshot.intact:
                good[snapshot.dashboard] = snapshot
            else:
                notice = (
                    f"The saved {snapshot.dashboard} snapshot in {self._path} does not match "
                    "its checksum and was ignored; it is replaced at the next good refresh."
                )
                log.info("%s", notice)  # said through the notices, once
                self.notices.append(notice)
        return good

    async def health_summary(self) -> HealthSummary:
        """The SPEC 5 health score from the ``dashboard_health_summary`` view (real now)."""
        return await self._db.run("reading the health summary", queries.health_summary, mode="read")

    async def health_records(self, now: datetime) -> HealthRecords:
        """What the health verdict is computed from, as of one read of the file."""
        query = partial(read_health_records, now=now)
        return await self._db.run("reading the health records", query, mode="read")

    async def health_trend(self, since: datetime) -> list[HealthPoint]:
        """The health every cycle since ``since`` ended on, oldest first."""
        query = partial(health_trend, since=since)
        return await self._db.run("reading the health trend", query, mode="read")

    async def standings(self) -> list[Standing]:
        """Every workspace's recorded standing (hysteresis runs, failing since)."""
        return await self._db.run("reading workspace standing", read_standings, mode="read")

    async def failed_calls_since(self, since: datetime) -> int:
        """Failed API attempts logged at or after ``since``."""
        query = partial(queries.failed_calls_since, since=since)
        return await self._db.run("counting failed calls", query, mode="read")

    async def open_validation_errors(
        self, dashboard: str | None = None, *, workspace: str | None = None
    ) -> list[ValidationErrorRow]:
        """Unresolved validation errors, most severe and most recent first."""
        query = partial(
            queries.validation_errors, dashboard=dashboard, workspace=workspace, resolved=False
        )
        return await self._db.run("reading validation errors", query, mode="read")

    async def resolved_validation_errors(
        self, dashboard: str | None = None, *, workspace: str | None = None
    ) -> list[ValidationErrorRow]:
        """Resolved validation errors still within retention."""
        query = partial(
            queries.validation_errors, dashboard=dashboard, workspace=workspace, resolved=True
        )
        return await self._db.run("reading validation errors", query, mode="read")

    async def recent_api_calls(
        self,
        *,
        since: datetime | None = None,
        limit: int = 200,
        instance: str | None = None,
        workspace: str | None = None,
        failures_only: bool = False,
    ) -> list[ApiCallRecord]:
        """Logged API attempts, newest first: the raw ones only (the last ``raw_hours``).

        Attempts past the raw window are rolled up per hour (issue 20), without their
        endpoint, method or attempt number; windows read them through the other queries.
        """
        query = partial(
            queries.recent_api_calls,
            since=since,
            limit=limit,
            instance=instance,
            workspace=workspace,
            failures_only=failures_only,
        )
        return await self._db.run("reading API calls", query, mode="read")

    async def workspace_history(
        self,
        since: datetime,
        workspace: str | None = None,
        *,
        instance: str | None = None,
        recent: int = 30,
    ) -> list[WorkspaceHistory]:
        """Per (instance, workspace) API health since ``since``, worst first.

        ``recent`` is how many of the newest response times to return for a
        sparkline. All queries run in one read transaction, so the numbers
        agree with each other even while another console writes.
        """
        query = partial(
            workspace_history, since=since, instance=instance, workspace=workspace, recent=recent
        )
        return await self._db.run("reading workspace history", query, mode="read")

    async def state_transitions(
        self, since: datetime, *, workspace: str | None = None
    ) -> list[StateTransition]:
        """Workspace state changes at or after ``since``, oldest first."""
        query = partial(queries.state_transitions, since=since, workspace=workspace)
        return await self._db.run("reading state transitions", query, mode="read")

    async def cache_metadata(self) -> list[CacheMetadataRecord]:
        """Every ``data_cache_metadata`` row, by key."""
        return await self._db.run("reading cache metadata", queries.cache_metadata, mode="read")

    async def recent_cycles(self, limit: int = 20) -> list[CycleSummary]:
        """The newest committed refresh cycles first."""
        query = partial(queries.recent_cycles, limit=limit)
        return await self._db.run("reading refresh cycles", query, mode="read")

    async def api_call_counts(self, since: datetime) -> list[ApiCallCount]:
        """Attempts per instance and failed attempts per error kind since ``since``."""
        query = partial(queries.api_call_counts, since=since)
        return await self._db.run("counting API calls", query, mode="read")

    # -- consistency ----------------------------------------------------------

    async def open_findings(self) -> list[FindingRow]:
        """Unresolved consistency findings, most severe first, then oldest first."""
        query = consistency_queries.open_findings
        return await self._db.run("reading consistency findings", query, mode="read")

    async def findings_since(self, since: datetime) -> list[FindingRow]:
        """Consistency findings opened, seen or resolved since ``since``, oldest first."""
        query = partial(consistency_queries.findings_since, since=since)
        return await self._db.run("reading consistency findings", query, mode="read")

    async def consistency_state(self) -> ConsistencyState:
        """Open findings, dashboard checksums, known fields and the rules' baselines (what
        the rules compare to)."""
        query = baseline_queries.consistency_state
        return await self._db.run("reading consistency state", query, mode="read")

    async def response_times_since(self, since: datetime) -> list[ResponseTimes]:
        """Per instance: attempts logged since ``since`` and their summed response time
        (the ``slow-upstream`` rule's average over the last hour)."""
        query = partial(baseline_queries.response_times_since, since=since)
        return await self._db.run("reading response times", query, mode="read")

    async def response_times(
        self, since: datetime, bounds_ms: tuple[float, ...]
    ) -> list[metrics_queries.ResponseTimes]:
        """Per instance: attempts since ``since``, their total time and cumulative buckets."""
        query = partial(metrics_queries.response_times, since=since, bounds_ms=bounds_ms)
        return await self._db.run("reading response times", query, mode="read")

    async def alert_events(
        self, *, undelivered_only: bool = False, limit: int = 200
    ) -> list[AlertEvent]:
        """Recent alert events, newest first."""
        query = partial(outbox.read_events, undelivered_only=undelivered_only, limit=limit)
        return await self._db.run("reading alerts", query, mode="read")
