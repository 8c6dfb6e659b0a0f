"""The dashboard_health_summary view, branch by branch (SPEC 5: first match wins).

The view uses SQLite's real now, so these tests record rows relative to the
real time (a FakeClock started at datetime.now()).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from portal_tui.fetch.events import ApiCallRecord
from portal_tui.store import CacheMetadataRecord, CycleRecord, Store, dashboard_cache_key
from portal_tui.vocabulary.clock import FakeClock
from portal_tui.vocabulary.errors import ErrorType
from portal_tui.vocabulary.names import DashboardName, Severity
from portal_tui.vocabulary.validation import ValidationErrorType, ValidationIssue


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
async def store(tmp_path: Path, now: datetime) -> AsyncIterator[Store]:
    async with await Store.open(tmp_path / "records.sqlite3", clock=FakeClock(now)) as opened:
        yield opened


def failed_calls(n: int, at: datetime) -> list[ApiCallRecord]:
    return [
        ApiCallRecord(
            "send",
            "stats",
            "GET",
            f"ws{i}",
            503,
            50.0,
            False,
            ErrorType.SERVER_5XX,
            "service unavailable",
            1,
            "auto",
            at,
        )
        for i in range(n)
    ]


def dashboard(
    name: str, *, status: str = "ok", age: float = 0.0, ttl: float = 120.0, now: datetime
) -> CacheMetadataRecord:
    return CacheMetadataRecord(
        dashboard_cache_key(name),
        name,
        now - timedelta(seconds=age),
        100.0,
        10,
        1000,
        status,
        None,
        ttl,
    )


def critical(workspace: str, severity: Severity = Severity.CRITICAL) -> ValidationIssue:
    return ValidationIssue(
        DashboardName.REVENUE,
        workspace,
        ValidationErrorType.SCHEMA_MISMATCH,
        "data",
        "object",
        "'<html>'",
        "data: not an object",
        severity,
    )


async def record(store: Store, at: datetime, **parts: Any) -> None:
    await store.record_cycle(CycleRecord("auto", at, at, **parts))


async def test_nothing_wrong_scores_100(store: Store, now: datetime) -> None:
    # A per-request cache entry, in error and long stale, is not a dashboard.
    request = CacheMetadataRecord(
        "send/12/stats?start_date=2026-11-01",
        None,
        now - timedelta(hours=3),
        5.0,
        1,
        10,
        "error",
        "boom",
        120.0,
    )
    await record(
        store,
        now,
        cache_metadata=[dashboard("kpi", now=now), request],
        api_calls=failed_calls(5, now),
        failed_requests=5,  # five is not "more than 5"
    )
    health = await store.health_summary()
    assert (health.score, health.reason) == (100, "all dashboards fresh, no recent failures")
    assert health.failed_calls_5m == 5
    assert abs((health.computed_at - now).total_seconds()) < 60


async def test_a_dashboard_in_error_scores_30_and_wins(store: Store, now: datetime) -> None:
    await record(
        store,
        now,
        api_calls=failed_calls(9, now),
        failed_requests=9,
        validation_issues=[critical("Acme")],
        cache_metadata=[
            dashboard("volume", status="error", now=now),
            dashboard("kpi", status="error", now=now),
            dashboard("revenue", status="partial", now=now),
        ],
    )
    health = await store.health_summary()
    assert health.score == 30
    assert health.reason == "dashboard in error: kpi, volume"
    assert health.error_dashboard_names == ("kpi", "volume")
    assert (health.error_dashboards, health.failed_calls_5m, health.critical_errors_1h) == (2, 9, 1)


async def test_more_than_five_recent_failures_score_50(store: Store, now: datetime) -> None:
    old = now - timedelta(minutes=6)
    await record(store, old, api_calls=failed_calls(20, old), failed_requests=20)  # too old
    assert (await store.health_summary()).score == 100
    # Attempts that were retried and then succeeded are not failed calls (SPEC section 5).
    await record(store, now, api_calls=failed_calls(12, now), failed_requests=0)
    assert (await store.health_summary()).score == 100
    await record(
        store,
        now,
        api_calls=failed_calls(6, now),
        failed_requests=6,
        validation_issues=[critical("A")],
    )
    health = await store.health_summary()
    assert (health.score, health.failed_calls_5m) == (50, 6)
    assert health.reason == "6 failed API calls in the last 5 min"


async def test_a_recent_critical_validation_error_scores_60(store: Store, now: datetime) -> None:
    two_hours_ago = now - timedelta(hours=2)
    await record(store, two_hours_ago, validation_issues=[critical("Old")])
    await record(store, now, validation_issues=[critical("Mild", Severity.ERROR)])
    assert (await store.health_summary()).score == 100  # old critical, recent non-critical
    await record(store, now, validation_issues=[critical("Acme")])
    health = await store.health_summary()
    assert (health.score, health.critical_errors_1h) == (60, 1)
    assert health.reason == "1 critical validation error(s) in the last hour"
    # Resolved (validated and clean): no longer counts.
    later = now + timedelta(seconds=1)
    await record(store, later, validated={("revenue", "Acme")})
    assert (await store.health_summary()).score == 100


async def test_more_than_two_stale_dashboards_score_75(store: Store, now: datetime) -> None:
    two_stale = [
        dashboard("kpi", age=300, now=now),
        dashboard("volume", age=300, now=now),
        dashboard("revenue", age=10, ttl=300, now=now),
    ]
    await record(store, now, cache_metadata=two_stale)
    health = await store.health_summary()
    assert (health.score, health.stale_dashboards) == (100, 2)
    await record(
        store, now, cache_metadata=[dashboard("infrastructure", age=900, ttl=600, now=now)]
    )
    health = await store.health_summary()
    assert health.score == 75
    assert health.stale_dashboard_names == ("infrastructure", "kpi", "volume")
    assert health.reason == "3 stale dashboards: infrastructure, kpi, volume"
