"""Injected time.

Everything that ages, expires, waits or times out asks a :class:`Clock`, so
tests of TTLs, freshness, retries and the breaker run on :class:`FakeClock`
without sleeping for real.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol


class Clock(Protocol):
    """A source of wall time, monotonic time, sleeps and timeouts."""

    def now(self) -> datetime:
        """The current wall time, timezone-aware, in UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back; only differences mean anything."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` on this clock."""
        ...

    def timeout(self, seconds: float | None) -> AbstractAsyncContextManager[Any]:
        """Raise :class:`TimeoutError` if the block runs longer than ``seconds``."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def timeout(self, seconds: float | None) -> AbstractAsyncContextManager[Any]:
        return asyncio.timeout(seconds)


class FakeClock:
    """Virtual time for tests.

    Time moves only when :meth:`advance` is called or, with ``autojump``,
    when every waiter is asleep on this clock: then it jumps straight to the
    earliest wake-up. Work that is entirely in-process (the in-process
    simulator, the fetcher, the cache) therefore runs instantly while still
    seeing the right times.
    """

    def __init__(
        self,
        start: datetime | None = None,
        *,
        autojump: bool = True,
        idle_threshold: float = 0.002,
    ) -> None:
        self._start = start or datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
        if self._start.tzinfo is None:
            raise ValueError("FakeClock start must be timezone-aware")
        self._elapsed = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._autojump = autojump
        self._idle_threshold = idle_threshold
        self._jumper: asyncio.Task[None] | None = None
        self._changes = 0  # bumped whenever a sleeper is added or time moves

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._elapsed)

    def monotonic(self) -> float:
        return self._elapsed

    def set_now(self, when: datetime) -> None:
        """Move wall time to ``when`` (forward only) and wake due sleepers."""
        delta = (when - self.now()).total_seconds()
        if delta < 0:
            raise ValueError("FakeClock cannot go back in time")
        self.advance(delta)

    def advance(self, seconds: float) -> None:
        """Move time forward and wake every sleeper that is now due."""
        if seconds < 0:
            raise ValueError("FakeClock cannot go back in time")
        self._elapsed += seconds
        self._changes += 1
        while self._sleepers and self._sleepers[0][0] <= self._elapsed + 1e-12:
            _, _, fut = heapq.heappop(self._sleepers)
            if not fut.done():
                fut.set_result(None)

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        heapq.heappush(self._sleepers, (self._elapsed + seconds, next(self._seq), fut))
        self._changes += 1
        self._ensure_jumper()
        try:
            await fut
        finally:
            if not fut.done():
                fut.cancel()

    @asynccontextmanager
    async def _timeout(self, seconds: float) -> AsyncIterator[None]:
        task = asyncio.current_task()
        assert task is not None
        fired = False

        async def watchdog() -> None:
            nonlocal fired
            await self.sleep(seconds)
            fired = True
            task.cancel()

        dog = asyncio.get_running_loop().create_task(watchdog())
        try:
            yield
        except asyncio.CancelledError:
            if fired and task.uncancel() == 0:
                raise TimeoutError from None
            raise
        finally:
            dog.cancel()

    def timeout(self, seconds: float | None) -> AbstractAsyncContextManager[Any]:
        if seconds is None:
            return _NullTimeout()
        return self._timeout(seconds)

    @property
    def pending_sleepers(self) -> int:
        """How many tasks are asleep on this clock (cancelled ones excluded)."""
        return sum(1 for _, _, fut in self._sleepers if not fut.done())

    def _ensure_jumper(self) -> None:
        if not self._autojump:
            return
        if self._jumper is None or self._jumper.done():
            self._jumper = asyncio.get_running_loop().create_task(self._jump_when_idle())

    async def _jump_when_idle(self) -> None:
        # Wait a little real time; if nobody new went to sleep and nobody woke,
        # every live task is blocked on this clock, so skip to the next wake-up.
        while True:
            self._drop_cancelled()
            if not self._sleepers:
                return
            marker = self._changes
            await asyncio.sleep(self._idle_threshold)
            self._drop_cancelled()
            if self._sleepers and marker == self._changes:
                self.advance(max(0.0, self._sleepers[0][0] - self._elapsed))

    def _drop_cancelled(self) -> None:
        if any(fut.done() for _, _, fut in self._sleepers):
            self._sleepers = [s for s in self._sleepers if not s[2].done()]
            heapq.heapify(self._sleepers)


class _NullTimeout(AbstractAsyncContextManager[None]):
    async def __aexit__(self, *exc: object) -> None:
        return None
