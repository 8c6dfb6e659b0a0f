"""What the monitor tells its listeners, and the hub that tells them.

Events are small frozen values; the console's relay turns them into
coalesced messages, ``check`` ignores them. Listeners are called on the
monitor's event loop, in the order they subscribed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from portal_tui.fetch.events import RetryStatus
from portal_tui.store.standing import WorkspaceTransition
from portal_tui.vocabulary.names import DashboardName

if TYPE_CHECKING:
    from portal_tui.engine.outcome import CycleOutcome


@dataclass(frozen=True, slots=True)
class SnapshotUpdated:
    """A dashboard has a new snapshot."""

    dashboard: DashboardName


@dataclass(frozen=True, slots=True)
class RefreshProgress:
    """A cold refresh of ``dashboard`` (no snapshot yet) completed another workspace:
    the dashboard's preview has new rows (see :mod:`portal_tui.engine.preview`)."""

    dashboard: DashboardName
    done: int
    total: int


@dataclass(frozen=True, slots=True)
class RefreshStarted:
    """A cycle began for these dashboards."""

    dashboards: tuple[DashboardName, ...]


@dataclass(frozen=True, slots=True)
class RefreshFinished:
    """A cycle ended; ``outcome`` has its details."""

    dashboards: tuple[DashboardName, ...]
    outcome: CycleOutcome


@dataclass(frozen=True, slots=True)
class CallStatusChanged:
    """A request's retry status changed (wraps :class:`RetryStatus`)."""

    status: RetryStatus


MonitorEvent = (
    SnapshotUpdated
    | RefreshProgress
    | RefreshStarted
    | RefreshFinished
    | WorkspaceTransition
    | CallStatusChanged
)
EventListener = Callable[[MonitorEvent], None]


class EventHub:
    """Listeners and the one way to call them."""

    def __init__(self) -> None:
        self._listeners: list[EventListener] = []

    def subscribe(self, listener: EventListener) -> Callable[[], None]:
        """Call ``listener`` on every event; returns the unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def emit(self, event: MonitorEvent) -> None:
        """Call every listener (a copy of the list: one may unsubscribe while called)."""
        for listener in list(self._listeners):
            listener(event)


__all__ = [
    "CallStatusChanged",
    "EventHub",
    "EventListener",
    "MonitorEvent",
    "RefreshFinished",
    "RefreshProgress",
    "RefreshStarted",
    "SnapshotUpdated",
    "WorkspaceTransition",
]
