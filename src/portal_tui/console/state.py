"""What every pane reads: the monitor's latest frozen view, the auto-refresh policy, history.

Panes get one :class:`ConsoleState` and draw from its :attr:`~ConsoleState.view`,
a frozen :class:`~portal_tui.engine.view.MonitorView` the app replaces once per
event (a message from the relay, the 1 Hz tick): never the monitor itself, so
a pane draws one consistent instant. Only the app changes the state; actions
(refresh, clear the cache, pause) go through the app's monitor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from portal_tui.console.autorefresh import AutoRefreshPolicy, BoardClock
from portal_tui.engine.view import MonitorView
from portal_tui.store.operator_records import FindingAck, FindingKey, OperatorAction
from portal_tui.store.records import WorkspaceHistory
from portal_tui.vocabulary.names import DashboardName

HISTORY_WINDOW_HOURS = 24
"""The History pane covers this many hours of ``api_health_logs``."""


@dataclass(slots=True)
class ConsoleState:
    """Shared, read-mostly state of one console."""

    view: MonitorView
    """The monitor as of the last event; replaced whole, never changed."""
    policy: AutoRefreshPolicy
    history: list[WorkspaceHistory] = field(default_factory=list)
    history_loaded_at: datetime | None = None
    history_error: str | None = None
    manual_refreshes: int = 0
    """Refreshes started by keys (``r``/``R``), for the activity line and tests."""
    acks: dict[FindingKey, FindingAck] = field(default_factory=dict)
    """Acknowledgements of the open findings, by their identity as the records hold it."""
    operator_actions: list[OperatorAction] = field(default_factory=list)
    """What engineers did over the History window (read with the history)."""
    stored_key: Callable[[FindingKey], FindingKey] = lambda key: key
    """A finding's identity as the records hold it (the store's redactor; set by the app)."""

    def ack_of(self, key: FindingKey) -> FindingAck | None:
        """The acknowledgement of an open finding (``key`` as the monitor holds it)."""
        if not self.acks:
            return None
        return self.acks.get(self.stored_key(key))

    def adopt(self, view: MonitorView) -> bool:
        """Draw from ``view`` from now on, unless a later one is already here; True if taken."""
        if view.serial <= self.view.serial:
            return False
        self.view = view
        return True

    @property
    def now(self) -> datetime:
        """The instant of the view (ages and countdowns are drawn as of then)."""
        return self.view.at

    @property
    def demo(self) -> bool:
        """True on the built-in simulator."""
        return self.view.demo

    @property
    def multi_instance(self) -> bool:
        """More than one instance configured: tables show an Instance column."""
        return self.view.multi_instance

    def board_clock(self, name: DashboardName) -> BoardClock:
        """What the auto-refresh policy needs to know about ``name`` as of the view."""
        board = self.view.board(name)
        return BoardClock(name, board.freshness.age, board.ttl, board.refreshing)

    def next_refresh(self, name: DashboardName) -> str:
        """``in 1m30s`` / ``due`` / ``↻ now`` / ``⏸ paused`` / ``auto off``."""
        return self.policy.next_text(self.board_clock(name), self.now)

    def tls_off(self) -> list[str]:
        """Instances configured with TLS verification off."""
        return list(self.view.tls_off)

    def plaintext_token(self) -> list[str]:
        """Instances whose token crosses the network unencrypted (plain http://, not loopback)."""
        if self.demo:
            return []  # the demo's upstream is in-process: nothing crosses a network
        return list(self.view.plaintext_token)
