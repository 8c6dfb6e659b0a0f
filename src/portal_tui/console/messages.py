"""Every message the console passes around, as small documented dataclasses.

The :class:`~portal_tui.console.relay.MonitorRelay` posts these to the app
from the monitor's events. They stay local (``bubble=False``): only the app
handles them. Bursty ones replace a pending message of their kind
(``can_replace``), on top of the relay's own 4 Hz coalescing.

Each carries ``view``: the monitor frozen when the event was relayed (a
:class:`~portal_tui.engine.view.MonitorView`, built once for all the messages
of one flush). The app hands it to the panes; nothing reads the live monitor.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from portal_tui.engine.view import MonitorView
from portal_tui.vocabulary.names import DashboardName


@dataclass
class DashboardsUpdated(Message, bubble=False):
    """These dashboards have new snapshots since the last repaint (coalesced)."""

    dashboards: frozenset[DashboardName]
    view: MonitorView

    def can_replace(self, message: Message) -> bool:
        """A later update supersedes an earlier one only when it covers it."""
        return isinstance(message, DashboardsUpdated) and message.dashboards <= self.dashboards


@dataclass
class RefreshStateChanged(Message, bubble=False):
    """A refresh cycle started or finished for ``dashboards``."""

    dashboards: tuple[DashboardName, ...]
    running: bool
    """True when the cycle started, False when it finished."""
    view: MonitorView
    summary: str = ""
    """For a finished cycle: ``26 rows, 4 failed calls, 1.2 s``."""


@dataclass
class CallsChanged(Message, bubble=False):
    """Requests changed retry status; ``events`` status changes were folded into this one."""

    events: int
    view: MonitorView

    def can_replace(self, message: Message) -> bool:
        """The newest call state replaces any older pending one."""
        return isinstance(message, CallsChanged)


@dataclass
class WorkspaceStateChanged(Message, bubble=False):
    """A workspace started failing or recovered (after the monitor's hysteresis)."""

    instance: str
    workspace: str
    to_state: str
    """``failing`` or ``recovered`` (a :class:`~portal_tui.store.records.WorkspaceState`)."""
    dashboards: tuple[str, ...]
    reason: str
