"""Infrastructure: the workspace table and every mailbox (50,000 stay smooth).

The mailbox rows are built in a thread worker: at 50,000 mailboxes that
takes about half a second of CPU, which must not freeze the keys. The table
then draws only its visible lines (see
:class:`~portal_tui.console.widgets.row_table.RowTable`).
"""

from __future__ import annotations

import time

from rich.cells import cell_len
from textual import on, work
from textual.app import ComposeResult
from textual.widgets import Static
from textual.worker import get_current_worker

from portal_tui.console.format import fmt_int
from portal_tui.console.mailbox_lines import MailboxLine, mailbox_lines
from portal_tui.console.panes.base import Bar
from portal_tui.console.panes.dashboard import DashboardPane
from portal_tui.console.render import mailbox_columns, workspace_columns
from portal_tui.console.state import ConsoleState
from portal_tui.console.widgets.row_table import RowTable
from portal_tui.dashboards.snapshot import DashboardSnapshot
from portal_tui.vocabulary.names import DashboardName


class InfrastructurePane(DashboardPane):
    """Workspaces on top, mailboxes below; ``tab`` moves between the two tables."""

    def __init__(self, state: ConsoleState) -> None:
        super().__init__(state, DashboardName.INFRASTRUCTURE)
        self.mailbox_build_seconds = 0.0
        """Building the last mailbox rows (in a thread)."""
        self.mailbox_show_seconds = 0.0
        """Handing them to the table (on the UI thread)."""
        self.mailbox_generation = 0
        """Mailbox tables shown so far (tests wait on it)."""
        self._mailboxes_of: DashboardSnapshot | None = None
        self._mailbox_count = 0

    def compose(self) -> ComposeResult:
        """Bar, workspace table, mailbox caption, mailbox table, filter box."""
        yield Bar(id=f"{self.id}-bar", classes="bar")
        yield RowTable(
            workspace_columns(self.board, show_instance=self.state.multi_instance),
            empty_text="no rows yet: waiting for the first refresh",
            id=f"{self.id}-table",
            classes="upper",
        )
        yield Static("Mailboxes", id="mailbox-caption", classes="caption")
        yield RowTable(mailbox_columns(), empty_text="no mailboxes yet", id="mailbox-table")
        yield from self.compose_filter()

    def repaint(self) -> None:
        """Rebuild both tables (the mailbox table only here, never on the 1 Hz tick)."""
        super().repaint()
        board = self.state.view.board(self.board)
        if board.loading is not None and board.shown is self._mailboxes_of:
            return  # a cold refresh's progress moved, its rows did not
        self._mailboxes_of = board.shown
        self._build_mailboxes([board.shown])

    @work(thread=True, exclusive=True, group="mailboxes", description="build mailbox rows")
    def _build_mailboxes(self, handed: list[DashboardSnapshot | None]) -> None:
        """The rows of the snapshot in ``handed``, which it takes out at once: Textual
        keeps a finished worker's arguments, and the worker sits in a reference cycle
        (its context holds it) that only a full collection frees, so the worker must
        not keep a replaced snapshot alive (BENCHMARKS.md item 33)."""
        snap = handed.pop()
        started = time.perf_counter()
        rows = mailbox_lines(snap)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show_mailboxes, rows, time.perf_counter() - started)

    def _show_mailboxes(self, rows: list[MailboxLine], built: float) -> None:
        if not self.is_mounted:
            return
        started = time.perf_counter()
        self.query_one("#mailbox-table", RowTable).set_rows(rows)
        self.mailbox_show_seconds = time.perf_counter() - started
        self.mailbox_build_seconds = built
        self.mailbox_generation += 1
        self._mailbox_count = len(rows)
        self._show_caption()

    @on(RowTable.Moved, "#mailbox-table")
    def _mailbox_selected(self, event: RowTable.Moved) -> None:
        event.stop()
        self._show_caption()

    def _show_caption(self) -> None:
        """``Mailboxes 900 · ▸ hannah@getvertexleafventures1.com · …``: the selected address
        whole when its column cuts it, then the notes that still fit on the line."""
        table = self.query_one("#mailbox-table", RowTable)
        caption = self.query_one("#mailbox-caption", Static)
        row, widths = table.selected, table.view.widths
        parts = [f"Mailboxes {fmt_int(self._mailbox_count)}"]
        if row is not None and row.cells and cell_len(row.cells[0]) > widths[0]:
            parts.append(f"▸ {row.cells[0]}")
        room = (caption.content_region.width or 78) - 1
        for note in ("◐ = its workspace's data is stale", "tab: other table"):
            if cell_len(" · ".join([*parts, note])) <= room:
                parts.append(note)
        caption.update(" · ".join(parts))
