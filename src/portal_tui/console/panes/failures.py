"""Failures: workspace × dashboard failures, live in-flight/retrying calls, breakers."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.widgets import Static

from portal_tui.console.panes.base import Bar, Pane, toned
from portal_tui.console.render_status import (
    CALL_COLUMNS,
    FAILURE_COLUMNS,
    breaker_line,
    call_rows,
    calls_summary,
    failure_rows,
)
from portal_tui.console.state import ConsoleState
from portal_tui.console.widgets.row_preview import RowPreview
from portal_tui.console.widgets.row_table import RowTable
from portal_tui.store.records import WorkspaceState


def failures_bar(state: ConsoleState) -> Text:
    """Counts, then one line per instance: breaker state, next probe, upstream."""
    view = state.view
    now = state.now
    failures = sum(len(s.failures) for s in view.snapshots.values())
    failing = [f for f in view.failing if f[2] is WorkspaceState.FAILING]
    refreshing = ", ".join(sorted(n.value for n in view.refreshing)) or "nothing"
    requests = calls_summary(view.calls, view.on_the_wire)
    parts: list[tuple[str, str] | str] = [
        (f"✗ {failures} failure(s)", "bad") if failures else ("✔ no failures", "good"),
        f" in the last refresh · {len(failing)} workspace(s) failing (after hysteresis)"
        f" · refreshing: {refreshing} · {requests}",
    ]
    for status in view.breakers:
        unreachable = view.unreachable.get(status.instance)
        tone = "bad" if unreachable or status.state.value != "closed" else ""
        parts += ["\n", (breaker_line(status, now, unreachable), tone)]
    return toned(*parts)


class FailuresPane(Pane):
    """Pane 6: what failed, and what is being retried right now."""

    def __init__(self, state: ConsoleState) -> None:
        super().__init__(state, id="failures")

    def compose(self) -> ComposeResult:
        """Bar, failures table, live calls table, filter box."""
        yield Bar(id="failures-bar", classes="bar")
        yield Static("Failures (workspace × dashboard)", classes="caption")
        yield RowTable(
            FAILURE_COLUMNS,
            empty_text="✔ no failures in the last refresh",
            id="failures-table",
            classes="upper",
        )
        yield RowPreview(("message", "request"), id="failure-preview")
        yield Static("Requests in flight / retrying (live)", id="calls-caption", classes="caption")
        yield RowTable(CALL_COLUMNS, empty_text="no requests in flight", id="calls-table")
        yield from self.compose_filter()

    @on(RowTable.Moved, "#failures-table")
    def _failure_selected(self, event: RowTable.Moved) -> None:
        """The selected failure's last error and request, whole (cut in the table at 80)."""
        event.stop()
        table = event.table
        self.query_one("#failure-preview", RowPreview).show_row(table.view, table.selected)

    def repaint(self) -> None:
        """Rebuild the failures table and the live calls."""
        super().repaint()
        self.query_one("#failures-table", RowTable).set_rows(
            failure_rows(self.state.view.snapshots.values(), self.state.now)
        )
        self.calls_changed()

    def tick(self) -> None:
        """Countdowns ("retry 2/4 in 3 s") and "failing since" ages move."""
        self.repaint()

    def calls_changed(self) -> None:
        """Redraw the live calls table and the bar."""
        self.query_one("#calls-table", RowTable).set_rows(
            call_rows(self.state.view.calls, self.state.now)
        )
        self.query_one("#failures-bar", Bar).update(failures_bar(self.state))
