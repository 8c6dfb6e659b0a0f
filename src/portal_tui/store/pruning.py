"""Retention: what is deleted when, in batches small enough not to starve other writers.

One big ``DELETE`` of a month of logs would hold the write lock for seconds
and make the other console (or the cron check) wait past its busy timeout,
so rows go in batches of :data:`PRUNE_BATCH`, each its own transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import aiosqlite

from portal_tui.store.transactions import SharedConnection

PRUNE_BATCH = 5000
_DAY = 86400.0


@dataclass(frozen=True, slots=True)
class RetentionRule:
    """Rows of ``table`` whose ``column`` is older than the cut-off (and match ``where``)."""

    table: str
    column: str
    resolved_only: bool = False  # governed by the longer, resolved-error retention
    lag_seconds: float = 0.0
    """Kept this much longer: a roll-up bucket goes once its whole hour is past retention."""

    def delete_sql(self) -> str:
        """One batch of deletions; parameters: cut-off epoch seconds, batch size."""
        extra = " AND resolved = 1" if self.resolved_only else ""
        return (
            f"DELETE FROM {self.table} WHERE rowid IN ("
            f"SELECT rowid FROM {self.table} WHERE {self.column} < ?{extra} LIMIT ?)"
        )


RULES: tuple[RetentionRule, ...] = (
    RetentionRule("api_health_logs", "timestamp"),
    # Roll-up buckets (issue 20) are named by their hour's start.
    RetentionRule("api_call_rollups", "hour", lag_seconds=3600.0),
    RetentionRule("workspace_state_transitions", "at"),
    RetentionRule("refresh_cycles", "finished_at"),
    # Open validation errors are never pruned, however old: they are current.
    RetentionRule("data_validation_errors", "resolved_at", resolved_only=True),
    # Likewise open consistency findings stay; resolved ones go with resolved errors.
    RetentionRule("consistency_findings", "resolved_at", resolved_only=True),
    # A baseline not refreshed for a retention period belongs to a workspace gone since.
    RetentionRule("consistency_baselines", "recorded_at"),
    RetentionRule("verify_results", "run_at"),
    # Alert events (delivered or not) go with the logs they came from (issue 17).
    RetentionRule("alert_outbox", "created_at"),
    # What engineers did from the consoles goes with the logs too (issue 19).
    RetentionRule("operator_actions", "at"),
)


async def delete_batch(conn: aiosqlite.Connection, rule: RetentionRule, cutoff: float) -> int:
    """Delete up to :data:`PRUNE_BATCH` expired rows; returns how many went."""
    cursor = await conn.execute(rule.delete_sql(), (cutoff, PRUNE_BATCH))
    deleted = cursor.rowcount
    await cursor.close()
    return max(0, deleted)


@dataclass(frozen=True, slots=True)
class PruneResult:
    """Rows deleted per table, and whether every expired row is gone."""

    deleted: dict[str, int]
    complete: bool


async def prune(
    db: SharedConnection,
    *,
    now: float,
    retention_days: float,
    resolved_retention_days: float,
    max_rows: int | None = None,
) -> PruneResult:
    """Delete expired rows batch by batch, each batch its own write transaction.

    With ``max_rows`` it starts no batch once that many rows are gone;
    ``complete`` then says whether anything expired may be left.
    """
    deleted: dict[str, int] = {}
    gone = 0
    complete = True
    for rule in RULES:
        days = resolved_retention_days if rule.resolved_only else retention_days
        batch = partial(delete_batch, rule=rule, cutoff=now - days * _DAY - rule.lag_seconds)
        total = 0
        while complete:
            if max_rows is not None and gone >= max_rows:
                complete = False
                break
            n = await db.run(f"pruning {rule.table}", batch)
            gone += n
            total += n
            if n < PRUNE_BATCH:
                break
        deleted[rule.table] = total
    return PruneResult(deleted, complete)
