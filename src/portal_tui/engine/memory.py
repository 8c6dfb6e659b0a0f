"""Keeping glibc's heap from holding what the core has freed (issue 5, peak RSS).

A full refresh at 50,000 mailboxes allocates and frees a few hundred MB of
transient payloads; the consistency digests and the cycle's record are built
in a worker thread, and aiosqlite writes from its own. glibc raises its mmap
threshold after the first big free (so later big blocks fragment the heap),
gives those threads their own arenas (memory freed in one cannot serve
another) and keeps freed pages resident until something trims them.
:func:`tune_allocator` (at start-up) and :func:`release_free_memory` (after
each cycle's big phases) counter that; both are no-ops where the C library
is not glibc (musl, macOS, Windows).

The garbage collector is paced too (:func:`pace_collections`): at 50,000
mailboxes a full collection walks ~325,000 objects (0.3–0.45 s here, with
the GIL held, so the console freezes), CPython starts one whenever objects
surviving into the oldest generation grow by a quarter (five in every
refresh), and each found nothing to free. The core makes no reference cycles
of its own in steady state (tests/test_memory_release.py holds it to that), so
full collections run on the process's schedule instead: after a cycle, at
most every :data:`SWEEP_INTERVAL`. Young collections (which cost
milliseconds and catch short-lived cycles) are unchanged.

The screen does make cycles that outlive the young generations: every frame
Textual draws leaves ``Strip`` objects that hold themselves in their own crop
caches (seven caches each), and styles made for a component class hold their
node. With no refresh running nothing swept them: ~0.25 MB per pane switch in
a real terminal, without bound (BENCHMARKS.md item 32). So between cycles the
console calls :func:`between_cycles` once a second, which sweeps once Python's
live blocks have grown by :data:`SWEEP_GROWTH` since the last sweep, the rule
CPython's own full collections follow.

A sweep walks every object the collector tracks: ~0.4 s in a 200-workspace
console, ~1.5 s at 1,000 (BENCHMARKS.md item 33), a pause no key should meet.
So the console also *freezes* (:func:`gc.freeze`, which only relinks lists)
what survives each cycle: its snapshots, the records' rows, Textual's widgets.
A frozen object is still freed by its reference count (a replaced snapshot
is: the core makes no cycles, and the console keeps none in one, as
tests/test_memory_pacing.py checks), but no sweep walks it, so a sweep
between cycles walks only what was made since the last cycle. Sweeping what
a cycle made before freezing it would cost the same ~1.5 s, so that is not
done: the frames' garbage made while a cycle ran (and what froze while in a
cycle and died later) waits for a full sweep, which thaws everything first:
the first moment the operator has pressed nothing for :data:`QUIET_AFTER`
seconds with no cycle running, or after a cycle at most every
:data:`SWEEP_INTERVAL`, whichever comes first."""

from __future__ import annotations

import functools
import gc
import os
import sys
from collections.abc import Callable
from typing import Any

M_MMAP_THRESHOLD = -3  # from glibc's <malloc.h>


@functools.cache
def _glibc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    import ctypes  # here: ~5 ms that the ``check`` path's start-up need not pay

    try:
        libc = ctypes.CDLL(None)  # the C library this process already runs on
    except OSError:
        return None
    if not hasattr(libc, "malloc_trim") or not hasattr(libc, "mallopt"):
        return None  # not glibc
    libc.malloc_trim.argtypes = [ctypes.c_size_t]
    libc.malloc_trim.restype = ctypes.c_int
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.mallopt.restype = ctypes.c_int
    return libc


def release_free_memory() -> bool:
    """Return the heap's free pages to the OS (``malloc_trim(0)``); True if any were.

    Takes a few milliseconds on a heap of a few hundred MB; it walks every
    arena, so one call from any thread trims them all.
    """
    libc = _glibc()
    return bool(libc.malloc_trim(0)) if libc is not None else False


def tune_allocator(mmap_threshold: int = 128 * 1024) -> bool:
    """At start-up: a fixed mmap threshold; True if the C library took it.

    (Capping arenas too, ``M_ARENA_MAX``, measured no better once this is set.)

    Every block of at least ``mmap_threshold`` bytes (snapshot text, lists
    of 50,000 rows, big response bodies) then gets its own mapping, unmapped
    on free. Left dynamic, glibc raises the threshold after the first big
    free, and such blocks then fragment the heap for good. An operator's
    ``MALLOC_MMAP_THRESHOLD_`` is left as it is.
    """
    if mmap_threshold < 1:
        raise ValueError("mmap_threshold must be positive")
    libc = _glibc()
    if libc is None or os.environ.get("MALLOC_MMAP_THRESHOLD_"):
        return False
    return bool(libc.mallopt(M_MMAP_THRESHOLD, mmap_threshold))


class Freezer:
    """Moves what the collector tracks out of its reach and back: :func:`gc.freeze`.

    Both only relink the collector's lists (microseconds, whatever the heap
    holds); the young generations (a few thousand objects) are swept first, so a
    cycle's short-lived garbage is not frozen. Tests give a pacer their own.
    """

    def freeze(self) -> None:
        gc.collect(1)
        gc.freeze()

    def thaw(self) -> None:
        gc.unfreeze()


SWEEP_INTERVAL = 600.0
"""Seconds between full collections once paced: at most one ~0.4 s pause (50,000
mailboxes) every 10 minutes, after a refresh, never in the middle of one."""

QUIET_AFTER = 3.0
"""Seconds without a key or a click after which the console's operator is reading:
a full sweep owed since the last cycle runs then (~1.5 s at 1,000 workspaces)."""

SWEEP_GROWTH = 0.25
"""Between cycles: a sweep once live blocks grew by this share since the last."""

SWEEP_MIN_BLOCKS = 50_000
"""...and by at least this many blocks (~3 MB), so a small heap is not swept for a few."""

NO_AUTOMATIC_SWEEP = 1 << 30
"""The oldest generation's threshold once paced: CPython never reaches it."""


class CollectionPacer:
    """Full garbage collections after a cycle, at most every ``interval`` seconds.

    ``now`` is the caller's monotonic time (the monitor's injected clock), so
    tests drive it without sleeping; ``collect`` is :func:`gc.collect`.
    """

    def __init__(
        self,
        interval: float = SWEEP_INTERVAL,
        collect: Callable[[], int] = gc.collect,
        blocks: Callable[[], int] = sys.getallocatedblocks,
        freezer: Freezer | None = None,
    ) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self.interval = interval
        self._collect = collect
        self._blocks = blocks
        self.freezer = freezer
        """Set (the console's): a cycle's survivors are frozen, a full sweep thaws first."""
        self._last: float | None = None
        self._frozen_unswept = False
        """Something froze without a full sweep first: the frames' garbage of a cycle."""
        self._baseline = blocks()
        """Live blocks just after the last sweep (or at start-up)."""
        self.sweeps = 0

    def cycle_finished(self, now: float) -> bool:
        """A cycle has finished at ``now``; sweep if one is due. True if it swept.

        With a freezer (the console), every cycle's end freezes what is not frozen
        yet (the cycle's survivors, after a sweep of the young generations); when a
        full sweep is due it thaws everything first and freezes after.
        """
        due = self._last is not None and now - self._last >= self.interval
        if self._last is None:
            self._last = now  # the first cycle starts the clock
        if due:
            self._full_sweep(now)
        elif self.freezer is not None:
            self.freezer.freeze()
            self._frozen_unswept = True
        return due

    def between_cycles(self, now: float, quiet: bool = False) -> bool:
        """No cycle is running: sweep if live blocks grew enough since the last sweep.

        ``quiet`` (the operator has pressed nothing for :data:`QUIET_AFTER`
        seconds): if a cycle froze without a full sweep, the full sweep runs now,
        while nobody waits for a key, instead of at most ten minutes later.

        Read between cycles, live blocks are what is kept plus cyclic garbage: a
        refresh's transient payloads are gone by then (freed by reference count),
        and in steady state its snapshots replace the last ones. So a refresh
        alone seldom trips this (the first one, from an empty heap, does once);
        the frames' garbage does, which is what it is for."""
        if quiet and self._frozen_unswept:
            self._full_sweep(now)
            return True
        grown = self._blocks() - self._baseline
        if grown < max(SWEEP_MIN_BLOCKS, self._baseline * SWEEP_GROWTH):
            return False
        if self.freezer is None:
            self._last = now  # a full sweep: the next cycle's is not due for an interval
        self._sweep()
        return True

    def _full_sweep(self, now: float) -> None:
        """Every object, what froze before too (thawed first, frozen again after)."""
        if self.freezer is not None:
            self.freezer.thaw()
        self._last = now
        self._sweep()
        if self.freezer is not None:
            self.freezer.freeze()
            self._frozen_unswept = False

    def _sweep(self) -> None:
        self._collect()
        self._baseline = self._blocks()
        self.sweeps += 1


_pacer: CollectionPacer | None = None


def pace_collections(interval: float = SWEEP_INTERVAL, *, freeze: bool = False) -> CollectionPacer:
    """At start-up of a long-running process: full collections only from :func:`cycle_finished`.

    Keeps CPython's young thresholds. Idempotent: a second call returns the
    installed pacer; ``freeze`` (the console's) turns freezing survivors on
    for it (see the module's docstring), and it stays on.
    """
    global _pacer
    if _pacer is None:
        young, middle, _ = gc.get_threshold()
        gc.set_threshold(young, middle, NO_AUTOMATIC_SWEEP)
        _pacer = CollectionPacer(interval)
    if freeze and _pacer.freezer is None:
        _pacer.freezer = Freezer()
    return _pacer


def between_cycles(now: float, busy: bool = False, quiet: bool = False) -> bool:
    """Called by the console once a second (``busy`` while a cycle runs: no sweep then,
    the cycle's end has its own; ``quiet``: see :meth:`CollectionPacer.between_cycles`);
    True if it swept: the frames' garbage (see above)."""
    if _pacer is None or busy:
        return False
    return _pacer.between_cycles(now, quiet)


def cycle_finished(now: float) -> bool:
    """Called by the monitor after each cycle; sweeps if paced and due. True if it swept."""
    return _pacer.cycle_finished(now) if _pacer is not None else False
