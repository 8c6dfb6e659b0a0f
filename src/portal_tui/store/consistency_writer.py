"""Writing a cycle's consistency result, inside the cycle's own transaction.

Same life cycle as ``data_validation_errors``: a repeat of an open finding
bumps ``occurrences`` and ``last_seen``; an open finding of a judged
``(rule, scope)`` whose ``last_seen`` is older than this cycle was not seen
this time and is resolved. Checksums and field times only move forward, so
two consoles writing in either order agree.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import aiosqlite

from portal_tui.store.consistency_records import ConsistencyRecord
from portal_tui.store.outbox import enqueue_new_findings
from portal_tui.store.records import to_epoch

Row = tuple[object, ...]
SEVERITIES = ("info", "warning", "error", "critical")

_UPSERT_FINDING = """
INSERT INTO consistency_findings (rule, severity, scope, subject, message, first_seen, last_seen,
    evidence)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (rule, scope, subject) WHERE resolved = 0
DO UPDATE SET
    occurrences = occurrences + 1,
    last_seen = max(last_seen, excluded.last_seen),
    severity = excluded.severity,
    message = excluded.message,
    evidence = coalesce(excluded.evidence, evidence)
"""

EVIDENCE_MAX_CHARS = 8000
"""A finding's evidence (the offending payload) is kept up to this many characters."""

_RESOLVE_ABSENT = """
UPDATE consistency_findings SET resolved = 1, resolved_at = ?1
WHERE resolved = 0 AND rule = ?2 AND scope = ?3 AND last_seen < ?1
"""

_UPSERT_CHECKSUM = """
INSERT INTO dashboard_checksums (dashboard, checksum, source_digest, changed_at, checked_at,
    unchanged_refreshes)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (dashboard) DO UPDATE SET
    checksum = excluded.checksum,
    source_digest = excluded.source_digest,
    changed_at = excluded.changed_at,
    checked_at = excluded.checked_at,
    unchanged_refreshes = excluded.unchanged_refreshes
WHERE excluded.checked_at >= dashboard_checksums.checked_at
"""

_UPSERT_FIELD = """
INSERT INTO schema_fields (endpoint, field, first_seen, last_seen) VALUES (?, ?, ?, ?)
ON CONFLICT (endpoint, field) DO UPDATE SET
    first_seen = min(first_seen, excluded.first_seen),
    last_seen = max(last_seen, excluded.last_seen)
"""

_UPSERT_BASELINE = """
INSERT INTO consistency_baselines (rule, subject, value, recorded_at) VALUES (?, ?, ?, ?)
ON CONFLICT (rule, subject) DO UPDATE SET
    value = excluded.value,
    recorded_at = excluded.recorded_at
WHERE excluded.recorded_at >= consistency_baselines.recorded_at
"""


@dataclass(frozen=True, slots=True)
class ConsistencyRows:
    """A consistency result converted to SQL parameters."""

    findings: Sequence[Row]
    resolve: Sequence[Row]
    checksums: Sequence[Row]
    fields: Sequence[Row]
    baselines: Sequence[Row] = ()

    @classmethod
    def build(
        cls,
        record: ConsistencyRecord,
        at: float,
        redact: Callable[[str], str],
        exact: Callable[[str], str] = str,
    ) -> ConsistencyRows:
        """Convert and check (ValueError on an unknown severity); ``at`` is the cycle's end.

        ``exact`` removes known secrets from field names (which came from the upstream).
        """
        latest: dict[tuple[str, str, str], Row] = {}
        for f in record.findings:
            if f.severity not in SEVERITIES:
                raise ValueError(
                    f"finding {f.rule}: severity {f.severity!r} is not one of "
                    f"{', '.join(SEVERITIES)}"
                )
            scope = exact(f.scope)
            latest[(f.rule, scope, f.subject)] = (
                f.rule,
                f.severity,
                scope,
                redact(f.subject),
                redact(f.message),
                at,
                at,
                None if f.evidence is None else _clip(redact, f.evidence),
            )
        resolve = [(at, rule, exact(scope)) for rule, scope in sorted(record.covered)]
        checksums = [
            (
                c.dashboard,
                c.checksum,
                c.source_digest,
                to_epoch(c.changed_at),
                max(to_epoch(c.checked_at), to_epoch(c.changed_at)),
                max(0, c.unchanged_refreshes),
            )
            for c in record.checksums
        ]
        fields = [
            (
                f.endpoint,
                exact(f.field),
                to_epoch(f.first_seen),
                max(to_epoch(f.last_seen), to_epoch(f.first_seen)),
            )
            for f in record.fields
        ]
        baselines = [
            (
                b.rule,
                redact(b.subject),
                json.dumps(dict(b.value), allow_nan=False, sort_keys=True),
                to_epoch(b.recorded_at),
            )
            for b in record.baselines
        ]
        return cls(list(latest.values()), resolve, checksums, fields, baselines)


def _clip(redact: Callable[[str], str], text: str) -> str:
    """Evidence through the store's redactor, clipped at :data:`EVIDENCE_MAX_CHARS`."""
    clipped = getattr(redact, "clipped", None)
    if clipped is not None:
        return str(clipped(text, EVIDENCE_MAX_CHARS))
    return redact(text)


async def insert_consistency(conn: aiosqlite.Connection, rows: ConsistencyRows) -> None:
    """Upsert findings, resolve the absent ones, store checksums, fields and baselines
    (caller's txn)."""
    if rows.findings:
        await conn.executemany(_UPSERT_FINDING, rows.findings)
        await enqueue_new_findings(conn, rows.findings, float(str(rows.findings[0][5])))
    if rows.resolve:
        await conn.executemany(_RESOLVE_ABSENT, rows.resolve)
    if rows.checksums:
        await conn.executemany(_UPSERT_CHECKSUM, rows.checksums)
    if rows.fields:
        await conn.executemany(_UPSERT_FIELD, rows.fields)
    if rows.baselines:
        await conn.executemany(_UPSERT_BASELINE, rows.baselines)
