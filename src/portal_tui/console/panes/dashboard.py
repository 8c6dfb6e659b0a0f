"""KPI, Volume and Revenue: one workspace table each, under a freshness bar."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult

from portal_tui.console.panes.base import Bar, Pane, toned
from portal_tui.console.render import pane_notes, workspace_columns, workspace_rows
from portal_tui.console.render_status import freshness_tone
from portal_tui.console.state import ConsoleState
from portal_tui.console.summary import remaining_ttl
from portal_tui.console.widgets.row_table import RowTable
from portal_tui.dashboards.registry import title_of
from portal_tui.dashboards.snapshot import DashboardSnapshot
from portal_tui.vocabulary.names import DashboardName


def freshness_bar(state: ConsoleState, name: DashboardName) -> Text:
    """``KPI ● fresh ▲ warning · 17s old · TTL 2m · next in 1m43s · 26 rows ...`` + notes;
    during a cold refresh ``KPI loading 12/27`` over the workspaces completed so far."""
    board = state.view.board(name)
    snap = board.snapshot
    fresh = board.freshness
    now = state.now
    if board.loading is not None:
        return loading_bar(name, board.loading.label, board.preview)
    age = "no data yet" if fresh.age is None else f"data {fresh.age_text} old"
    parts: list[tuple[str, str] | str] = [
        (title_of(name), "bold"),
        "  ",
        (fresh.label, freshness_tone(fresh)),
        f" · {age} · {remaining_ttl(state, name, now)}",
    ]
    if snap is not None:
        if snap.restored:
            parts.append((" · restored from last session, revalidating", "yellow"))
        parts.append(f"\n{len(snap.rows)} rows")
        if snap.stale_rows:
            parts += [" · ", (f"◐ {snap.stale_rows} stale", "warn")]
        if snap.failed_workspaces:
            parts += [" · ", (f"✗ {len(snap.failed_workspaces)} failed", "bad")]
        if snap.warning_count:
            parts += [" · ", (f"▲ {snap.warning_count} warnings", "warn")]
        if snap.issues:
            parts += [" · ", (f"✗ {len(snap.issues)} invalid", "bad")]
        notes = pane_notes(snap, now)
        if notes.totals:
            parts.append(f" │ {notes.totals}")
        for problem in notes.problems:
            parts += ["\n", (problem, "bad")]
    else:
        parts.append("\nwaiting for the first refresh")
    return toned(*parts)


def loading_bar(name: DashboardName, label: str, preview: DashboardSnapshot | None) -> Text:
    """``KPI ↻ loading 12/27 · first refresh: rows appear as each workspace completes``."""
    rows = len(preview.rows) if preview is not None else 0
    return toned(
        (title_of(name), "bold"),
        "  ",
        (f"↻ {label}", "yellow"),
        " · first refresh: rows appear as each workspace completes",
        f"\n{rows} rows so far · totals when every workspace is in",
    )


class DashboardPane(Pane):
    """A dashboard's workspace table: state word + symbol per row, stale rows with their age."""

    def __init__(self, state: ConsoleState, name: DashboardName) -> None:
        super().__init__(state, id=name.value)
        self.board = name
        self._painted: DashboardSnapshot | None = None

    @property
    def dashboard_name(self) -> DashboardName:
        """The dashboard shown."""
        return self.board

    def compose(self) -> ComposeResult:
        """Bar, table, filter box."""
        yield Bar(id=f"{self.id}-bar", classes="bar")
        yield RowTable(
            workspace_columns(self.board, show_instance=self.state.multi_instance),
            empty_text="no rows yet: waiting for the first refresh",
            id=f"{self.id}-table",
        )
        yield from self.compose_filter()

    def repaint(self) -> None:
        """Rebuild the table and the bar from the latest snapshot."""
        super().repaint()
        self._paint_table()
        self.tick()

    def _paint_table(self) -> None:
        board = self.state.view.board(self.board)
        if board.loading is not None and board.shown is self._painted:
            return  # a cold refresh's progress moved, its rows did not (rebuilt once a second)
        self._painted = board.shown
        rows = workspace_rows(
            board.shown,
            now=self.state.now,
            ttl=board.ttl,
            show_instance=self.state.multi_instance,
        )
        self.query_one(f"#{self.id}-table", RowTable).set_rows(rows)

    def tick(self) -> None:
        """Ages move: the bar, and stale rows' own ages."""
        self.query_one(f"#{self.id}-bar", Bar).update(freshness_bar(self.state, self.board))
        snap = self.state.view.snapshot(self.board)
        if snap is not None and snap.stale_rows and self.repaints:
            self._paint_table()
