"""From monitor events to console messages, coalescing the bursty ones.

A 1,000-workspace refresh fires thousands of ``CallStatusChanged`` events
and one ``SnapshotUpdated`` per dashboard. Repainting per event would flood
the UI, so the relay only marks things dirty; :meth:`MonitorRelay.flush`,
called by the app on a ~4 Hz timer, posts at most one
:class:`~portal_tui.console.messages.CallsChanged` and one
:class:`~portal_tui.console.messages.DashboardsUpdated` per tick. Rare
events (a cycle starting or ending, a workspace changing state) are posted
at once. The monitor calls listeners on the app's event loop, so posting is
safe. Every message carries the monitor's frozen view, built once per flush
(or per rare event), never once per monitor event.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from textual.message import Message

from portal_tui.console.messages import (
    CallsChanged,
    DashboardsUpdated,
    RefreshStateChanged,
    WorkspaceStateChanged,
)
from portal_tui.engine.monitor import (
    CallStatusChanged,
    MonitorEvent,
    PortalMonitor,
    RefreshFinished,
    RefreshProgress,
    RefreshStarted,
    SnapshotUpdated,
    WorkspaceTransition,
)
from portal_tui.engine.view import MonitorView
from portal_tui.vocabulary.names import DashboardName

FLUSH_INTERVAL = 0.25
"""Seconds between flushes: at most four repaints a second from bursty events."""


class MonitorRelay:
    """Listens to a :class:`PortalMonitor` and posts messages through ``post``."""

    def __init__(self, monitor: PortalMonitor, post: Callable[[Message], bool]) -> None:
        self._monitor = monitor
        self._post = post
        self._dirty: set[DashboardName] = set()
        self._call_events = 0
        self._unsubscribe: Callable[[], None] | None = None
        self.seen: Counter[str] = Counter()
        """Monitor events received, by type name."""
        self.posted: Counter[str] = Counter()
        """Messages posted, by type name (tests compare the two to prove coalescing)."""

    def start(self) -> None:
        """Subscribe to the monitor."""
        if self._unsubscribe is None:
            self._unsubscribe = self._monitor.subscribe(self.on_event)

    def stop(self) -> None:
        """Unsubscribe (safe to call twice)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def on_event(self, event: MonitorEvent) -> None:
        """The monitor's listener: mark dirty, or post the rare events at once."""
        self.seen[type(event).__name__] += 1
        if isinstance(event, CallStatusChanged):
            self._call_events += 1
        elif isinstance(event, SnapshotUpdated | RefreshProgress):
            self._dirty.add(event.dashboard)
        elif isinstance(event, RefreshStarted):
            self._send(RefreshStateChanged(event.dashboards, running=True, view=self._view()))
        elif isinstance(event, RefreshFinished):
            outcome = event.outcome
            failed = sum(1 for c in outcome.api_calls if not c.success)
            summary = (
                f"{outcome.requests_made} requests, {failed} failed attempt(s), "
                f"{outcome.duration_ms / 1000:.1f} s"
            )
            view = self._view()
            self._send(
                RefreshStateChanged(event.dashboards, running=False, view=view, summary=summary)
            )
            self._call_events += 1  # the last calls left the in-flight list
        elif isinstance(event, WorkspaceTransition):
            self._send(
                WorkspaceStateChanged(
                    event.instance,
                    event.workspace,
                    event.to_state.value,
                    event.dashboards,
                    event.reason,
                )
            )

    @property
    def pending(self) -> bool:
        """True when a flush would post something."""
        return bool(self._dirty or self._call_events)

    def flush(self) -> None:
        """Post what accumulated since the last flush: at most one message of each kind."""
        if not self.pending:
            return
        view = self._view()
        if self._dirty:
            dirty, self._dirty = frozenset(self._dirty), set()
            self._send(DashboardsUpdated(dirty, view))
        if self._call_events:
            events, self._call_events = self._call_events, 0
            self._send(CallsChanged(events, view))

    def _view(self) -> MonitorView:
        # Without the cache's counts: a pass over every cached response, up to 4 times a
        # second while refreshing; the 1 Hz tick's view has them.
        return self._monitor.view(cache=False)

    def _send(self, message: Message) -> None:
        self.posted[type(message).__name__] += 1
        self._post(message)
