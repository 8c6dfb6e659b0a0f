"""Cache hit latency: ``await cache.get(...)`` for a key that is fresh in the cache.

Each sample times one awaited hit with ``perf_counter_ns`` on the real
clock, against a cache holding as many entries as a 1,000-workspace refresh
(7,000); the figure is the p99 of one run's samples, over several runs.
"""

from __future__ import annotations

import gc
import time

from bench.stats import percentile
from portal_tui.fetch.cache import TtlCache
from portal_tui.upstream.endpoints import Endpoint, RequestKey
from portal_tui.vocabulary.clock import SystemClock

ENTRIES = 7_000


async def _hits(samples: int) -> list[float]:
    cache: TtlCache[RequestKey, int] = TtlCache(SystemClock())
    keys = [
        RequestKey(
            "bench", 1 + i // 7, Endpoint.STATS, (("start_date", f"2026-11-{i % 7 + 1:02d}"),)
        )
        for i in range(ENTRIES)
    ]

    async def load() -> int:
        return 1

    for key in keys:
        await cache.get(key, load, ttl=600.0, tags=("kpi",))
    out: list[float] = []
    perf = time.perf_counter_ns
    gc.collect()
    for i in range(samples):
        key = keys[(i * 7919) % ENTRIES]
        start = perf()
        result = await cache.get(key, load, ttl=600.0, tags=("kpi",))
        out.append((perf() - start) / 1000.0)
        assert result.from_cache
    return out


async def cache_hit_percentiles(samples: int = 100_000) -> dict[str, float]:
    """p50, p99 and max of ``samples`` cache hits, in microseconds."""
    values = await _hits(samples)
    return {
        "p50": percentile(values, 50),
        "p99": percentile(values, 99),
        "max": max(values),
    }
