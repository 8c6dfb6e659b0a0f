"""A TTL cache with single-flight loads and stale fallback.

Entries are keyed by request; each caller brings its own TTL (a KPI read is
fresh for 2 min, a Revenue read of the same stats for 5 min). Concurrent gets
of one key share one upstream call. When a load fails, the last good value is
served if it is younger than ``max_staleness``, flagged stale with its age and
the error; otherwise the error propagates. Entries are tagged with the
dashboards that read them so one dashboard's cache can be cleared alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from portal_tui.vocabulary.clock import Clock

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class CacheResult(Generic[V]):
    """A value and how it was obtained.

    ``stale`` is True only when a load failed and an older good value was
    served instead; ``error`` then says why the load failed.
    """

    value: V
    fetched_at: datetime
    age: float
    from_cache: bool
    stale: bool = False
    error: BaseException | None = None


@dataclass(slots=True)
class _Entry(Generic[V]):
    value: V
    fetched_at: datetime
    fetched_mono: float
    tags: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class CacheStats:
    """Counts for the console and ``check --json``."""

    entries: int
    hits: int
    misses: int
    stale_served: int
    in_flight: int
    oldest_age: float | None
    newest_age: float | None
    entries_by_tag: dict[str, int]


class TtlCache(Generic[K, V]):
    """Per-caller TTL, single-flight, stale-on-error cache on an injected clock."""

    def __init__(
        self,
        clock: Clock,
        *,
        max_staleness: float = 3600.0,
        fetched_at_of: Callable[[V], datetime | None] | None = None,
    ) -> None:
        self._clock = clock
        self._max_staleness = max_staleness
        # A loaded value may be older than its load (another process fetched it):
        # this says when, so its age and TTL run from then, not from the load.
        self._fetched_at_of = fetched_at_of
        self._entries: dict[K, _Entry[V]] = {}
        self._loading: dict[K, asyncio.Task[_Entry[V]]] = {}
        self.hits = 0
        self.misses = 0
        self.stale_served = 0

    async def get(
        self,
        key: K,
        loader: Callable[[], Awaitable[V]],
        *,
        ttl: float,
        force: bool = False,
        tags: Iterable[str] = (),
    ) -> CacheResult[V]:
        """The value for ``key``: cached if younger than ``ttl`` (unless ``force``), else loaded.

        Raises the loader's exception when it fails and no value younger than
        ``max_staleness`` exists.
        """
        entry = self._entries.get(key)
        now = self._clock.monotonic()
        if entry is not None:
            entry.tags.update(tags)
            # Never a hit older than max_staleness, whatever TTL the caller brings.
            if not force and now - entry.fetched_mono < min(ttl, self._max_staleness):
                self.hits += 1
                return CacheResult(entry.value, entry.fetched_at, now - entry.fetched_mono, True)
        self.misses += 1
        task = self._loading.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._load(key, loader, set(tags)))
            self._loading[key] = task
            # Retrieve the outcome even if every waiter was cancelled (no "never retrieved").
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
        try:
            # shield: one caller giving up must not cancel the load others wait on.
            stored = await asyncio.shield(task)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            fallback = self._entries.get(key)
            if fallback is not None:
                age = self._clock.monotonic() - fallback.fetched_mono
                if age <= self._max_staleness:
                    self.stale_served += 1
                    return CacheResult(
                        fallback.value, fallback.fetched_at, age, True, stale=True, error=exc
                    )
            raise
        # The entry the load made, not a lookup: a clear() between the load finishing
        # and this waiter resuming must not turn a good answer into a KeyError.
        stored.tags.update(tags)
        return CacheResult(
            stored.value, stored.fetched_at, self._clock.monotonic() - stored.fetched_mono, False
        )

    async def _load(self, key: K, loader: Callable[[], Awaitable[V]], tags: set[str]) -> _Entry[V]:
        try:
            value = await loader()
            previous = self._entries.get(key)
            if previous is not None:
                tags |= previous.tags
            now, mono = self._clock.now(), self._clock.monotonic()
            born = self._fetched_at_of(value) if self._fetched_at_of else None
            if born is not None and born < now:
                mono -= (now - born).total_seconds()
                now = born
            entry = _Entry(value, now, mono, tags)
            self._entries[key] = entry
            return entry
        finally:
            self._loading.pop(key, None)

    def peek(self, key: K) -> CacheResult[V] | None:
        """The cached value without loading or counting, or None."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        age = self._clock.monotonic() - entry.fetched_mono
        return CacheResult(entry.value, entry.fetched_at, age, True)

    def clear(self, tag: str | None = None) -> int:
        """Drop every entry, or only those read by dashboard ``tag``; returns how many."""
        if tag is None:
            count = len(self._entries)
            self._entries.clear()
            return count
        doomed = [k for k, e in self._entries.items() if tag in e.tags]
        for k in doomed:
            del self._entries[k]
        return len(doomed)

    def prune(self) -> int:
        """Drop entries older than ``max_staleness`` (they can no longer be served)."""
        now = self._clock.monotonic()
        doomed = [k for k, e in self._entries.items() if now - e.fetched_mono > self._max_staleness]
        for k in doomed:
            del self._entries[k]
        return len(doomed)

    def stats(self) -> CacheStats:
        """Entries, ages, hits, misses and in-flight loads."""
        now = self._clock.monotonic()
        ages = [now - e.fetched_mono for e in self._entries.values()]
        by_tag: dict[str, int] = {}
        for e in self._entries.values():
            for t in e.tags:
                by_tag[t] = by_tag.get(t, 0) + 1
        return CacheStats(
            entries=len(self._entries),
            hits=self.hits,
            misses=self.misses,
            stale_served=self.stale_served,
            in_flight=len(self._loading),
            oldest_age=max(ages) if ages else None,
            newest_age=min(ages) if ages else None,
            entries_by_tag=by_tag,
        )
