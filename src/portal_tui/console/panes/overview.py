"""Overview: the health score and every reason, one row per dashboard, the instances."""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.app import ComposeResult

from portal_tui.console.format import fmt_int
from portal_tui.console.panes.base import Bar, Pane, toned
from portal_tui.console.render_status import (
    OVERVIEW_COLUMNS,
    breaker_line,
    calls_summary,
    health_text,
    health_tone,
    overview_row,
)
from portal_tui.console.state import ConsoleState
from portal_tui.console.summary import incident_summary
from portal_tui.console.widgets.row_table import RowTable
from portal_tui.dashboards.registry import dashboard_names, title_of
from portal_tui.engine.view import MonitorView
from portal_tui.fetch.cache import CacheStats
from portal_tui.store.records import WorkspaceState
from portal_tui.vocabulary.names import DashboardName
from portal_tui.vocabulary.trend import health_trend_text


def overview_top(state: ConsoleState) -> Text:
    """Banners (DEMO, TLS off, token in the clear), the health score and all its reasons."""
    parts: list[tuple[str, str] | str] = []
    if state.demo:
        parts += [(" DEMO ", "reverse bold"), " built-in simulator: no network, no tokens\n"]
    for name in state.tls_off():
        parts += [(f" ⚠ TLS VERIFICATION OFF for instance {name} ", "reverse bold red"), "\n"]
    for name in state.plaintext_token():
        banner = f" ⚠ TOKEN SENT UNENCRYPTED to instance {name} (plain http://) "
        parts += [(banner, "reverse bold red"), "\n"]
    view = state.view
    shared = view.shared
    if not shared.healthy:
        parts += [(f" ⚠ {shared.label} ", "reverse bold yellow"), "\n"]
    health = view.health
    text = health_text(health, view.restored_health, state.now)
    parts.append((text, health_tone(health) + " bold"))
    for reason in health.reasons:
        parts.append(f"\n  • {reason}")
    trend = health_trend_text(view.health_trend)
    if trend:
        parts.append(f"\n  trend over the last recorded cycles: {trend}")
    return toned(*parts)


def overview_bottom(state: ConsoleState, stats: CacheStats | None = None) -> Text:
    """Instances (breaker, next probe, upstream), failing workspaces, requests, cache,
    alerts not delivered.

    ``stats``: the cache's statistics if already at hand (they cost a pass
    over every cached response).
    """
    view = state.view
    now = state.now
    parts: list[tuple[str, str] | str] = []
    for status in view.breakers:
        unreachable = view.unreachable.get(status.instance)
        tone = "bad" if unreachable or status.state.value != "closed" else ""
        parts += [(breaker_line(status, now, unreachable), tone), "\n"]
    failing = [f for f in view.failing if f[2] is WorkspaceState.FAILING]
    failed_now = {
        (f.instance, f.workspace)
        for snap in view.snapshots.values()
        for f in snap.failures
        if f.workspace
    }
    parts.append(
        (f"✗ {len(failed_now)} workspace(s) failed the last refresh", "bad")
        if failed_now
        else ("✔ no workspace failed the last refresh", "good")
    )
    parts.append(" · ")
    parts.append(
        (f"{len(failing)} FAILING after hysteresis", "bad")
        if failing
        else "none failing after hysteresis"
    )
    parts.append("\n")
    stats = stats or view.cache
    requests = calls_summary(view.calls, view.on_the_wire)
    cache = (
        f" · cache {fmt_int(stats.entries)} entries, "
        f"{fmt_int(stats.hits)} hits / {fmt_int(stats.misses)} misses"
        if stats is not None
        else ""
    )
    parts.append(f"requests: {requests}{cache}")
    shared = view.shared
    if shared.kind != "off":
        parts += [
            "\n",
            (shared_line(shared.label, view.sources), "" if shared.healthy else "bad"),
        ]
    for trouble in view.alert_trouble:  # as the records held after the last delivery pass
        parts += ["\n", (trouble.line(), "bad")]
    return toned(*parts)


def shared_line(label: str, sources: Mapping[str, Mapping[str, int]]) -> str:
    """``shared via SQLite (…) · data: KPI 4 here, 20 shared · …`` (the last refresh of
    each dashboard: fetched here, shared by another process, from this one's cache)."""
    boards = []
    for name in dashboard_names():
        got = sources.get(str(name))
        if got:
            counts = ", ".join(f"{got[k]} {k}" for k in ("here", "shared", "cache") if got.get(k))
            boards.append(f"{title_of(name)} {counts or 'nothing'}")
    return label + (" · data: " + " · ".join(boards) if boards else "")


class OverviewPane(Pane):
    """Pane 1: the state of everything in one glance. ``y`` copies an incident summary."""

    def __init__(self, state: ConsoleState) -> None:
        super().__init__(state, id="overview")
        self._cache_stats: CacheStats | None = None

    def compose(self) -> ComposeResult:
        """Top lines, the dashboards table, the bottom lines, the filter box."""
        yield Bar(id="overview-top", classes="bar")
        yield RowTable(OVERVIEW_COLUMNS, empty_text="no dashboards", id="overview-table")
        yield Bar(id="overview-bottom", classes="bar")
        yield from self.compose_filter()

    def repaint(self) -> None:
        """Everything on this pane depends on the clock, so a repaint is a tick."""
        super().repaint()
        self.tick()

    def tick(self) -> None:
        """Redraw health, the dashboards' ages and states, and the instances."""
        view = self.state.view
        self.query_one("#overview-top", Bar).update(overview_top(self.state))
        self.query_one("#overview-table", RowTable).set_rows(
            [
                overview_row(
                    name,
                    view.snapshot(name),
                    view.freshness(name),
                    self.state.next_refresh(name),
                    _loading_label(view, name),
                )
                for name in dashboard_names()
            ]
        )
        self._cache_stats = view.cache or self._cache_stats
        self.query_one("#overview-bottom", Bar).update(
            overview_bottom(self.state, self._cache_stats)
        )

    def calls_changed(self) -> None:
        """The requests line changes with calls (up to 4 Hz while refreshing).

        Only the bottom lines: the dashboards' overlays change with
        :class:`RefreshStateChanged` (a repaint), ages and the cache counts
        on the 1 Hz tick.
        """
        self.query_one("#overview-bottom", Bar).update(
            overview_bottom(self.state, self._cache_stats)
        )

    def copy_text(self) -> str | None:
        """On the Overview, ``y`` copies the incident summary."""
        return incident_summary(self.state)


def _loading_label(view: MonitorView, name: DashboardName) -> str | None:
    loading = view.board(name).loading
    return loading.label if loading is not None else None
