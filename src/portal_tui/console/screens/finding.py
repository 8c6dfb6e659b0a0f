"""``enter`` on a finding (Consistency pane): the whole finding, its evidence, and ``a``.

Everything about one finding, wrapped to the screen and never cut: the
message, the workspaces it affects, first/last seen, occurrences, its
acknowledgement, and the redacted evidence payload it was raised on (read
from the records). ``a`` acknowledges it with a note (:class:`NoteScreen`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from portal_tui.consistency import OpenFinding
from portal_tui.console.bindings import FINDING_KEYS, key_line, screen_bindings
from portal_tui.console.render_operator import affected_workspaces, finding_lines
from portal_tui.console.state import ConsoleState
from portal_tui.store.operator_records import NOTE_MAX_CHARS
from portal_tui.vocabulary.errors import PortalError

if TYPE_CHECKING:
    from portal_tui.console.operator_actions import OperatorActions
    from portal_tui.store.database import Store


class NoteScreen(ModalScreen[str | None]):
    """One line of note; ``enter`` acknowledges, ``esc`` cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "cancel")]

    def __init__(self, subject: str) -> None:
        super().__init__()
        self.subject = subject

    def compose(self) -> ComposeResult:
        """The prompt and the input."""
        with Vertical(id="finding-note", classes="dialog"):
            yield Static(f"Acknowledge {self.subject}", markup=False)
            yield Input(
                placeholder="note: who is on it, ticket, why it is expected",
                max_length=NOTE_MAX_CHARS,
                id="note-input",
            )
            yield Static("enter acknowledge · esc cancel", classes="dialog-keys", markup=False)

    @on(Input.Submitted, "#note-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        note = event.value.strip()
        if not note:
            self.app.notify("Write a note first (or esc to cancel).", timeout=3)
            return
        self.dismiss(note)

    def action_cancel(self) -> None:
        """Close without acknowledging."""
        self.dismiss(None)


class FindingScreen(ModalScreen[None]):
    """One finding, whole."""

    BINDINGS: ClassVar[list[BindingType]] = screen_bindings(FINDING_KEYS)  # type: ignore[assignment]

    def __init__(self, state: ConsoleState, finding: OpenFinding, store: Store | None) -> None:
        super().__init__()
        self.state = state
        self.store = store
        self.finding = finding
        self.evidence: str | None = None
        self.evidence_state = "reading the evidence from the records…"

    @property
    def text(self) -> str:
        """The finding as plain text (what is shown and what ``y`` copies)."""
        snapshots = self.state.view.snapshots.values()
        known = sorted({(row.instance, row.workspace) for s in snapshots for row in s.rows})
        return "\n".join(
            finding_lines(
                self.finding,
                self.state.now,
                affected=affected_workspaces(self.finding, known),
                ack=self.state.ack_of(self.finding.key),
                evidence=self.evidence,
                evidence_state=self.evidence_state,
            )
        )

    def compose(self) -> ComposeResult:
        """A scrollable, wrapped text and the screen's keys."""
        with Vertical(id="finding-body", classes="dialog tall-dialog"):
            with VerticalScroll(classes="dialog-scroll"):
                yield Static(self.text, id="finding-text", markup=False)
            yield Static(key_line(FINDING_KEYS), classes="dialog-keys", markup=False)

    def on_mount(self) -> None:
        """Read the evidence in a worker."""
        self.run_worker(self._read_evidence(), group="evidence", exit_on_error=False)

    async def _read_evidence(self) -> None:
        store = self.store
        try:
            self.evidence = (
                await store.finding_evidence(self.finding.key) if store is not None else None
            )
            self.evidence_state = "" if self.evidence else "no evidence recorded for this finding"
        except PortalError as exc:
            self.evidence_state = f"could not read the evidence: {exc}"
        self.redraw()

    def redraw(self) -> None:
        """Draw the text again (evidence read, acknowledged)."""
        if self.is_attached:
            self.query_one("#finding-text", Static).update(self.text)

    def action_acknowledge(self) -> None:
        """``a``: a note, then the acknowledgement is recorded."""
        actions: OperatorActions = self.app  # type: ignore[assignment]

        def noted(note: str | None) -> None:
            if note:
                actions.acknowledge(self.finding.key, note, lambda _ok: self.redraw())

        self.app.push_screen(NoteScreen(self.finding.subject), noted)

    def action_copy(self) -> None:
        """Copy the finding (OSC 52)."""
        self.app.copy_to_clipboard(self.text)
        self.app.notify("Copied the finding (OSC 52)", timeout=3)
