"""What the fetcher tells its listeners while it works.

The console subscribes and turns these into Textual messages; the core never
knows who listens. Listeners are plain callables and must not block.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from portal_tui.vocabulary.errors import UpstreamError


class CallPhase(StrEnum):
    """Where one logical request is in its life."""

    IN_FLIGHT = "in flight"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class RetryStatus:
    """The observable status of one logical request (SPEC section 4).

    ``attempt`` counts from 1; while ``RETRYING``, ``next_attempt_at`` says when
    attempt ``attempt + 1`` starts and ``last_error_*`` why the last one failed.
    """

    instance: str
    workspace: str | None
    dashboards: tuple[str, ...]
    request: str
    phase: CallPhase
    attempt: int
    max_attempts: int
    next_attempt_at: datetime | None = None
    last_error_type: str | None = None
    last_status_code: int | None = None
    last_error: str | None = None

    def describe(self, now: datetime) -> str:
        """``retry 2/4 in 3 s, 503`` style text for tables."""
        if self.phase is CallPhase.RETRYING and self.next_attempt_at is not None:
            wait = max(0.0, (self.next_attempt_at - now).total_seconds())
            reason = str(self.last_status_code or self.last_error_type or "error")
            return f"retry {self.attempt + 1}/{self.max_attempts} in {wait:.0f} s, {reason}"
        if self.phase is CallPhase.FAILED:
            return (
                f"failed after {self.attempt}/{self.max_attempts}: {self.last_error or ''}".strip()
            )
        if self.phase is CallPhase.IN_FLIGHT:
            return f"attempt {self.attempt}/{self.max_attempts}"
        return self.phase.value

    def advanced(
        self,
        phase: CallPhase,
        attempt: int,
        *,
        error: BaseException | None = None,
        next_at: datetime | None = None,
    ) -> RetryStatus:
        """The same request in ``phase`` at ``attempt``, with why the last attempt failed."""
        kind = code = text = None
        if isinstance(error, UpstreamError):
            kind, code, text = error.error_type.value, error.status_code, error.message
        elif error is not None:
            kind, text = type(error).__name__, str(error)
        return RetryStatus(
            self.instance,
            self.workspace,
            self.dashboards,
            self.request,
            phase,
            attempt,
            self.max_attempts,
            next_attempt_at=next_at,
            last_error_type=kind,
            last_status_code=code,
            last_error=text,
        )


StatusListener = Callable[[RetryStatus], None]


@dataclass(frozen=True, slots=True)
class ApiCallRecord:
    """One attempt of one upstream call (a row of ``api_health_logs``).

    Each attempt is its own row, so a call that failed twice and then
    succeeded is three rows with ``attempt`` 1, 2 and 3. ``endpoint`` must be
    a path or endpoint name, never a full URL; the store redacts anything
    token-like in it anyway.
    """

    instance: str
    endpoint: str
    method: str
    workspace: str | None
    status_code: int | None
    response_time_ms: float
    success: bool
    error_type: str | None  # an ErrorType value, or None on success
    error_message: str | None
    attempt: int
    triggered_by: str  # a TriggeredBy value
    timestamp: datetime
