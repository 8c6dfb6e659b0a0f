"""How hard one logical request tries: tenacity's stop and wait rules, and its deadline.

The fetcher makes attempt 1 itself and builds :func:`retrying` only after
it failed (see :mod:`portal_tui.vocabulary.retrying`): nearly every request succeeds at
once, and that path costs nothing here. The rules:

- stop after ``attempts`` in all, or when the next attempt could not start
  before the request's deadline (:class:`StopBeforeDeadline`);
- wait exponentially (``backoff_initial`` × ``backoff_multiplier``ⁿ, at most
  ``backoff_max``) plus up to ``jitter`` seconds, and at least the upstream's
  ``Retry-After``, capped (:class:`WaitRetryAfter`);
- retry timeouts, network errors, 5xx and 429 only: never another 4xx, a
  validation error or a cancellation.

A request's deadline covers its own work (attempts and the sleeps between
them), not its turn: time spent waiting for the master token's session is
added back (:meth:`Deadline.extend`), as admission is waited for before the
deadline starts. Otherwise, with hundreds of workspaces behind one token, the
ones at the back would spend their whole deadline in the queue.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from portal_tui.config import RetryConfig
from portal_tui.vocabulary.clock import Clock
from portal_tui.vocabulary.errors import UpstreamError


class Deadline:
    """When one logical request must be done by, on ``clock``'s monotonic time."""

    __slots__ = ("_clock", "at")

    def __init__(self, clock: Clock, seconds: float) -> None:
        self._clock = clock
        self.at = clock.monotonic() + seconds

    def remaining(self) -> float:
        """Seconds left (zero or less: passed)."""
        return self.at - self._clock.monotonic()

    def extend(self, seconds: float) -> None:
        """Move the deadline ``seconds`` later: time spent waiting for a turn."""
        self.at += max(0.0, seconds)

    def allows_sleep(self, seconds: float) -> bool:
        """Whether an attempt could still start after sleeping ``seconds``."""
        return self._clock.monotonic() + seconds < self.at


class StopBeforeDeadline(stop_base):
    """Stop when the next attempt could not start before ``deadline``.

    Read after the wait is chosen (tenacity computes the wait first), so it
    sees the sleep the next attempt would follow.
    """

    def __init__(self, deadline: Deadline) -> None:
        self.deadline = deadline

    def __call__(self, retry_state: RetryCallState) -> bool:
        return not self.deadline.allows_sleep(retry_state.upcoming_sleep)


class WaitJitter(wait_base):
    """Up to ``seconds`` at random, drawn from ``rng`` (none drawn when zero)."""

    def __init__(self, rng: random.Random, seconds: float) -> None:
        self.rng = rng
        self.seconds = seconds

    def __call__(self, retry_state: RetryCallState) -> float:
        return self.rng.uniform(0, self.seconds) if self.seconds else 0.0


class WaitRetryAfter(wait_base):
    """``otherwise``, but at least the failed attempt's ``Retry-After``, capped at ``cap``."""

    def __init__(self, otherwise: wait_base, cap: float) -> None:
        self.otherwise = otherwise
        self.cap = cap

    def __call__(self, retry_state: RetryCallState) -> float:
        wait = self.otherwise(retry_state)
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        if isinstance(error, UpstreamError) and error.retry_after is not None:
            wait = max(wait, min(error.retry_after, self.cap))
        return wait


def is_retryable(error: BaseException) -> bool:
    """Whether another attempt may succeed after ``error`` (SPEC section 4)."""
    return isinstance(error, UpstreamError) and error.error_type.is_retryable


def backoff_wait(policy: RetryConfig, rng: random.Random) -> wait_base:
    """The wait after a failed attempt: exponential, jitter, Retry-After (capped)."""
    p = policy
    exponential = wait_exponential(
        multiplier=p.backoff_initial, exp_base=p.backoff_multiplier, max=p.backoff_max
    )
    return WaitRetryAfter(exponential + WaitJitter(rng, p.jitter), p.retry_after_cap)


def retrying(
    policy: RetryConfig,
    rng: random.Random,
    deadline: Deadline,
    clock: Clock,
    *,
    before_sleep: Callable[[RetryCallState], None],
) -> AsyncRetrying:
    """The retry phase of one request, built once its first attempt has failed.

    Sleeps on ``clock``; ``before_sleep`` is told of each retry before its
    sleep starts. Stopping re-raises the last attempt's own error.
    """
    return AsyncRetrying(
        sleep=clock.sleep,
        stop=stop_after_attempt(policy.attempts) | StopBeforeDeadline(deadline),
        wait=backoff_wait(policy, rng),
        retry=retry_if_exception(is_retryable),
        before_sleep=before_sleep,
        reraise=True,
    )
