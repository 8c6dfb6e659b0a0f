"""``enter``: one workspace across all four dashboards (numbers, warnings, failures, ages).

Its keys (:data:`~portal_tui.console.bindings.DETAIL_KEYS`): ``w`` refreshes
this workspace only, past the cache; ``f`` retries only what failed; ``v``
re-fetches it past the cache and shows the diff against what is shown
(``verify``); ``y`` copies; ``esc``/``q`` close. The text follows new
snapshots while the screen is open.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from portal_tui.console.bindings import DETAIL_KEYS, key_line, screen_bindings
from portal_tui.console.state import ConsoleState
from portal_tui.console.summary import workspace_detail
from portal_tui.console.table_model import RowWorkspace

if TYPE_CHECKING:
    from portal_tui.console.operator_actions import OperatorActions


class WorkspaceDetailScreen(ModalScreen[None]):
    """Everything known about one workspace, and the actions on it."""

    BINDINGS: ClassVar[list[BindingType]] = screen_bindings(DETAIL_KEYS)  # type: ignore[assignment]

    def __init__(self, state: ConsoleState, ref: RowWorkspace) -> None:
        super().__init__()
        self.state = state
        self.ref = ref
        self.verify_text = ""
        """The last verify run's result on this screen (empty until ``v``)."""

    @property
    def text(self) -> str:
        """The detail as plain text (what is shown and what ``y`` copies)."""
        lines = workspace_detail(self.state, self.ref)
        if self.verify_text:
            lines = [*lines, "", self.verify_text]
        return "\n".join(lines)

    def compose(self) -> ComposeResult:
        """A scrollable text and the screen's keys."""
        with Vertical(id="detail-body", classes="dialog tall-dialog"):
            with VerticalScroll(classes="dialog-scroll"):
                yield Static(self.text, id="detail-text", markup=False)
            yield Static(key_line(DETAIL_KEYS), classes="dialog-keys", markup=False)

    def on_mount(self) -> None:
        """Follow new data while open (a targeted refresh lands while you watch)."""
        self.set_interval(1.0, self.redraw, name="detail follows the data")

    def redraw(self) -> None:
        """Draw the detail again from the state."""
        self.query_one("#detail-text", Static).update(self.text)

    @property
    def _actions(self) -> OperatorActions:
        return self.app  # type: ignore[return-value]

    def action_refresh_workspace(self) -> None:
        """``w``: this workspace only, past the cache."""
        self._actions.refresh_workspace(self.ref)

    def action_retry_failed(self) -> None:
        """``f``: only what failed in the last cycle."""
        self._actions.action_retry_failed()

    def action_verify(self) -> None:
        """``v``: re-fetch this workspace past the cache and diff it against what is shown."""
        self.verify_text = "── verify: re-fetching past the cache…"
        self.redraw()
        self._actions.verify_workspace(self.ref, self._verified)

    def _verified(self, text: str) -> None:
        self.verify_text = text
        if self.is_attached:
            self.redraw()

    def action_copy(self) -> None:
        """Copy the detail (OSC 52)."""
        self.app.copy_to_clipboard(self.text)
        self.app.notify(f"Copied the detail of {self.ref.workspace} (OSC 52)", timeout=3)
