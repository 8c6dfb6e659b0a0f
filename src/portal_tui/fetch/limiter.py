"""Sliding-window concurrency and an optional rate cap, per instance.

A semaphore, not fixed batches: the moment one request finishes the next one
starts, so a slow workspace never holds free slots idle. Callers hold a slot
only for the HTTP exchange itself, never while sleeping between retries.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from portal_tui.clock import Clock


class RequestLimiter:
    """At most ``concurrency`` requests in flight, at most ``rate`` starts per second."""

    def __init__(self, clock: Clock, *, concurrency: int, rate: float = 0.0) -> None:
        self._clock = clock
        self._slots = asyncio.Semaphore(concurrency)
        self.concurrency = concurrency
        self._interval = 1.0 / rate if rate > 0 else 0.0
        self._next_start = 0.0
        self.in_flight = 0
        self.max_in_flight = 0

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one slot for the duration of the block."""
        async with self._slots:
            if self._interval:
                await self._pace()
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                yield
            finally:
                self.in_flight -= 1

    async def _pace(self) -> None:
        now = self._clock.monotonic()
        start = max(now, self._next_start)
        self._next_start = start + self._interval
        if start > now:
            await self._clock.sleep(start - now)
