"""Garbage-collector pacing (issue 5, console latency at 50,000 mailboxes).

A refresh makes no reference cycles, so nothing needs CPython's automatic full
collections (each a 0.3–0.45 s pause at that size); the console runs them
between refreshes, at most every ``SWEEP_INTERVAL``, on the monitor's clock.
"""

from __future__ import annotations

import gc
import sys
import weakref
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from console_scenario import drive, running_console, settle, until
from portal_tui.engine import memory
from portal_tui.engine.memory import NO_AUTOMATIC_SWEEP, CollectionPacer, pace_collections
from portal_tui.simulator import LatencyModel
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


class _Heap:
    """Live blocks as the test sets them; a sweep frees all but ``live``; counts sweeps."""

    def __init__(self, blocks: int) -> None:
        self.blocks = self.live = blocks
        self.swept = 0

    def collect(self) -> int:
        freed, self.blocks = self.blocks - self.live, self.live
        self.swept += 1
        return freed


def test_between_cycles_a_sweep_once_live_blocks_grew_by_a_quarter() -> None:
    """Pane switches leave cyclic garbage in the oldest generation (Textual's strips):
    with no cycle running, nothing else would ever sweep it (BENCHMARKS.md item 32)."""
    heap = _Heap(1_000_000)
    pacer = CollectionPacer(interval=600.0, collect=heap.collect, blocks=lambda: heap.blocks)
    heap.blocks += 249_999
    assert pacer.between_cycles(1.0) is False
    heap.blocks += 1
    heap.live = 1_100_000  # 100,000 of them are kept, the rest was garbage
    assert pacer.between_cycles(2.0) is True and heap.swept == 1
    heap.blocks += 274_999  # what the sweep left is the new baseline
    assert pacer.between_cycles(3.0) is False
    heap.blocks += 1
    assert pacer.between_cycles(4.0) is True and heap.swept == 2
    small = _Heap(10_000)  # a small heap: at least SWEEP_MIN_BLOCKS of growth
    pacer = CollectionPacer(collect=small.collect, blocks=lambda: small.blocks)
    small.blocks += memory.SWEEP_MIN_BLOCKS - 1
    assert pacer.between_cycles(1.0) is False
    small.blocks += 1
    assert pacer.between_cycles(2.0) is True


def test_a_sweep_after_a_cycle_also_resets_the_baseline() -> None:
    heap = _Heap(1_000_000)
    pacer = CollectionPacer(interval=60.0, collect=heap.collect, blocks=lambda: heap.blocks)
    pacer.cycle_finished(0.0)
    heap.blocks = 2_000_000
    heap.live = 1_500_000  # the new snapshot, kept; the rest garbage
    assert pacer.cycle_finished(60.0) is True
    heap.blocks += 374_999
    assert pacer.between_cycles(61.0) is False and heap.swept == 1
    heap.blocks += 1
    assert pacer.between_cycles(62.0) is True and heap.swept == 2


class _Freezer:
    """Records what the pacer asked, in order, with the sweeps between."""

    def __init__(self, log: list[str]) -> None:
        self.log = log

    def freeze(self) -> None:
        self.log.append("freeze")

    def thaw(self) -> None:
        self.log.append("thaw")


def test_freezing_a_cycle_s_survivors_and_thawing_them_for_the_full_sweep() -> None:
    """The console's pacer: every cycle's end freezes what is not frozen (no later
    sweep walks it); the full sweep, at most every interval, thaws everything first
    and freezes after. A sweep between cycles walks only what is not frozen, so it
    does not put the next full sweep off."""
    log: list[str] = []
    heap = _Heap(1_000_000)

    def collect() -> int:
        log.append("sweep")
        return heap.collect()

    pacer = CollectionPacer(
        interval=60.0, collect=collect, blocks=lambda: heap.blocks, freezer=_Freezer(log)
    )
    assert pacer.cycle_finished(0.0) is False and log == ["freeze"]
    assert pacer.cycle_finished(30.0) is False and log == ["freeze"] * 2
    log.clear()
    heap.blocks = 2_000_000
    assert pacer.between_cycles(50.0) is True and log == ["sweep"]
    log.clear()
    assert pacer.cycle_finished(60.0) is True, "the sweep at 50 s was not a full one"
    assert log == ["thaw", "sweep", "freeze"]
    log.clear()
    assert pacer.cycle_finished(90.0) is False and log == ["freeze"]
    log.clear()
    assert pacer.between_cycles(91.0, quiet=True) is True, "the operator is reading: sweep now"
    assert log == ["thaw", "sweep", "freeze"]
    log.clear()
    assert pacer.between_cycles(92.0, quiet=True) is False and log == [], "nothing owed"
    assert pacer.cycle_finished(150.0) is False, "that full sweep restarted the interval"


@pytest.mark.usefixtures("fresh_pacing")
def test_only_the_console_freezes() -> None:
    assert pace_collections().freezer is None  # check, watch, export: nothing frozen
    assert pace_collections(freeze=True).freezer is not None
    assert pace_collections().freezer is not None  # it stays on


@pytest.mark.usefixtures("fresh_pacing")
def test_between_cycles_is_a_no_op_unpaced_or_while_a_cycle_runs() -> None:
    assert memory.between_cycles(1.0) is False
    heap = _Heap(0)
    memory._pacer = CollectionPacer(collect=heap.collect, blocks=lambda: heap.blocks)
    heap.blocks = 10 * memory.SWEEP_MIN_BLOCKS
    assert memory.between_cycles(1.0, busy=True) is False and heap.swept == 0
    assert memory.between_cycles(2.0) is True and heap.swept == 1


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle, as a Strip cached in its own crop cache


@pytest.mark.usefixtures("fresh_pacing")
def test_paced_old_cyclic_garbage_is_freed_between_cycles_and_only_then() -> None:
    pace_collections()
    nodes = [_Node() for _ in range(max(memory.SWEEP_MIN_BLOCKS, sys.getallocatedblocks() // 3))]
    gc.collect(1)  # they survive the young generations: now in the oldest, as a frame's strips
    probe = weakref.ref(nodes[0])
    del nodes
    gc.collect(1)
    assert probe() is not None, "paced: young collections never reach it"
    assert memory.between_cycles(1.0) is True
    assert probe() is None


@pytest.mark.usefixtures("fresh_pacing")
async def test_the_console_sweeps_on_its_tick_only_with_no_refresh_running(
    tmp_path: Path,
) -> None:
    heap = _Heap(0)
    memory._pacer = CollectionPacer(collect=heap.collect, blocks=lambda: heap.blocks)
    latency = LatencyModel.fixed(5.0)  # on the FakeClock: in flight until the test advances it
    async with running_console(tmp_path / "c.db", latency=latency) as (app, pilot, runtime, clock):
        assert runtime.monitor.refreshing
        heap.blocks = 10 * memory.SWEEP_MIN_BLOCKS
        app.tick()
        assert heap.swept == 0, "never in the middle of a refresh"
        runtime.simulator.latency = None
        await drive(pilot, clock, step=5)
        assert not runtime.monitor.refreshing
        app.tick()
        assert heap.swept == 1


@pytest.mark.usefixtures("fresh_pacing")
async def test_the_console_owes_its_full_sweep_until_the_operator_is_quiet(
    tmp_path: Path,
) -> None:
    """After a cycle froze the frames' garbage, the console's tick sweeps everything
    once no key was pressed for QUIET_AFTER seconds, never while keys come."""
    log: list[str] = []
    heap = _Heap(0)
    memory._pacer = CollectionPacer(
        collect=lambda: log.append("sweep") or 0, blocks=lambda: heap.blocks,
        freezer=_Freezer(log),
    )  # fmt: skip
    async with running_console(tmp_path / "c.db") as (app, pilot, _, clock):
        await pilot.press("2")  # the operator at work (the monitor's clock does not move)
        log.clear()
        app.start_refresh(None, force=True, triggered_by="manual")
        await drive(pilot, clock)
        assert log == ["freeze"], "the cycle's end freezes, it does not sweep"
        log.clear()
        app.tick()
        clock.advance(memory.QUIET_AFTER / 2)
        await pilot.press("1")
        app.tick()
        clock.advance(memory.QUIET_AFTER - 0.1)
        app.tick()
        assert log == [], "a key within the last few seconds: no pause now"
        clock.advance(0.1)
        app.tick()
        assert log == ["thaw", "sweep", "freeze"]
        clock.advance(10.0)
        app.tick()
        assert log == ["thaw", "sweep", "freeze"], "owed once"


async def test_the_console_keeps_no_replaced_snapshot_in_a_reference_cycle(
    tmp_path: Path,
) -> None:
    """What the console made from a snapshot is freed by reference count once it is
    replaced: a frozen survivor (the console's pacer) is walked by no sweep but a
    full one, so an old snapshot held in a cycle would stay until then. Textual
    keeps a finished worker (and its arguments) in a cycle: the mailbox rows' worker
    must not keep the snapshot it was handed."""
    async with running_console(tmp_path / "c.db", size=(120, 40)) as (app, pilot, _, clock):
        await pilot.press("5")  # Infrastructure: its mailbox rows are built in a worker
        pane = app.current_pane()
        await until(pilot, lambda: pane.mailbox_generation >= 1, "mailbox rows")
        gc.collect()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            for _ in range(2):
                shown = pane.mailbox_generation
                app.start_refresh(None, force=True, triggered_by="manual")
                await drive(pilot, clock)
                await settle(pilot)
                await until(pilot, lambda s=shown: pane.mailbox_generation > s, "new mailbox rows")
            gc.collect()
            ours = Counter(
                type(o).__qualname__
                for o in gc.garbage
                if type(o).__module__.startswith(("portal_tui", "pydantic"))
            )
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
    assert not ours, f"the console's cyclic garbage held: {ours.most_common(8)}"
