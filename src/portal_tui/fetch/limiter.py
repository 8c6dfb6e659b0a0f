"""Sliding-window concurrency and an optional rate cap, per instance.

A counted set of slots, not fixed batches: the moment one request finishes
the next one starts, so a slow workspace never holds free slots idle. Callers
hold a slot only for the HTTP exchange itself, never while sleeping between
retries.

Waiters are served first come, first served, except that *priority* waiters
go ahead of the others. The fetcher uses one instance as its admission gate
(sender-email pages go first there: page 1 unlocks the rest, which would
otherwise all start at the end of a refresh) and one as the sliding window
itself (where only the requests of an open master-token session, which all
other master-token workspaces wait for, go first: an admitted request's
deadline is running, so it must not be overtaken without end).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from portal_tui.vocabulary.clock import Clock


class RequestLimiter:
    """At most ``concurrency`` requests in flight, at most ``rate`` starts per second."""

    def __init__(self, clock: Clock, *, concurrency: int, rate: float = 0.0) -> None:
        self._clock = clock
        self.concurrency = concurrency
        self._free = concurrency
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._interval = 1.0 / rate if rate > 0 else 0.0
        self._next_start = 0.0
        self.in_flight = 0
        self.max_in_flight = 0

    @property
    def queued(self) -> int:
        """Requests waiting for a slot."""
        return len(self._urgent) + len(self._waiting)

    @asynccontextmanager
    async def slot(self, *, priority: bool = False) -> AsyncIterator[None]:
        """Hold one slot for the duration of the block (``priority``: ahead of the queue)."""
        await self._acquire(priority)
        try:
            if self._interval:
                await self._pace()
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                yield
            finally:
                self.in_flight -= 1
        finally:
            self._release()

    async def _acquire(self, priority: bool) -> None:
        # Free slots and waiters never coexist: a released slot goes to a waiter.
        if self._free > 0:
            self._free -= 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._urgent if priority else self._waiting
        queue.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release()  # the slot was handed over as we were cancelled: pass it on
            elif waiter in queue:  # _release may already have skipped it as done
                queue.remove(waiter)
            raise

    def _release(self) -> None:
        # Hand the slot straight to the next live waiter, so nobody can cut in.
        for queue in (self._urgent, self._waiting):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)
                    return
        self._free += 1

    async def _pace(self) -> None:
        now = self._clock.monotonic()
        start = max(now, self._next_start)
        self._next_start = start + self._interval
        if start > now:
            await self._clock.sleep(start - now)
