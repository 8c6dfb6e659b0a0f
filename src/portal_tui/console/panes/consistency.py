"""Consistency: a placeholder that says plainly that its checks are not built yet."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from portal_tui.console.panes.base import Pane
from portal_tui.console.state import ConsoleState

PLACEHOLDER = """\
Consistency checks are not built yet: they arrive with a later issue.

Nothing is checked here, so nothing is shown: no finding on this pane means
"not checked", never "consistent".

Meanwhile, what the core already detects is shown elsewhere:
  • duplicate sender addresses across workspaces: Infrastructure warnings (5)
  • rejected or malformed rows: the "invalid" counts on each dashboard pane
  • failed workspaces: the Failures pane (6)
"""


class ConsistencyPane(Pane):
    """Pane 7: honest placeholder text, no table and no fake data."""

    def __init__(self, state: ConsoleState) -> None:
        super().__init__(state, id="consistency")

    def compose(self) -> ComposeResult:
        """One block of text."""
        yield Static(PLACEHOLDER, id="consistency-text")
