"""The console's pure parts, without an app: formatting, tables, rows, policy, coalescing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rich.text import Text
from textual.message import Message

from portal_tui.console.autorefresh import AutoRefreshPolicy, BoardClock
from portal_tui.console.bindings import fixed_bindings, help_rows, keys, pane_keys, panes
from portal_tui.console.format import (
    fmt_clock,
    fmt_compact,
    fmt_duration,
    fmt_int,
    fmt_money,
    fmt_ratio,
)
from portal_tui.console.messages import CallsChanged, DashboardsUpdated
from portal_tui.console.panes.base import same_height
from portal_tui.console.relay import MonitorRelay
from portal_tui.console.render import (
    STATE_FAILED,
    STATE_OK,
    STATE_WARN,
    row_state,
    workspace_rows,
)
from portal_tui.console.render_status import call_rows, calls_summary, history_rows, overview_row
from portal_tui.console.summary import row_text
from portal_tui.console.table_model import Column, TableRow, TableView
from portal_tui.console.widgets.key_bar import key_bar_text
from portal_tui.console.widgets.row_table import fit
from portal_tui.dashboards.kpi import KpiRow
from portal_tui.dashboards.snapshot import DashboardSnapshot, RowMeta, WorkspaceFailure
from portal_tui.engine.monitor import CallStatusChanged, SnapshotUpdated
from portal_tui.fetch.events import CallPhase, RetryStatus
from portal_tui.store.records import WorkspaceHistory
from portal_tui.vocabulary.freshness import Freshness
from portal_tui.vocabulary.names import DashboardName
from portal_tui.vocabulary.trend import sparkline

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def test_formatters_never_show_a_missing_value_as_zero() -> None:
    assert fmt_int(None) == fmt_money(None) == fmt_ratio(None) == "—"
    assert fmt_int(12345.4) == "12,345"
    assert fmt_money(16306) == "$16,306" and fmt_money(0.91) == "$0.91"
    assert fmt_money(-250.5) == "-$250.50"
    assert fmt_ratio(0.4) == "40%"
    assert fmt_compact(1_234_567) == "1.2M" and fmt_compact(45_000) == "45k"
    assert fmt_duration(120) == "2m" and fmt_duration(90) == "1m30s" and fmt_duration(3600) == "1h"
    assert fmt_clock(NOW) == "12:00:00Z"
    assert fmt_clock(NOW - timedelta(days=1), NOW) == "11-20 12:00Z"


def test_sparkline_scales_to_its_own_range() -> None:
    assert sparkline([]) == ""
    assert sparkline([5, 5, 5]) == "▁▁▁"
    assert sparkline([0, 50, 100]) == "▁▅█"
    assert len(sparkline(range(100), 20)) == 20


def test_fit_pads_and_cuts_to_the_cell() -> None:
    assert fit("abc", 5, "left") == "abc  "
    assert fit("abc", 5, "right") == "  abc"
    assert fit("abcdefgh", 5, "left") == "abcd…"


def _rows() -> list[TableRow]:
    return [
        TableRow("a", ("Acme", "12"), sort_values=("acme", 12)),
        TableRow("b", ("bolt", "3"), sort_values=("bolt", 3)),
        TableRow("c", ("Crane", "—"), sort_values=("crane", None)),
    ]


def test_table_view_filters_on_every_word() -> None:
    view = TableView([Column("name", "Name"), Column("n", "N", numeric=True)])
    view.set_rows(_rows())
    view.set_filter("ac")
    assert [r.key for r in view.rows] == ["a"]
    view.set_filter("a 12")
    assert [r.key for r in view.rows] == ["a"]
    view.set_filter("zzz")
    assert view.rows == [] and view.filter_description == "'zzz' 0/3"
    view.set_filter("")
    assert len(view.rows) == 3


def test_table_view_cycles_sort_and_keeps_missing_values_last() -> None:
    view = TableView([Column("name", "Name"), Column("n", "N", numeric=True)])
    view.set_rows(_rows())
    assert view.cycle_sort() == "Name ↑"
    assert [r.key for r in view.rows] == ["a", "b", "c"]
    assert view.cycle_sort() == "N ↓"  # numbers: largest first
    assert [r.key for r in view.rows] == ["a", "b", "c"]
    assert view.widths[1] == 3  # room for "N ↓"
    assert view.cycle_sort() == "default order"
    assert view.widths[1] == 2  # unsorted again: no room kept for an arrow


def _kpi(workspace_id: int, name: str, leads: int = 10) -> KpiRow:
    return KpiRow(
        instance="demo",
        workspace_id=workspace_id,
        workspace=name,
        leads_generated=leads,
        projected_replies=leads * 2,
        monthly_kpi=20,
        current_progress=leads / 20,
        replies_progress=leads / 10,
        positive_replies_last_7_days=1,
        positive_replies_last_30_days=2,
        positive_replies_current_month=leads,
        positive_replies_last_month=3,
        emails_sent=100,
        bounced=1,
    )


def _failure(workspace: str, workspace_id: int) -> WorkspaceFailure:
    return WorkspaceFailure(
        "demo",
        workspace,
        workspace_id,
        DashboardName.KPI,
        "5xx",
        503,
        4,
        "HTTP 503 Service Unavailable",
        "stats",
        NOW - timedelta(minutes=3),
        NOW,
    )


def test_workspace_rows_mark_stale_failed_and_warning_rows() -> None:
    snap = DashboardSnapshot(
        name=DashboardName.KPI,
        rows=[_kpi(1, "Acme"), _kpi(2, "Bolt"), _kpi(3, "Crane")],
        row_meta={
            ("demo", 1): RowMeta(NOW - timedelta(seconds=30)),
            ("demo", 2): RowMeta(NOW - timedelta(minutes=12), stale=True, error="5xx 503"),
            ("demo", 3): RowMeta(NOW - timedelta(seconds=30)),
        },
        warnings={"Crane": ["no KPI target set"]},
        failures=[_failure("Bolt", 2), _failure("Dune", 4)],
    )
    rows = workspace_rows(snap, now=NOW, ttl=120)
    states = {r.cells[1]: r.cells[0] for r in rows}
    assert states == {
        "Acme": STATE_OK,
        "Bolt": "○ very stale 12m",  # its own age, not the dashboard's
        "Crane": STATE_WARN,
        "Dune": STATE_FAILED,  # failed with no earlier data: still a row
    }
    dune = next(r for r in rows if r.cells[1] == "Dune")
    assert set(dune.cells[2:]) == {"—"}  # never a zero
    assert dune.workspace is not None and dune.workspace.workspace_id == 4


def test_failed_rows_come_first_then_stale_then_warned_in_rank_order() -> None:
    """The failing workspace is row 1, not row 27: failed, stale, warned, then the rest,
    each group in the dashboard's own rank."""
    snap = DashboardSnapshot(
        name=DashboardName.KPI,
        rows=[_kpi(i, name) for i, name in enumerate(["A", "B", "C", "D", "E", "F"], 1)],
        row_meta={
            **{("demo", i): RowMeta(NOW - timedelta(seconds=30)) for i in (1, 2, 3, 4, 5, 6)},
            ("demo", 3): RowMeta(NOW - timedelta(minutes=5), stale=True),  # kept, not failing
            ("demo", 6): RowMeta(NOW - timedelta(minutes=5), stale=True, error="5xx 503"),
        },
        warnings={"B": ["no KPI target set"], "E": ["no KPI target set"]},
        failures=[_failure("F", 6), _failure("Z", 9)],
    )
    order = [r.cells[1] for r in workspace_rows(snap, now=NOW, ttl=120)]
    assert order == ["F", "Z", "C", "B", "E", "A", "D"]


def test_a_stale_row_is_never_called_fresh() -> None:
    meta = RowMeta(NOW - timedelta(seconds=5), stale=True)
    state = row_state(meta, warnings=(), failed=True, now=NOW, ttl=120)
    assert state.text == "◐ stale 5s"
    expired = row_state(
        RowMeta(NOW - timedelta(hours=2), stale=True), warnings=(), failed=True, now=NOW, ttl=120
    )
    assert expired.text.startswith("✖ expired") and expired.tone == "bad"


def test_overview_row_says_state_age_and_restored() -> None:
    snap = DashboardSnapshot(name=DashboardName.REVENUE, rows=[], restored=True)
    fresh = Freshness.of(NOW - timedelta(minutes=7), NOW, 300.0, refreshing=True)
    row = overview_row(DashboardName.REVENUE, snap, fresh, "↻ now")
    assert row.cells[:3] == ("Revenue", "7m00s", "◐ stale ↻ refreshing (restored)")
    assert row.target == "revenue"


def test_call_rows_show_retry_countdowns_first() -> None:
    calls = [
        RetryStatus("demo", "Acme", ("kpi",), "stats", CallPhase.IN_FLIGHT, 1, 4),
        RetryStatus(
            "demo",
            "Bolt",
            ("kpi", "volume"),
            "stats",
            CallPhase.RETRYING,
            1,
            4,
            NOW + timedelta(seconds=3),
            "5xx",
            503,
            "HTTP 503",
        ),
    ]
    rows = call_rows(calls, NOW)
    assert rows[0].cells[:3] == ("Bolt", "↻ retrying", "retry 2/4 in 3 s, 503")
    assert rows[1].cells[:3] == ("Acme", "→ in flight", "attempt 1/4")


def test_history_rows_have_rate_percentiles_and_sparkline() -> None:
    history = WorkspaceHistory(
        "demo",
        "Acme",
        10,
        9,
        80.0,
        240.0,
        300.0,
        {"5xx": 1},
        NOW,
        NOW,
        "5xx 503: HTTP 503",
        (10.0, 20.0, 30.0),
    )
    (row,) = history_rows([history])
    assert row.cells[:8] == ("Acme", "demo", "10", "90.0%", "80 ms", "240 ms", "300 ms", "▁▅█")
    assert row.tones[3] == "warn"


def test_row_text_is_label_value_pairs() -> None:
    columns = [Column("a", "Workspace"), Column("b", "Leads")]
    assert row_text(columns, TableRow("k", ("Acme", "12"))) == "Workspace: Acme | Leads: 12"


def test_auto_refresh_policy() -> None:
    policy = AutoRefreshPolicy()
    fresh = BoardClock(DashboardName.KPI, 30.0, 120.0, refreshing=False)
    lapsed = BoardClock(DashboardName.VOLUME, 130.0, 120.0, refreshing=False)
    empty = BoardClock(DashboardName.REVENUE, None, 300.0, refreshing=False)
    busy = BoardClock(DashboardName.INFRASTRUCTURE, 9999.0, 600.0, refreshing=True)
    boards = [fresh, lapsed, empty, busy]
    assert policy.due(boards, NOW) == [DashboardName.VOLUME, DashboardName.REVENUE]
    assert policy.next_text(fresh, NOW) == "in 1m30s"
    assert policy.next_text(busy, NOW) == "↻ now"
    policy.attempted([DashboardName.VOLUME], NOW)  # it failed: its data stays old
    assert policy.due([lapsed], NOW + timedelta(seconds=10)) == []
    assert policy.next_text(lapsed, NOW + timedelta(seconds=10)) == "retry in 20s"
    assert policy.due([lapsed], NOW + timedelta(seconds=31)) == [DashboardName.VOLUME]
    policy.paused = True
    assert policy.due(boards, NOW) == [] and policy.next_text(lapsed, NOW) == "⏸ paused"
    assert AutoRefreshPolicy(enabled=False).due(boards, NOW) == []


class _FakeMonitor:
    def __init__(self) -> None:
        self.listeners: list[Any] = []
        self.views = 0

    def view(self, *, cache: bool = True) -> Any:
        self.views += 1
        return ("view", self.views)

    def subscribe(self, listener: Any) -> Any:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    def emit(self, event: Any) -> None:
        for listener in list(self.listeners):
            listener(event)


def test_relay_folds_a_thousand_status_events_into_one_message() -> None:
    monitor = _FakeMonitor()
    posted: list[Message] = []
    relay = MonitorRelay(monitor, lambda m: posted.append(m) or True)  # type: ignore[arg-type]
    relay.start()
    status = RetryStatus("demo", "Acme", ("kpi",), "stats", CallPhase.IN_FLIGHT, 1, 4)
    for _ in range(1000):
        monitor.emit(CallStatusChanged(status))
    for name in (DashboardName.KPI, DashboardName.KPI, DashboardName.VOLUME):
        monitor.emit(SnapshotUpdated(name))
    assert posted == []  # nothing until the flush timer fires
    relay.flush()
    assert [type(m) for m in posted] == [DashboardsUpdated, CallsChanged]
    assert posted[0].dashboards == {DashboardName.KPI, DashboardName.VOLUME}  # type: ignore[attr-defined]
    assert posted[1].events == 1000  # type: ignore[attr-defined]
    # One frozen view for the whole flush, not one per monitor event.
    assert monitor.views == 1
    assert posted[0].view is posted[1].view == ("view", 1)  # type: ignore[attr-defined]
    relay.flush()
    assert len(posted) == 2 and monitor.views == 1  # nothing new, nothing posted or built
    relay.stop()
    assert monitor.listeners == []


def test_coalescing_messages_replace_older_ones() -> None:
    view: Any = None  # what the views carry does not decide replacing
    assert CallsChanged(5, view).can_replace(CallsChanged(3, view))
    both = DashboardsUpdated(frozenset({DashboardName.KPI, DashboardName.VOLUME}), view)
    assert both.can_replace(DashboardsUpdated(frozenset({DashboardName.KPI}), view))
    assert not DashboardsUpdated(frozenset({DashboardName.KPI}), view).can_replace(both)


def test_keys_are_exactly_the_specs() -> None:
    bound = {k.key for k in keys()}
    assert bound == {
        *"12345678",
        "r",
        "R",
        "c",
        "C",
        "p",
        "slash",
        "s",
        "S",
        "enter",
        "y",
        "w",
        "f",
        "question_mark",
        "q",
    }
    assert len(fixed_bindings()) + len(pane_keys()) == len(keys())
    helped = {key for key, _ in help_rows()}
    assert {"1-8", "r", "R", "c", "C", "p", "/", "s", "S", "⏎", "y", "?", "q"} <= helped
    assert len(panes()) == 8


@pytest.mark.parametrize("width", [40, 60, 80, 100, 140])
def test_key_bar_fits_and_always_offers_help(width: int) -> None:
    text = key_bar_text(width)
    assert text.cell_len <= width or width < 40
    assert "? help" in text.plain or "?help" in text.plain.replace(" ", "")
    if width >= 80:
        for word in ("refresh", "pause", "filter", "sort", "detail", "copy"):
            assert word in text.plain
    assert "p resume" in key_bar_text(width, paused=True).plain or width < 80


def test_a_bar_skips_the_layout_only_when_its_height_cannot_change() -> None:
    two = Text("Health 100/100 ✔ OK\nrequests: 3 in flight")
    assert same_height(two, Text("Health 90/100 ▲ WARNING\nrequests: 12 in flight"), 40)
    assert not same_height(two, Text("Health 100/100 ✔ OK\n  • reason\nrequests"), 40)
    assert not same_height(two, Text("x" * 41 + "\nrequests"), 40)  # would wrap
    assert not same_height(two, two, 0)  # not laid out yet


def test_in_flight_counts_only_what_holds_a_slot() -> None:
    """21 requests started, 5 slots: 5 in flight, 16 waiting (not "21 in flight")."""
    started = [
        RetryStatus("i", f"w{n}", ("kpi",), "stats", CallPhase.IN_FLIGHT, 1, 4) for n in range(21)
    ]
    retrying = [RetryStatus("i", "r", ("kpi",), "stats", CallPhase.RETRYING, 2, 4)]
    assert calls_summary([*started, *retrying], 5) == "5 in flight · 16 waiting · 1 retrying"
    assert calls_summary(started, None) == "21 in flight · 0 retrying"
    assert calls_summary([]) == "no requests in flight"
