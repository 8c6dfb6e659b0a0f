"""``portal-tui metrics``: Prometheus metrics built from the local records alone.

Everything comes from the SQLite records every process sharing the file
wrote, never from one process's memory, so the exporter agrees with
``check``, ``export`` and ``doctor``: the health score, level and failing
workspaces are :func:`portal_tui.engine.verdict.verdict_from_records`'s.

:func:`read_snapshot` does the (async) reads; :class:`RecordsCollector` turns
a snapshot into metric families for a :class:`CollectorRegistry`;
:func:`render_openmetrics` gives the OpenMetrics exposition (what ``metrics``
prints and what an HTTP ``/metrics`` would serve) and :func:`render_text`
the classic Prometheus text format (what node_exporter's textfile collector
reads). :func:`metrics_text` is reads plus rendering in one call.

Windowed numbers (API attempts, response times) are gauges over the last
``window`` (``--since``, default 5 minutes; ``portal_tui_api_window_seconds``),
not counters: the records are pruned, so a count of rows is not monotonic.
Compare them directly; do not ``rate()`` them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest as generate_text
from prometheus_client.openmetrics.exposition import generate_latest
from prometheus_client.registry import Collector, CollectorRegistry

from portal_tui.dashboards.registry import dashboard_names
from portal_tui.engine.verdict import Verdict, verdict_from_records
from portal_tui.store.database import Store
from portal_tui.store.metrics_queries import ResponseTimes
from portal_tui.store.records import DASHBOARD_KEY_PREFIX

LEVELS = {"OK": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3}
"""``portal_tui_health_level``'s values: the ``check`` exit code of the level."""

SEVERITIES = ("info", "warning", "error", "critical")
BUCKETS_MS = (50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0)
"""Response-time bucket bounds (the exposition is in seconds)."""
DEFAULT_WINDOW = timedelta(minutes=5)
"""The verdict's failed-call window: the API numbers cover the same span by default."""
OK_OUTCOME = "ok"


@dataclass(frozen=True, slots=True)
class DashboardAge:
    """A dashboard's last good refresh, as the records hold it."""

    name: str
    age_seconds: float | None
    ttl_seconds: float | None


@dataclass(frozen=True, slots=True)
class MetricsSnapshot:
    """Everything the exposition shows, read from the records at ``at``."""

    at: datetime
    window: timedelta
    verdict: Verdict
    dashboards: tuple[DashboardAge, ...]
    findings: dict[tuple[str, str], int]
    """Open consistency findings by ``(rule, severity)``."""
    validation: dict[str, int]
    """Open validation errors by severity."""
    requests: dict[tuple[str, str], int]
    """API attempts in the window by ``(instance, outcome)``; outcome ``ok`` or an error kind."""
    response_times: tuple[ResponseTimes, ...]


async def read_snapshot(
    store: Store, now: datetime, *, window: timedelta = DEFAULT_WINDOW
) -> MetricsSnapshot:
    """Read the records (never write them) for an exposition at ``now``."""
    verdict = await verdict_from_records(store, now)
    metadata = {
        m.cache_key.removeprefix(DASHBOARD_KEY_PREFIX): m
        for m in await store.cache_metadata()
        if m.cache_key.startswith(DASHBOARD_KEY_PREFIX)
    }
    names = [str(n) for n in dashboard_names()]
    names += sorted(n for n in metadata if n not in names)
    dashboards = []
    for name in names:
        record = metadata.get(name)
        updated = record.last_updated if record else None
        dashboards.append(
            DashboardAge(
                name,
                None if updated is None else max(0.0, (now - updated).total_seconds()),
                record.ttl_seconds if record else None,
            )
        )
    findings = Counter((f.rule, f.severity) for f in await store.open_findings())
    validation = Counter(e.severity for e in await store.open_validation_errors())
    start = now - window
    requests: Counter[tuple[str, str]] = Counter()
    for count in await store.api_call_counts(start):
        if count.error_type is None:
            requests[(count.instance, OK_OUTCOME)] += count.attempts - count.failed
        else:
            requests[(count.instance, count.error_type)] += count.failed
    return MetricsSnapshot(
        at=now,
        window=window,
        verdict=verdict,
        dashboards=tuple(dashboards),
        findings=dict(findings),
        validation={s: validation.get(s, 0) for s in (*SEVERITIES, *sorted(validation))},
        requests=dict(requests),
        response_times=tuple(await store.response_times(start, BUCKETS_MS)),
    )


class RecordsCollector(Collector):
    """A prometheus-client collector over one :class:`MetricsSnapshot`."""

    def __init__(self, snapshot: MetricsSnapshot) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        snap, verdict = self._snapshot, self._snapshot.verdict
        yield GaugeMetricFamily(
            "portal_tui_health_score",
            "Health score 0-100 from the local records (the verdict check/export/doctor give).",
            value=verdict.score,
        )
        yield GaugeMetricFamily(
            "portal_tui_health_level",
            "Health level: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (nothing recorded yet).",
            value=LEVELS[verdict.level],
        )
        if verdict.last_cycle_at is not None:
            yield GaugeMetricFamily(
                "portal_tui_last_cycle_timestamp_seconds",
                "When the newest refresh cycle in the last hour finished (Unix time).",
                value=verdict.last_cycle_at.timestamp(),
            )
        age = GaugeMetricFamily(
            "portal_tui_dashboard_age_seconds",
            "Seconds since the dashboard's last good refresh (absent: never refreshed).",
            labels=["dashboard"],
        )
        ttl = GaugeMetricFamily(
            "portal_tui_dashboard_ttl_seconds",
            "The dashboard's refresh TTL as last recorded.",
            labels=["dashboard"],
        )
        for board in snap.dashboards:
            if board.age_seconds is not None:
                age.add_metric([board.name], board.age_seconds)
            if board.ttl_seconds:
                ttl.add_metric([board.name], board.ttl_seconds)
        yield age
        yield ttl
        failing = GaugeMetricFamily(
            "portal_tui_workspace_failing",
            "1: FAILING after hysteresis; 0: failed its last refresh, not yet FAILING.",
            labels=["instance", "workspace", "dashboard"],
        )
        for ws in verdict.failing:
            for dashboard in ws.dashboards or ("",):
                failing.add_metric([ws.instance, ws.workspace, dashboard], int(ws.confirmed))
        yield failing
        findings = GaugeMetricFamily(
            "portal_tui_consistency_findings",
            "Open consistency findings.",
            labels=["rule", "severity"],
        )
        for (rule, severity), n in sorted(snap.findings.items()):
            findings.add_metric([rule, severity], n)
        yield findings
        validation = GaugeMetricFamily(
            "portal_tui_validation_errors", "Open validation errors.", labels=["severity"]
        )
        for severity, n in snap.validation.items():
            validation.add_metric([severity], n)
        yield validation
        yield GaugeMetricFamily(
            "portal_tui_api_window_seconds",
            "The window the portal_tui_api_* numbers cover.",
            value=snap.window.total_seconds(),
        )
        requests = GaugeMetricFamily(
            "portal_tui_api_requests_total",
            "API attempts logged in the window, by outcome (ok or the error kind). "
            "A windowed count, not a counter: do not rate() it.",
            labels=["instance", "outcome"],
        )
        for (instance, outcome), n in sorted(snap.requests.items()):
            requests.add_metric([instance, outcome], n)
        yield requests
        times = GaugeHistogramMetricFamily(
            "portal_tui_api_response_seconds",
            "Response times of the API attempts logged in the window.",
            labels=["instance"],
        )
        for rt in snap.response_times:
            buckets = [
                (_bound(ms), float(n)) for ms, n in zip(BUCKETS_MS, rt.cumulative, strict=True)
            ]
            buckets.append(("+Inf", float(rt.count)))
            times.add_metric([rt.instance], buckets, gsum_value=rt.sum_ms / 1000.0)
        yield times


def _bound(ms: float) -> str:
    return f"{ms / 1000.0:g}"


def _registry(snapshot: MetricsSnapshot) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RecordsCollector(snapshot))
    return registry


def render_openmetrics(snapshot: MetricsSnapshot) -> str:
    """The OpenMetrics exposition (ends with ``# EOF``)."""
    exposition: bytes = generate_latest(_registry(snapshot))  # type: ignore[no-untyped-call]
    return exposition.decode("utf-8")


def render_text(snapshot: MetricsSnapshot) -> str:
    """The classic Prometheus text format (what node_exporter's textfile collector parses)."""
    return generate_text(_registry(snapshot)).decode("utf-8")


async def metrics_text(
    store: Store,
    now: datetime,
    *,
    window: timedelta = DEFAULT_WINDOW,
    openmetrics: bool = True,
) -> str:
    """Read the records and render them: what ``metrics`` prints and ``/metrics`` would serve."""
    snapshot = await read_snapshot(store, now, window=window)
    return render_openmetrics(snapshot) if openmetrics else render_text(snapshot)
