"""When each dashboard revalidates on its own: the auto-refresh policy, without Textual.

A dashboard is due when its data is older than its TTL (or it has none),
auto-refresh is on and not paused, it is not already refreshing, and the
last automatic attempt was long enough ago: a dashboard whose refresh keeps
failing keeps old data, and must not be retried every tick.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from portal_tui.vocabulary.freshness import format_age
from portal_tui.vocabulary.names import DashboardName

RETRY_AFTER_FAILURE = 30.0
"""Seconds between automatic attempts for a dashboard whose data stays old."""


@dataclass(frozen=True, slots=True)
class BoardClock:
    """What the policy needs to know about one dashboard now."""

    name: DashboardName
    age: float | None
    """Seconds since its last good data; None when it has none."""
    ttl: float
    refreshing: bool


@dataclass(slots=True)
class AutoRefreshPolicy:
    """Decides which dashboards to revalidate; remembers its own attempts."""

    enabled: bool = True
    """``auto_refresh`` from the config."""
    paused: bool = False
    """Paused by the user (``p``)."""
    last_attempt: dict[DashboardName, datetime] = field(default_factory=dict)

    def due(self, boards: Iterable[BoardClock], now: datetime) -> list[DashboardName]:
        """Dashboards to refresh now (empty while paused or disabled)."""
        if not self.enabled or self.paused:
            return []
        return [b.name for b in boards if self._is_due(b, now)]

    def attempted(self, names: Iterable[DashboardName], now: datetime) -> None:
        """Record that a refresh of ``names`` started at ``now`` (any trigger counts)."""
        for name in names:
            self.last_attempt[name] = now

    def next_text(self, board: BoardClock, now: datetime) -> str:
        """The Overview's "Next refresh" cell: ``in 1m30s``, ``due``, ``↻ now``, ``paused``."""
        if board.refreshing:
            return "↻ now"
        if not self.enabled:
            return "auto off"
        if self.paused:
            return "⏸ paused"
        if board.age is None or board.age >= board.ttl:
            wait = self._retry_wait(board.name, now)
            return "due" if wait <= 0 else f"retry in {format_age(wait)}"
        return f"in {format_age(board.ttl - board.age)}"

    def _is_due(self, board: BoardClock, now: datetime) -> bool:
        if board.refreshing:
            return False
        if board.age is not None and board.age < board.ttl:
            return False
        return self._retry_wait(board.name, now) <= 0

    def _retry_wait(self, name: DashboardName, now: datetime) -> float:
        last = self.last_attempt.get(name)
        if last is None:
            return 0.0
        return RETRY_AFTER_FAILURE - (now - last).total_seconds()
