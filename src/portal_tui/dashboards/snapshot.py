"""A dashboard's state after a refresh: rows, failures, warnings, ages.

This is what both faces read: the console draws it, ``check --json`` prints
it, and SQLite keeps the last one per dashboard so the console paints at
once at start-up.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from portal_tui.dashboards.base import WorkspaceRow
from portal_tui.vocabulary.names import DashboardName, Severity
from portal_tui.vocabulary.validation import ValidationErrorType, ValidationIssue

SNAPSHOT_FORMAT = 1

# Stands for the rows in the envelope while it is serialised (a key no data can hold:
# JSON escapes every control character inside strings).
_ROWS_SENTINEL = "\x00rows\x00"
SNAPSHOT_CONTEXT: dict[str, Any] = {"snapshot": True}
"""Serialisation context of the SQLite snapshot: rows may choose a compact form."""


@dataclass(frozen=True, slots=True)
class WorkspaceFailure:
    """Why one workspace (or a whole instance) failed for one dashboard.

    ``workspace`` is None for an instance-level failure such as "upstream
    unreachable", reported once instead of once per workspace.
    """

    instance: str
    workspace: str | None
    workspace_id: int | None
    dashboard: DashboardName
    error_type: str
    status_code: int | None
    attempts: int
    message: str
    request: str
    since: datetime
    last_at: datetime

    @property
    def label(self) -> str:
        """``4xx 401`` or ``timeout``."""
        return f"{self.error_type} {self.status_code}" if self.status_code else self.error_type


@dataclass(frozen=True, slots=True)
class RowMeta:
    """Where one workspace's row came from: its data's time, and whether it is stale."""

    fetched_at: datetime
    stale: bool = False
    error: str | None = None


@dataclass(slots=True)
class DashboardSnapshot:
    """One dashboard's latest result, including stale rows kept for failed workspaces."""

    name: DashboardName
    rows: list[WorkspaceRow] = field(default_factory=list)
    row_meta: dict[tuple[str, int], RowMeta] = field(default_factory=dict)
    warnings: dict[str, list[str]] = field(default_factory=dict)
    issues: list[ValidationIssue] = field(default_factory=list)
    failures: list[WorkspaceFailure] = field(default_factory=list)
    totals: dict[str, Any] = field(default_factory=dict)
    fetched_at: datetime | None = None
    refreshed_at: datetime | None = None
    error: str | None = None
    workspaces_expected: int = 0
    duration_ms: float = 0.0
    restored: bool = False  # painted from SQLite, not yet revalidated

    @property
    def failed_workspaces(self) -> list[str]:
        """Names of workspaces that failed in the last refresh."""
        return sorted({f.workspace for f in self.failures if f.workspace})

    @property
    def warning_count(self) -> int:
        """How many warnings the rows carry."""
        return sum(len(v) for v in self.warnings.values())

    @property
    def stale_rows(self) -> int:
        """Rows kept from older data because their workspace failed."""
        return sum(1 for m in self.row_meta.values() if m.stale)

    def to_json(self, *, rows: bool = True) -> dict[str, Any]:
        """A JSON-ready dict (``check --json``; the SQLite payload is :meth:`dumps`).

        ``rows=False`` leaves the rows out (an empty list).
        """
        return {
            "format": SNAPSHOT_FORMAT,
            "dashboard": self.name.value,
            "fetched_at": _iso(self.fetched_at),
            "refreshed_at": _iso(self.refreshed_at),
            "error": self.error,
            "workspaces_expected": self.workspaces_expected,
            "duration_ms": round(self.duration_ms, 1),
            "totals": self.totals,
            "rows": [row.model_dump(mode="json") for row in self.rows] if rows else [],
            "row_meta": [
                {
                    "instance": key[0],
                    "workspace_id": key[1],
                    "fetched_at": _iso(meta.fetched_at),
                    "stale": meta.stale,
                    "error": meta.error,
                }
                for key, meta in self.row_meta.items()
            ],
            "warnings": self.warnings,
            "issues": [
                {k: (v.value if hasattr(v, "value") else v) for k, v in asdict(i).items()}
                for i in self.issues
            ],
            "failures": [
                {
                    **{
                        k: v
                        for k, v in asdict(f).items()
                        if k not in ("since", "last_at", "dashboard")
                    },
                    "dashboard": f.dashboard.value,
                    "since": _iso(f.since),
                    "last_at": _iso(f.last_at),
                }
                for f in self.failures
            ],
        }

    def dumps(self) -> str:
        """Compact JSON text, deterministic (so checksums compare content).

        The envelope has sorted keys; each row is pydantic's own JSON of it
        (fields in model order, the same values as :meth:`to_json`), dumped
        with ``context={"snapshot": True}`` so that a row may choose a compact
        form it loads back from (Infrastructure's mailboxes do). Rows are
        serialised straight to text, never as a tree of dicts: at 50,000
        mailboxes the dicts cost five times the text they become.
        """
        envelope = self.to_json(rows=False)
        envelope["rows"] = _ROWS_SENTINEL
        # allow_nan=False: NaN or Infinity is not JSON; raise rather than write it (rows
        # are pydantic's JSON, which writes them as null). SQLite no longer re-checks.
        text = json.dumps(
            envelope, sort_keys=True, separators=(",", ":"), default=_jsonable, allow_nan=False
        )
        head, tail = text.split(json.dumps(_ROWS_SENTINEL), 1)
        parts = [head, "["]
        for index, row in enumerate(self.rows):
            if index:
                parts.append(",")
            parts.append(row.model_dump_json(context=SNAPSHOT_CONTEXT))
        parts += ["]", tail]
        return "".join(parts)  # one copy of the text, not one per step

    @classmethod
    def loads(cls, text: str, row_model: type[WorkspaceRow]) -> DashboardSnapshot:
        """Rebuild from :meth:`dumps` output; raises ValueError on an unknown format."""
        raw = json.loads(text)
        if raw.get("format") != SNAPSHOT_FORMAT:
            raise ValueError(f"snapshot format {raw.get('format')!r} is not {SNAPSHOT_FORMAT}")
        name = DashboardName(raw["dashboard"])
        return cls(
            name=name,
            rows=[row_model.model_validate(r) for r in raw["rows"]],
            row_meta={
                (m["instance"], int(m["workspace_id"])): RowMeta(
                    datetime.fromisoformat(m["fetched_at"]), m["stale"], m["error"]
                )
                for m in raw["row_meta"]
            },
            warnings={k: list(v) for k, v in raw["warnings"].items()},
            issues=[
                ValidationIssue(
                    dashboard=DashboardName(i["dashboard"]),
                    workspace=i["workspace"],
                    error_type=ValidationErrorType(i["error_type"]),
                    field_name=i["field_name"],
                    expected=i["expected"],
                    actual=i["actual"],
                    message=i["message"],
                    severity=Severity(i["severity"]),
                )
                for i in raw["issues"]
            ],
            failures=[
                WorkspaceFailure(
                    instance=f["instance"],
                    workspace=f["workspace"],
                    workspace_id=f["workspace_id"],
                    dashboard=DashboardName(f["dashboard"]),
                    error_type=f["error_type"],
                    status_code=f["status_code"],
                    attempts=f["attempts"],
                    message=f["message"],
                    request=f["request"],
                    since=datetime.fromisoformat(f["since"]),
                    last_at=datetime.fromisoformat(f["last_at"]),
                )
                for f in raw["failures"]
            ],
            totals=raw["totals"],
            fetched_at=_parse(raw["fetched_at"]),
            refreshed_at=_parse(raw["refreshed_at"]),
            error=raw["error"],
            workspaces_expected=raw["workspaces_expected"],
            duration_ms=raw["duration_ms"],
            restored=True,
        )


def json_safe(value: Any) -> Any:
    """``value`` with datetimes turned into ISO text, recursively (for totals)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def _jsonable(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
