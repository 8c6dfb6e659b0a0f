"""How long to wait between attempts, and the deadline that bounds them.

A request's deadline covers its own work (attempts and the sleeps between
them), not its turn: time spent waiting for the master token's session is
added back (:meth:`Deadline.extend`), as admission is waited for before the
deadline starts. Otherwise, with hundreds of workspaces behind one token, the
ones at the back would spend their whole deadline in the queue.
"""

from __future__ import annotations

import random

from portal_tui.config import RetryConfig
from portal_tui.vocabulary.clock import Clock
from portal_tui.vocabulary.errors import UpstreamError


def backoff(policy: RetryConfig, rng: random.Random, attempt: int, error: UpstreamError) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (from 1) before the next.

    Exponential with jitter, and at least ``Retry-After`` (capped) when the
    upstream said so.
    """
    p = policy
    exp = p.backoff_initial * p.backoff_multiplier ** (attempt - 1)
    wait = min(p.backoff_max, exp) + (rng.uniform(0, p.jitter) if p.jitter else 0.0)
    if error.retry_after is not None:
        wait = max(wait, min(error.retry_after, p.retry_after_cap))
    return wait


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
