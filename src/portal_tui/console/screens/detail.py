"""``enter``: one workspace across all four dashboards (numbers, warnings, failures, ages)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from portal_tui.console.state import ConsoleState
from portal_tui.console.summary import workspace_detail
from portal_tui.console.table_model import RowWorkspace


class WorkspaceDetailScreen(ModalScreen[None]):
    """Everything known about one workspace; ``y`` copies it, ``esc``/``q`` closes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "close"),
        Binding("q", "dismiss", "close", show=False),
        Binding("y", "copy", "copy"),
    ]

    def __init__(self, state: ConsoleState, ref: RowWorkspace) -> None:
        super().__init__()
        self.state = state
        self.ref = ref

    @property
    def text(self) -> str:
        """The detail as plain text (what is shown and what ``y`` copies)."""
        return "\n".join(workspace_detail(self.state, self.ref))

    def compose(self) -> ComposeResult:
        """A scrollable text."""
        with VerticalScroll(id="detail-body", classes="dialog"):
            yield Static(self.text, id="detail-text", markup=False)

    def action_copy(self) -> None:
        """Copy the detail (OSC 52)."""
        self.app.copy_to_clipboard(self.text)
        self.app.notify(f"Copied the detail of {self.ref.workspace} (OSC 52)", timeout=3)
