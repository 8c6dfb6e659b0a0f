"""What one refresh cycle learned: the value the cycle returns and the monitor records.

Kept apart from :mod:`portal_tui.engine.cycle` so that the recording and the
faces can name it without importing the network side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from portal_tui.dashboards.snapshot import DashboardSnapshot
from portal_tui.vocabulary.errors import UpstreamError
from portal_tui.vocabulary.names import DashboardName
from portal_tui.vocabulary.validation import ValidationIssue

if TYPE_CHECKING:
    from portal_tui.engine.targeted import Scope
    from portal_tui.fetch.cache import CacheResult
    from portal_tui.fetch.events import ApiCallRecord
    from portal_tui.fetch.fetcher import Fetched
    from portal_tui.upstream.discovery import Discovery
    from portal_tui.upstream.endpoints import RequestKey


@dataclass(slots=True)
class CycleOutcome:
    """Everything one cycle learned, for the monitor to record and publish."""

    dashboards: tuple[DashboardName, ...]
    triggered_by: str
    started_at: datetime
    finished_at: datetime
    snapshots: dict[DashboardName, DashboardSnapshot] = field(default_factory=dict)
    api_calls: list[ApiCallRecord] = field(default_factory=list)
    issues: list[ValidationIssue] = field(default_factory=list)
    validated: set[tuple[str, str]] = field(default_factory=set)
    discoveries: dict[str, Discovery] = field(default_factory=dict)
    unreachable: dict[str, UpstreamError] = field(default_factory=dict)
    results: dict[RequestKey, CacheResult[Fetched] | BaseException] = field(default_factory=dict)
    # (instance, workspace id) -> dashboards that failed for it this cycle (empty: all good)
    workspace_failures: dict[tuple[str, int], set[DashboardName]] = field(default_factory=dict)
    workspace_names: dict[tuple[str, int], str] = field(default_factory=dict)
    unknown_fields: dict[str, set[str]] = field(default_factory=dict)
    # instance -> why its workspace list could not be read (4xx, bad payload)
    list_errors: dict[str, UpstreamError] = field(default_factory=dict)
    requests_needed: int = 0
    requests_made: int = 0
    requests_failed: int = 0
    """Requests that finally failed after their retries (the health score's failed calls)."""
    duration_ms: float = 0.0
    # dashboard -> where its distinct requests' data came from: "here" (this process
    # asked the upstream), "shared" (another process did, via the shared tier), "cache"
    # (this process's memory), "failed"
    sources: dict[str, dict[str, int]] = field(default_factory=dict)
    # the cycle's distinct requests (each counted once) by the same sources
    source_totals: dict[str, int] = field(default_factory=dict)
    scope: Scope | None = None
    """A targeted cycle's workspaces (see :mod:`portal_tui.engine.targeted`); None: all."""
