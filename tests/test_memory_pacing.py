"""Garbage-collector pacing (issue 5, console latency at 50,000 mailboxes).

A refresh makes no reference cycles, so nothing needs CPython's automatic full
collections (each a 0.3–0.45 s pause at that size); the console runs them
between refreshes, at most every ``SWEEP_INTERVAL``, on the monitor's clock.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from portal_tui.engine import memory
from portal_tui.engine.memory import NO_AUTOMATIC_SWEEP, CollectionPacer, pace_collections
from support import rig


@pytest.fixture
def fresh_pacing() -> Iterator[None]:
    """No pacer installed, CPython's thresholds restored afterwards."""
    saved, thresholds = memory._pacer, gc.get_threshold()
    memory._pacer = None
    try:
        yield
    finally:
        memory._pacer = saved
        gc.set_threshold(*thresholds)


async def test_a_refresh_over_http_leaves_no_cyclic_garbage(tmp_path: Path) -> None:
    """httpx's Response and its stream refer to each other; the client breaks that,
    or every response (~38 objects) waits for a garbage collection to be freed.

    The timeouts are roomy: this is about a refresh that goes well. A busy
    machine would otherwise time an attempt out, and a cancelled attempt's
    exception and frames are garbage of another kind."""
    async with rig(tmp_path, http=True, attempt_timeout=60.0, request_deadline=120.0) as r:
        await r.monitor.refresh()  # first use: lazy imports, the pool, pydantic's schemas
        gc.collect()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            outcome = await r.monitor.refresh(force=True)
            gc.collect()
            garbage = Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.garbage)
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
    assert outcome is not None and outcome.requests_made > 10
    assert all(call.success for call in outcome.api_calls), "every request answered at once"
    assert not garbage, f"cyclic garbage from one refresh: {garbage.most_common(8)}"


def test_the_pacer_sweeps_after_a_cycle_at_most_once_per_interval() -> None:
    sweeps: list[float] = []
    now = 0.0

    def collect() -> int:
        sweeps.append(now)
        return 0

    pacer = CollectionPacer(interval=600.0, collect=collect)
    steps = [(0.0, False), (300.0, False), (599.0, False), (600.0, True), (900.0, False)]
    steps += [(1199.0, False), (1201.0, True)]
    for now, swept in steps:
        assert pacer.cycle_finished(now) is swept, now
    assert sweeps == [600.0, 1201.0] and pacer.sweeps == 2


def test_a_pacer_needs_a_positive_interval() -> None:
    with pytest.raises(ValueError, match="positive"):
        CollectionPacer(interval=0)


@pytest.mark.usefixtures("fresh_pacing")
def test_pacing_stops_automatic_full_collections_and_keeps_the_young_ones() -> None:
    young, middle, _ = gc.get_threshold()
    assert memory.cycle_finished(1e9) is False  # not paced: the monitor's call is a no-op
    pacer = pace_collections(interval=60.0)
    assert gc.get_threshold() == (young, middle, NO_AUTOMATIC_SWEEP)
    assert pace_collections() is pacer and pacer.interval == 60.0  # idempotent


@pytest.mark.usefixtures("fresh_pacing")
async def test_the_monitor_sweeps_on_its_own_clock(tmp_path: Path) -> None:
    swept: list[int] = []
    memory._pacer = CollectionPacer(interval=60.0, collect=lambda: swept.append(1) or 0)
    async with rig(tmp_path) as r:  # a FakeClock: nothing sleeps
        await r.monitor.refresh(force=True)  # starts the pacer's clock
        r.clock.advance(30)
        await r.monitor.refresh(force=True)
        assert swept == []
        r.clock.advance(31)
        await r.monitor.refresh(force=True)
        assert swept == [1]
