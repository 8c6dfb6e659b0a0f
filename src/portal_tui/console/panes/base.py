"""What every pane shares: its tables, the filter box, copy text and repaint hooks.

A pane reads the :class:`~portal_tui.console.state.ConsoleState` and draws
it; the app decides *when* (on a coalesced update, on the 1 Hz tick, when
the pane is shown). Hidden panes are not repainted until shown.
"""

from __future__ import annotations

from typing import ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.visual import VisualType
from textual.widgets import Input, Static

from portal_tui.console.state import ConsoleState
from portal_tui.console.summary import row_text
from portal_tui.console.table_model import RowWorkspace
from portal_tui.console.widgets.row_table import RowTable
from portal_tui.vocabulary.names import DashboardName

TONE_STYLES = {"good": "green", "warn": "yellow", "bad": "bold red", "muted": "dim", "": ""}


class FilterBox(Input):
    """The ``/`` prompt: filters the pane's active table as you type; ``esc`` clears."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "clear_filter", "clear filter", show=False),
    ]

    def action_clear_filter(self) -> None:
        """Clear the filter and go back to the table."""
        self.value = ""
        pane = next((a for a in self.ancestors if isinstance(a, Pane)), None)
        if pane is not None:
            pane.end_filter()


class Pane(Vertical):
    """Base of the eight panes."""

    def __init__(self, state: ConsoleState, *, id: str) -> None:
        super().__init__(id=id, classes="pane")
        self.state = state
        self._filter_target: RowTable | None = None
        self.repaints = 0

    def compose_filter(self) -> ComposeResult:
        """The hidden filter row (prompt, box, match count); panes with tables yield it last."""
        with Horizontal(id=f"{self.id}-filter-row", classes="filter-row hidden"):
            yield Static("filter /", classes="filter-prompt")
            yield FilterBox(
                placeholder="words to match · enter keeps · esc clears",
                id=f"{self.id}-filter",
                classes="filter-box",
            )
            yield Static("", classes="filter-count")

    @property
    def dashboard_name(self) -> DashboardName | None:
        """The dashboard this pane shows, if it is a dashboard pane."""
        return None

    # -- hooks for the app --------------------------------------------------------------

    def repaint(self) -> None:
        """Redraw everything from the state (new snapshots arrived, or the pane was shown)."""
        self.repaints += 1

    def tick(self) -> None:
        """Once a second: redraw what depends on the clock (ages, countdowns)."""

    def calls_changed(self) -> None:
        """Requests changed retry status (coalesced, at most 4 Hz)."""

    def tables(self) -> list[RowTable]:
        """This pane's tables, top to bottom."""
        return list(self.query(RowTable))

    def active_table(self) -> RowTable | None:
        """The focused table in this pane, else the one used last, else the first."""
        focused = self.app.focused
        tables = self.tables()
        if isinstance(focused, RowTable) and focused in tables:
            return focused
        if self._filter_target in tables:
            return self._filter_target
        return tables[0] if tables else None

    def focus_table(self) -> None:
        """Give the keyboard to the active table."""
        table = self.active_table()
        if table is not None:
            table.focus()

    def selected_workspace(self) -> RowWorkspace | None:
        """The workspace of the selected row, for ``enter``."""
        table = self.active_table()
        row = table.selected if table else None
        return row.workspace if row else None

    def selected_target(self) -> str | None:
        """A pane the selected row leads to (Overview's dashboard rows)."""
        table = self.active_table()
        row = table.selected if table else None
        return row.target if row else None

    def copy_text(self) -> str | None:
        """What ``y`` copies here: the selected row as ``Label: value`` pairs."""
        table = self.active_table()
        row = table.selected if table else None
        return row_text(table.view.columns, row) if table and row else None

    # -- filter -------------------------------------------------------------------------

    def start_filter(self) -> bool:
        """Open the filter box for the active table; False when the pane has no table."""
        table = self.active_table()
        if table is None:
            return False
        self._filter_target = table
        box = self.query_one(FilterBox)
        box.value = table.view.filter_text
        self.query_one(".filter-row").remove_class("hidden")
        self._show_count()
        box.focus()
        return True

    def _show_count(self) -> None:
        table = self._filter_target
        if table is not None:
            shown, total = len(table.view.rows), table.view.total
            self.query_one(".filter-count", Static).update(f"{shown} of {total} rows")

    def end_filter(self) -> None:
        """Back to the table; the box stays visible while a filter is set."""
        box = self.query_one(FilterBox)
        if not box.value.strip():
            self.query_one(".filter-row").add_class("hidden")
        if self._filter_target is not None:
            self._filter_target.focus()

    @on(Input.Changed, ".filter-box")
    def _filter_changed(self, event: Input.Changed) -> None:
        event.stop()
        if self._filter_target is not None:
            self._filter_target.set_filter(event.value)
            self._show_count()

    @on(Input.Submitted, ".filter-box")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.end_filter()


def toned(*parts: tuple[str, str] | str) -> Text:
    """Rich text from plain strings and (text, tone) pairs."""
    text = Text()
    for part in parts:
        if isinstance(part, str):
            text.append(part)
        else:
            style = " ".join(TONE_STYLES.get(word, word) for word in part[1].split())
            text.append(part[0], style)
    return text


class Bar(Static):
    """A pane's status lines above its table.

    Panes redraw their bars up to five times a second while refreshing; an
    unchanged bar is not redrawn, and one whose height cannot have changed
    skips the layout pass (a layout of the whole screen, the costliest part
    of a frame).
    """

    _shown: Text | None = None

    def update(self, content: VisualType = "", *, layout: bool = True) -> None:
        """Show ``content``; nothing happens when it is the text already shown."""
        shown = self._shown
        if isinstance(content, Text) and shown is not None:
            if content == shown:
                return
            layout = layout and not same_height(shown, content, self.content_region.width)
        self._shown = content.copy() if isinstance(content, Text) else None
        super().update(content, layout=layout)


def same_height(old: Text, new: Text, width: int) -> bool:
    """True when ``old`` and ``new`` take the same lines at ``width``: neither wraps, same count."""
    if width <= 0:
        return False
    old_lines, new_lines = old.plain.split("\n"), new.plain.split("\n")
    return len(old_lines) == len(new_lines) and all(
        cell_len(line) <= width for line in (*old_lines, *new_lines)
    )
