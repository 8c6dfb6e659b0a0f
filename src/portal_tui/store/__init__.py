"""The local records layer: one SQLite file shared by the consoles and ``check``.

Open a :class:`Store`, hand it a :class:`CycleRecord` after each refresh
cycle, and read health, history and snapshots back. Never imports Textual.
"""

from portal_tui.store.consistency_records import (
    BaselineRecord,
    ChecksumRecord,
    ConsistencyRecord,
    ConsistencyState,
    FieldRecord,
    FindingRecord,
    FindingRow,
    ResponseTimes,
)
from portal_tui.store.database import Store
from portal_tui.store.records import (
    ApiCallCount,
    CacheMetadataRecord,
    CacheStatus,
    CycleRecord,
    CycleSummary,
    HealthSummary,
    SnapshotRecord,
    StateTransition,
    TriggeredBy,
    ValidationErrorRow,
    WorkspaceHistory,
    WorkspaceState,
    dashboard_cache_key,
    snapshot_checksum,
)
from portal_tui.store.redaction import Redactor
from portal_tui.store.schema import SCHEMA_VERSION

__all__ = [
    "SCHEMA_VERSION",
    "ApiCallCount",
    "BaselineRecord",
    "CacheMetadataRecord",
    "CacheStatus",
    "ChecksumRecord",
    "ConsistencyRecord",
    "ConsistencyState",
    "CycleRecord",
    "CycleSummary",
    "FieldRecord",
    "FindingRecord",
    "FindingRow",
    "HealthSummary",
    "Redactor",
    "ResponseTimes",
    "SnapshotRecord",
    "StateTransition",
    "Store",
    "TriggeredBy",
    "ValidationErrorRow",
    "WorkspaceHistory",
    "WorkspaceState",
    "dashboard_cache_key",
    "snapshot_checksum",
]
