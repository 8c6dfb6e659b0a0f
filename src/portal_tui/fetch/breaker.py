"""A circuit breaker per instance.

It counts only upstream-health failures (5xx, timeouts, connect errors); a 4xx,
a validation error or a cancellation says nothing about the upstream's health.
While open it fails fast; after ``reset_timeout`` it lets exactly one probe
through; the probe's success closes it, its failure opens it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from portal_tui.vocabulary.clock import Clock
from portal_tui.vocabulary.errors import ErrorType, UpstreamError


class BreakerState(StrEnum):
    """The breaker's three states."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


@dataclass(frozen=True, slots=True)
class BreakerStatus:
    """What the console shows about a breaker."""

    instance: str
    state: BreakerState
    consecutive_failures: int
    next_probe_at: datetime | None
    opened_count: int
    last_error: str | None


class CircuitBreaker:
    """Closed / open / half-open with one probe, on an injected clock."""

    def __init__(
        self, instance: str, clock: Clock, *, failure_threshold: int, reset_timeout: float
    ) -> None:
        self.instance = instance
        self._clock = clock
        self._threshold = failure_threshold
        self._reset_timeout = reset_timeout
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probe_in_flight = False
        self._opened_count = 0
        self._last_error: str | None = None

    @property
    def state(self) -> BreakerState:
        """Current state; an open breaker whose wait is over reads as half-open."""
        if self._state is BreakerState.OPEN and self._probe_due():
            return BreakerState.HALF_OPEN
        return self._state

    def status(self) -> BreakerStatus:
        """A snapshot for display."""
        next_probe = None
        if self._state is BreakerState.OPEN:
            wait = self._opened_at + self._reset_timeout - self._clock.monotonic()
            next_probe = self._clock.now() + timedelta(seconds=max(0.0, wait))
        return BreakerStatus(
            self.instance,
            self.state,
            self._failures,
            next_probe,
            self._opened_count,
            self._last_error,
        )

    def before_call(self) -> bool:
        """Admit a call or raise ``breaker_open``; returns True when the call is the probe."""
        if self._state is BreakerState.CLOSED:
            return False
        if self._state is BreakerState.OPEN and self._probe_due():
            self._state = BreakerState.HALF_OPEN
        if self._state is BreakerState.HALF_OPEN and not self._probe_in_flight:
            self._probe_in_flight = True
            return True
        status = self.status()
        when = (
            f"next probe at {status.next_probe_at:%H:%M:%S}Z"
            if status.next_probe_at
            else "probe in flight"
        )
        raise UpstreamError(
            ErrorType.BREAKER_OPEN,
            f"circuit open for instance {self.instance} ({when}); failing fast",
        )

    def record_success(self, probe: bool) -> None:
        """An upstream answer that says the upstream is healthy (any non-5xx response)."""
        self._failures = 0
        if probe or self._state is not BreakerState.CLOSED:
            self._state = BreakerState.CLOSED
            self._probe_in_flight = False

    def record_failure(self, error: UpstreamError, probe: bool) -> None:
        """A failed call; only upstream-health failures count towards opening."""
        if not error.error_type.is_upstream_health:
            if probe:
                # A 4xx or bad payload still proves the upstream answered.
                self.record_success(probe)
            return
        self._failures += 1
        self._last_error = error.label
        if probe or (self._state is BreakerState.CLOSED and self._failures >= self._threshold):
            self._open()

    def record_cancelled(self, probe: bool) -> None:
        """A cancelled call proves nothing; a cancelled probe lets the next call probe."""
        if probe:
            self._probe_in_flight = False

    def _open(self) -> None:
        self._state = BreakerState.OPEN
        self._opened_at = self._clock.monotonic()
        self._probe_in_flight = False
        self._opened_count += 1

    def _probe_due(self) -> bool:
        return self._clock.monotonic() >= self._opened_at + self._reset_timeout
