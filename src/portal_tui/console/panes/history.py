"""History: per-workspace API success rate, p50/p95 and a response-time sparkline.

Read from SQLite (``api_health_logs``) by a worker the app starts when the
pane is shown and after each refresh while it is shown.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.widgets import Static

from portal_tui.console.format import fmt_clock
from portal_tui.console.panes.base import Bar, Pane, toned
from portal_tui.console.render_operator import OPERATOR_COLUMNS, operator_rows
from portal_tui.console.render_status import HISTORY_COLUMNS, history_rows
from portal_tui.console.state import HISTORY_WINDOW_HOURS, ConsoleState
from portal_tui.console.widgets.row_preview import RowPreview
from portal_tui.console.widgets.row_table import RowTable
from portal_tui.vocabulary.trend import health_trend_text


class HistoryPane(Pane):
    """Pane 8: worst workspaces first."""

    def __init__(self, state: ConsoleState) -> None:
        super().__init__(state, id="history")

    def compose(self) -> ComposeResult:
        """Bar, table, filter box."""
        yield Bar(id="history-bar", classes="bar")
        yield RowTable(
            HISTORY_COLUMNS,
            empty_text="no API calls recorded yet",
            id="history-table",
            classes="upper",
        )
        yield RowPreview(("errors", "last"), id="history-preview")
        yield Static("Operator actions (who did what, newest first)", classes="caption")
        yield RowTable(
            OPERATOR_COLUMNS, empty_text="no operator actions recorded", id="operator-table"
        )
        yield from self.compose_filter()

    @on(RowTable.Moved, "#history-table")
    def _row_selected(self, event: RowTable.Moved) -> None:
        """The selected workspace's errors and last error, whole (cut in the table at 80)."""
        event.stop()
        table = event.table
        self.query_one("#history-preview", RowPreview).show_row(table.view, table.selected)

    def repaint(self) -> None:
        """Draw the last loaded history."""
        super().repaint()
        state = self.state
        self.query_one("#history-table", RowTable).set_rows(history_rows(state.history))
        self.query_one("#operator-table", RowTable).set_rows(
            operator_rows(state.operator_actions, state.now)
        )
        if state.history_error:
            text = toned((f"✗ could not read history: {state.history_error}", "bad"))
        else:
            loaded = fmt_clock(state.history_loaded_at, state.now)
            trend = health_trend_text(state.view.health_trend, width=20)
            text = toned(
                ("API history", "bold"),
                f" · last {HISTORY_WINDOW_HOURS} h from SQLite · {len(state.history)} "
                f"workspace(s), worst first · read at {loaded} · r re-reads",
                f"\nhealth over the last recorded cycles: {trend}" if trend else "",
            )
        self.query_one("#history-bar", Bar).update(text)
