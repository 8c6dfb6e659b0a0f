"""``?``: every key, every pane, and what each state symbol means."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from portal_tui.console.bindings import help_rows, panes
from portal_tui.vocabulary.freshness import FreshnessState, Overlay

LEGEND: list[tuple[str, str]] = [
    (f"{FreshnessState.FRESH.symbol} fresh", "younger than its TTL"),
    (f"{FreshnessState.STALE.symbol} stale", "older than its TTL (up to max(10 min, 2 × TTL))"),
    (f"{FreshnessState.VERY_STALE.symbol} very stale", "older than that"),
    (f"{FreshnessState.EXPIRED.symbol} expired", "older than 1 h: shown, but do not trust it"),
    (f"{FreshnessState.NO_DATA.symbol} no data", "nothing fetched yet"),
    (f"{Overlay.REFRESHING.symbol} refreshing", "a refresh is running"),
    (f"{Overlay.WARNING.symbol} warning", "validation warnings present"),
    (f"{Overlay.ERROR.symbol} error", "the last refresh failed; older data still shown"),
    ("✔ ok / ▲ warn", "a workspace row is current / has warnings"),
    ("◐ stale 12m", "a workspace row kept from older data (its refresh failed), with its age"),
    ("✗ failed", "a workspace failed and there is no older data"),
    ("✖ ✗ ▲ ·", "consistency findings: critical, error, warning, info"),
    ("⏸ PAUSED", "auto-refresh is paused on this console (p resumes)"),
]


def help_table() -> Table:
    """Keys, panes and the state legend as one Rich table."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    table.add_row(Text("Keys", style="bold underline"), "")
    for key, what in help_rows():
        table.add_row(key, what)
    table.add_row("", "")
    table.add_row(Text("Panes", style="bold underline"), "")
    for number, (_, label) in enumerate(panes(), start=1):
        table.add_row(str(number), label)
    table.add_row("", "")
    table.add_row(Text("States", style="bold underline"), "")
    for symbol, meaning in LEGEND:
        table.add_row(symbol, meaning)
    return table


class HelpScreen(ModalScreen[None]):
    """The help overlay; ``esc``, ``?`` or ``q`` closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "close"),
        Binding("question_mark", "dismiss", "close", show=False),
        Binding("q", "dismiss", "close", show=False),
    ]

    def compose(self) -> ComposeResult:
        """A scrollable help text."""
        with VerticalScroll(id="help-body", classes="dialog"):
            yield Static(Text("portal-tui help", style="bold"))
            yield Static(help_table(), id="help-table")
