"""FakeClock: virtual time that jumps when everyone sleeps, and timeouts on it."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest

from portal_tui.vocabulary.clock import FakeClock, SystemClock


async def test_sleep_jumps_to_the_wake_time_without_real_waiting() -> None:
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
    started = time.monotonic()
    await clock.sleep(3600)
    assert clock.monotonic() == pytest.approx(3600)
    assert clock.now() == datetime(2026, 1, 1, 1, tzinfo=UTC)
    assert time.monotonic() - started < 1.0


async def test_concurrent_sleepers_wake_in_order_at_their_own_times() -> None:
    clock = FakeClock()
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.monotonic()))

    await asyncio.gather(sleeper("b", 5), sleeper("a", 1), sleeper("c", 5))
    assert woke[0] == ("a", pytest.approx(1))
    assert {n for n, _ in woke[1:]} == {"b", "c"}
    assert all(t == pytest.approx(5) for _, t in woke[1:])


async def test_timeout_fires_on_virtual_time() -> None:
    clock = FakeClock()
    with pytest.raises(TimeoutError):
        async with clock.timeout(45):
            await clock.sleep(10_000)
    assert clock.monotonic() == pytest.approx(45)


async def test_timeout_does_not_fire_when_the_block_finishes() -> None:
    clock = FakeClock()
    async with clock.timeout(45):
        await clock.sleep(10)
    await clock.sleep(100)  # the watchdog is gone: nothing gets cancelled later
    assert clock.monotonic() == pytest.approx(110)


async def test_outer_cancellation_is_not_turned_into_a_timeout() -> None:
    clock = FakeClock()

    async def victim() -> None:
        async with clock.timeout(1000):
            await clock.sleep(10_000)

    task = asyncio.ensure_future(victim())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_manual_advance_without_autojump() -> None:
    clock = FakeClock(autojump=False)
    task = asyncio.ensure_future(clock.sleep(10))
    await asyncio.sleep(0.01)
    assert not task.done()
    clock.advance(10)
    await asyncio.sleep(0)
    assert task.done()
    with pytest.raises(ValueError):
        clock.advance(-1)


async def test_system_clock_is_aware_utc() -> None:
    clock = SystemClock()
    assert clock.now().tzinfo is not None
    async with clock.timeout(1):
        await clock.sleep(0)
