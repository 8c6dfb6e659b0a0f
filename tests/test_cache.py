"""TtlCache: per-caller TTL, single-flight, stale fallback with age, clear, stats."""

from __future__ import annotations

import asyncio

import pytest

from portal_tui.fetch.cache import TtlCache
from portal_tui.vocabulary.clock import FakeClock


class Loader:
    """Counts calls; can be made to fail or to take (virtual) time."""

    def __init__(self, clock: FakeClock, delay: float = 0.0) -> None:
        self.clock = clock
        self.delay = delay
        self.calls = 0
        self.fail: Exception | None = None

    async def __call__(self) -> str:
        self.calls += 1
        if self.delay:
            await self.clock.sleep(self.delay)
        if self.fail:
            raise self.fail
        return f"v{self.calls}"


async def test_fresh_hit_within_ttl_and_reload_after() -> None:
    clock = FakeClock(autojump=False)
    cache: TtlCache[str, str] = TtlCache(clock)
    load = Loader(clock)
    first = await cache.get("k", load, ttl=120)
    assert (first.value, first.from_cache, first.stale) == ("v1", False, False)
    clock.advance(119)
    hit = await cache.get("k", load, ttl=120)
    assert (hit.value, hit.from_cache, hit.age) == ("v1", True, pytest.approx(119))
    clock.advance(1)
    again = await cache.get("k", load, ttl=120)
    assert again.value == "v2" and load.calls == 2


async def test_each_caller_brings_its_own_ttl() -> None:
    clock = FakeClock(autojump=False)
    cache: TtlCache[str, str] = TtlCache(clock)
    load = Loader(clock)
    await cache.get("stats", load, ttl=120, tags=["kpi"])
    clock.advance(200)
    revenue = await cache.get("stats", load, ttl=300, tags=["revenue"])
    assert revenue.from_cache and load.calls == 1
    kpi = await cache.get("stats", load, ttl=120, tags=["kpi"])
    assert not kpi.from_cache and load.calls == 2


async def test_single_flight_one_call_for_concurrent_gets() -> None:
    clock = FakeClock()
    cache: TtlCache[str, str] = TtlCache(clock)
    load = Loader(clock, delay=5)
    results = await asyncio.gather(*(cache.get("k", load, ttl=60) for _ in range(50)))
    assert load.calls == 1
    assert {r.value for r in results} == {"v1"}
    assert cache.stats().in_flight == 0


async def test_force_bypasses_the_ttl() -> None:
    clock = FakeClock(autojump=False)
    cache: TtlCache[str, str] = TtlCache(clock)
    load = Loader(clock)
    await cache.get("k", load, ttl=600)
    forced = await cache.get("k", load, ttl=600, force=True)
    assert forced.value == "v2" and not forced.from_cache


async def test_failure_serves_last_good_value_flagged_stale_with_age() -> None:
    clock = FakeClock(autojump=False)
    cache: TtlCache[str, str] = TtlCache(clock, max_staleness=3600)
    load = Loader(clock)
    await cache.get("k", load, ttl=120)
    clock.advance(600)
    load.fail = RuntimeError("HTTP 503")
    result = await cache.get("k", load, ttl=120)
    assert result.stale and result.value == "v1"
    assert result.age == pytest.approx(600)
    assert isinstance(result.error, RuntimeError)
    assert cache.stats().stale_served == 1


async def test_failure_beyond_max_staleness_raises() -> None:
    clock = FakeClock(autojump=False)
    cache: TtlCache[str, str] = TtlCache(clock, max_staleness=3600)
    load = Loader(clock)
    await cache.get("k", load, ttl=120)
    clock.advance(3601)
    load.fail = RuntimeError("down")
    with pytest.raises(RuntimeError):
        await cache.get("k", load, ttl=120)


async def test_failure_without_previous_value_raises() -> None:
    clock = FakeClock(autojump=False)
    cache: TtlCache[str, str] = TtlCache(clock)
    load = Loader(clock)
    load.fail = ValueError("bad")
    with pytest.raises(ValueError):
        await cache.get("k", load, ttl=120)


async def test_cancelled_waiter_does_not_cancel_the_shared_load() -> None:
    clock = FakeClock()
    cache: TtlCache[str, str] = TtlCache(clock)
    load = Loader(clock, delay=10)
    first = asyncio.ensure_future(cache.get("k", load, ttl=60))
    second = asyncio.ensure_future(cache.get("k", load, ttl=60))
    await asyncio.sleep(0)
    first.cancel()
    result = await second
    assert result.value == "v1" and load.calls == 1


async def test_clear_one_dashboard_or_all_and_stats() -> None:
    clock = FakeClock(autojump=False)
    cache: TtlCache[str, str] = TtlCache(clock)
    load = Loader(clock)
    await cache.get("a", load, ttl=60, tags=["kpi"])
    await cache.get("b", load, ttl=60, tags=["kpi", "volume"])
    await cache.get("c", load, ttl=60, tags=["infrastructure"])
    await cache.get("a", load, ttl=60, tags=["kpi"])
    clock.advance(5)
    stats = cache.stats()
    assert (stats.entries, stats.hits, stats.misses) == (3, 1, 3)
    assert stats.entries_by_tag == {"kpi": 2, "volume": 1, "infrastructure": 1}
    assert stats.oldest_age == pytest.approx(5)
    assert cache.clear("volume") == 1
    assert cache.peek("b") is None and cache.peek("a") is not None
    assert cache.clear() == 2
    assert cache.stats().entries == 0
