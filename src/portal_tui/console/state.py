"""What every pane reads: the monitor, the injected clock, the auto-refresh policy, history.

Panes get one :class:`ConsoleState` and read from it; only the app changes
it. Reading the monitor never touches the network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from portal_tui.console.autorefresh import AutoRefreshPolicy, BoardClock
from portal_tui.engine.monitor import PortalMonitor
from portal_tui.store.operator_records import FindingAck, FindingKey, OperatorAction
from portal_tui.store.records import WorkspaceHistory
from portal_tui.vocabulary.names import DashboardName

HISTORY_WINDOW_HOURS = 24
"""The History pane covers this many hours of ``api_health_logs``."""


@dataclass(slots=True)
class ConsoleState:
    """Shared, read-mostly state of one console."""

    monitor: PortalMonitor
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

    def ack_of(self, key: FindingKey) -> FindingAck | None:
        """The acknowledgement of an open finding (``key`` as the monitor holds it)."""
        store = self.monitor.store
        if not self.acks or store is None:
            return None
        return self.acks.get(store.stored_key(key))

    @property
    def now(self) -> datetime:
        """The injected clock's now."""
        return self.monitor.clock.now()

    @property
    def demo(self) -> bool:
        """True on the built-in simulator."""
        return self.monitor.demo

    @property
    def multi_instance(self) -> bool:
        """More than one instance configured: tables show an Instance column."""
        return len(self.monitor.config.instances) > 1

    def board_clock(self, name: DashboardName) -> BoardClock:
        """What the auto-refresh policy needs to know about ``name`` now."""
        fresh = self.monitor.freshness(name)
        return BoardClock(name, fresh.age, self.monitor.ttl(name), name in self.monitor.refreshing)

    def next_refresh(self, name: DashboardName) -> str:
        """``in 1m30s`` / ``due`` / ``↻ now`` / ``⏸ paused`` / ``auto off``."""
        return self.policy.next_text(self.board_clock(name), self.now)

    def tls_off(self) -> list[str]:
        """Instances configured with TLS verification off."""
        return [i.name for i in self.monitor.config.instances if not i.verify_tls]

    def plaintext_token(self) -> list[str]:
        """Instances whose token crosses the network unencrypted (plain http://, not loopback)."""
        if self.demo:
            return []  # the demo's upstream is in-process: nothing crosses a network
        return [i.name for i in self.monitor.config.instances if i.plaintext_token]
