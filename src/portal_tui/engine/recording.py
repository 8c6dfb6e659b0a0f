"""Turn a cycle's outcome into the one SQLite transaction that records it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from portal_tui.config import Config
from portal_tui.dashboards.registry import ttl_of
from portal_tui.engine.standing import observations
from portal_tui.store.consistency_records import ConsistencyRecord
from portal_tui.store.records import (
    CacheMetadataRecord,
    CacheStatus,
    CycleRecord,
    Hysteresis,
    SnapshotRecord,
    dashboard_cache_key,
)
from portal_tui.vocabulary.validation import ValidationIssue

if TYPE_CHECKING:
    from portal_tui.engine.outcome import CycleOutcome


def cycle_record(
    outcome: CycleOutcome,
    config: Config,
    *,
    consistency: ConsistencyRecord | None = None,
    hysteresis: Hysteresis | None = None,
) -> CycleRecord:
    """Everything ``outcome`` learned, as one :class:`CycleRecord`: with the consistency
    checks' result and each workspace's observation, which the store counts into its
    standing (hysteresis) in the same transaction."""
    from portal_tui.fetch.fetcher import Fetched

    metadata: list[CacheMetadataRecord] = []
    snapshots: list[SnapshotRecord] = []
    issues: list[ValidationIssue] = []
    # A targeted cycle's snapshots carry the other workspaces' issues as they were:
    # only its own workspaces' are this cycle's to record.
    own = set(outcome.workspace_names.values()) if outcome.scope is not None else None
    for name, snap in outcome.snapshots.items():
        issues.extend(i for i in snap.issues if own is None or i.workspace in own)
        ttl = ttl_of(config, name)
        if snap.error:
            status = CacheStatus.ERROR
        elif snap.failures:
            status = CacheStatus.PARTIAL
        else:
            status = CacheStatus.OK
        payload = snap.dumps() if snap.rows else None
        metadata.append(
            CacheMetadataRecord(
                cache_key=dashboard_cache_key(name.value),
                dashboard=name.value,
                last_updated=snap.fetched_at if status is not CacheStatus.ERROR else None,
                last_fetch_duration_ms=snap.duration_ms,
                record_count=len(snap.rows),
                data_size_bytes=_utf8_size(payload) if payload else 0,
                status=status.value,
                error_message=snap.error
                or (
                    f"{len(snap.failed_workspaces)} workspace(s) failed" if snap.failures else None
                ),
                ttl_seconds=ttl,
            )
        )
        if payload is not None and snap.fetched_at is not None and snap.refreshed_at is not None:
            snapshots.append(
                SnapshotRecord.build(
                    name.value,
                    payload,
                    fetched_at=snap.fetched_at,
                    refreshed_at=snap.refreshed_at,
                    row_count=len(snap.rows),
                )
            )
    for key, result in outcome.results.items():
        if isinstance(result, BaseException):
            metadata.append(
                CacheMetadataRecord(
                    cache_key=key.cache_key(),
                    dashboard=None,
                    last_updated=None,
                    last_fetch_duration_ms=0.0,
                    record_count=0,
                    data_size_bytes=0,
                    status=CacheStatus.ERROR.value,
                    error_message=str(getattr(result, "message", result)),
                    ttl_seconds=None,
                )
            )
            continue
        if result.from_cache and not result.stale:
            continue  # unchanged entry: nothing new to write
        fetched = result.value
        count = _record_count(fetched)
        metadata.append(
            CacheMetadataRecord(
                cache_key=key.cache_key(),
                dashboard=None,
                last_updated=None if result.stale else result.fetched_at,
                last_fetch_duration_ms=0.0,
                record_count=count,
                data_size_bytes=fetched.size_bytes if isinstance(fetched, Fetched) else 0,
                status=CacheStatus.ERROR.value if result.stale else CacheStatus.OK.value,
                error_message=str(getattr(result.error, "message", "")) if result.stale else None,
                ttl_seconds=None,
            )
        )
    return CycleRecord(
        triggered_by=outcome.triggered_by,
        started_at=outcome.started_at,
        finished_at=outcome.finished_at,
        dashboards=[d.value for d in outcome.dashboards],
        api_calls=outcome.api_calls,
        validation_issues=issues,
        validated=outcome.validated,
        cache_metadata=metadata,
        snapshots=snapshots,
        consistency=consistency,
        failed_requests=outcome.requests_failed,
        observations=observations(outcome),
        hysteresis=hysteresis or Hysteresis(),
        unreachable=sorted(outcome.unreachable),
    )


def _record_count(fetched: object) -> int:
    payload = getattr(fetched, "payload", None)
    mailboxes = getattr(payload, "mailboxes", None)
    if mailboxes is not None:
        return len(mailboxes)
    data = getattr(payload, "data", None)
    if isinstance(data, list):
        return len(data)
    return 1 if data is not None else 0


def _utf8_size(text: str) -> int:
    """Bytes of ``text`` in UTF-8; an ASCII text (most snapshots) is not copied to count
    them (at 50,000 mailboxes the copy was 10 MB)."""
    return len(text) if text.isascii() else len(text.encode())
