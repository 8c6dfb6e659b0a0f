"""Where every logical request's status is kept and published: in flight, retrying, done.

The console's retry banner and the status listeners read it; the
:class:`~portal_tui.fetch.fetcher.Fetcher` writes it as requests progress.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from tenacity import RetryCallState

from portal_tui.fetch.events import CallPhase, RetryStatus, StatusListener
from portal_tui.vocabulary.clock import Clock
from portal_tui.vocabulary.errors import UpstreamError


class StatusBoard:
    """The requests in progress by call id, and the listeners told of every change."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._listeners: list[StatusListener] = []
        self.active: dict[int, RetryStatus] = {}
        """Requests not yet finished (in flight or retrying), by call id."""

    def subscribe(self, listener: StatusListener) -> Callable[[], None]:
        """Call ``listener`` on every status change; returns the unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def publish(self, call_id: int, status: RetryStatus) -> None:
        """Record ``status`` for ``call_id`` (dropped once finished) and tell the listeners."""
        if status.phase in (CallPhase.SUCCEEDED, CallPhase.FAILED):
            self.active.pop(call_id, None)
        else:
            self.active[call_id] = status
        for listener in list(self._listeners):
            listener(status)

    def finish(
        self,
        call_id: int,
        status: RetryStatus,
        phase: CallPhase,
        attempts: int,
        error: UpstreamError | None,
    ) -> None:
        """Publish the request's last status (succeeded or failed)."""
        self.publish(call_id, status.advanced(phase, attempts, error=error))

    def forget(self, call_id: int) -> None:
        """Drop a request that ended without a status (cancelled), telling no one."""
        self.active.pop(call_id, None)

    def announce_retry(self, call_id: int, status: RetryStatus) -> Callable[[RetryCallState], None]:
        """tenacity's ``before_sleep``: the request is retrying, when and why."""
        clock = self._clock

        def announce(state: RetryCallState) -> None:
            outcome = state.outcome
            next_at = clock.now() + timedelta(seconds=state.upcoming_sleep)
            self.publish(
                call_id,
                status.advanced(
                    CallPhase.RETRYING,
                    state.attempt_number,
                    error=outcome.exception() if outcome is not None else None,
                    next_at=next_at,
                ),
            )

        return announce
