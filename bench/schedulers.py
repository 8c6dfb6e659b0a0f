"""Three ways to run one refresh's requests over the same client, cache and simulator.

- **sliding window** — portal-tui as shipped: every request is started and
  the fetcher's per-instance limiter lets ``concurrency`` run at once; the
  moment one finishes the next starts.
- **fixed batches of 5** — the portal's way: five requests, wait for all
  five, then the next five. Same fetcher (retries, breaker, limiter), so the
  only difference is the schedule. A sender-email collection is one request
  of its batch (its pages still run concurrently within the limiter).
- **sequential** — one request at a time, and the instance's concurrency
  set to 1 so that a collection's pages are one at a time too.

Each is a :class:`~portal_tui.engine.cycle.RefreshCycle` whose ``_fetch_planned``
differs; discovery, planning, the cache, the fetcher and the dashboards are
the product's own code.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from portal_tui.config import Config
from portal_tui.engine.cycle import RefreshCycle
from portal_tui.fetch.cache import CacheResult, TtlCache
from portal_tui.fetch.fetcher import CallContext, Fetched, Fetcher
from portal_tui.upstream.endpoints import RequestKey
from portal_tui.upstream.workspaces import WorkspaceRef
from portal_tui.vocabulary.clock import Clock

BATCH = 5

Plan = Mapping[RequestKey, tuple[WorkspaceRef, set[str]]]
Results = list[CacheResult[Fetched] | BaseException]


class Schedule(StrEnum):
    """The schedules compared."""

    SLIDING = "sliding window"
    BATCHES = "fixed batches of 5"
    SEQUENTIAL = "sequential"

    @property
    def concurrency(self) -> int | None:
        """Instance concurrency this schedule forces (None: the configured one)."""
        return 1 if self is Schedule.SEQUENTIAL else None


class FixedBatchCycle(RefreshCycle):
    """Requests in batches of :data:`BATCH`; a batch starts when the previous one ended."""

    async def _fetch_planned(self, plan: Plan, ctx: CallContext, force: bool) -> Results:
        items = list(plan.items())
        results: Results = []
        for start in range(0, len(items), BATCH):
            chunk = dict(items[start : start + BATCH])
            results.extend(await super()._fetch_planned(chunk, ctx, force))
        return results


class SequentialCycle(RefreshCycle):
    """One request at a time, in plan order."""

    async def _fetch_planned(self, plan: Plan, ctx: CallContext, force: bool) -> Results:
        results: Results = []
        for key, value in plan.items():
            results.extend(await super()._fetch_planned({key: value}, ctx, force))
        return results


def make_cycle(
    schedule: Schedule, config: Config, fetcher: Fetcher, cache: TtlCache[RequestKey, Fetched],
    clock: Clock,
) -> RefreshCycle:  # fmt: skip
    """A cold refresh cycle (no previous snapshots) running ``schedule``."""
    kind = {
        Schedule.SLIDING: RefreshCycle,
        Schedule.BATCHES: FixedBatchCycle,
        Schedule.SEQUENTIAL: SequentialCycle,
    }[schedule]
    return kind(config, fetcher, cache, clock, previous={}, failing_since={})
