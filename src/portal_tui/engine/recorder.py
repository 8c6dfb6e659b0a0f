"""Recording: a finished cycle's outcome into the records, and what follows from it.

:class:`CycleRecorder` judges the cycle's consistency, writes the cycle in
one transaction (the store counts each workspace's standing into its
hysteresis there, and claims alert events), records the verdict the cycle
ended on, prunes old records when due and delivers pending alerts. It never
changes what the faces read: the monitor hands the results to the
:class:`~portal_tui.engine.readmodel.DashboardState`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from portal_tui.config import Config, Secrets
from portal_tui.consistency import ConsistencyChecker
from portal_tui.consistency import Verdict as ConsistencyVerdict
from portal_tui.consistency.upstream import WINDOW as SLOW_WINDOW
from portal_tui.dashboards.snapshot import DashboardSnapshot
from portal_tui.engine.alert_delivery import AlertDelivery
from portal_tui.engine.memory import release_free_memory
from portal_tui.engine.recording import cycle_record
from portal_tui.engine.standing import HysteresisPolicy
from portal_tui.engine.verdict import Verdict
from portal_tui.store.consistency_records import ResponseTimes
from portal_tui.store.database import Store
from portal_tui.store.records import CycleRecord
from portal_tui.vocabulary.clock import Clock
from portal_tui.vocabulary.names import DashboardName

if TYPE_CHECKING:
    from portal_tui.engine.outcome import CycleOutcome
    from portal_tui.store.database import RecordedCycle

log = logging.getLogger(__name__)


class CycleRecorder:
    """Writes cycles, verdicts and alert deliveries to the records."""

    def __init__(
        self,
        config: Config,
        *,
        store: Store,
        clock: Clock,
        secrets: Secrets,
        consistency: ConsistencyChecker,
        hysteresis: HysteresisPolicy | None = None,
    ) -> None:
        self.config = config
        self._store = store
        self.consistency = consistency
        if hysteresis is None and config.alerts:
            # gatus-style thresholds: the alert targets' hysteresis (the strictest one).
            hysteresis = HysteresisPolicy(
                fail_after=max(a.failure_threshold for a in config.alerts),
                recover_after=max(a.success_threshold for a in config.alerts),
            )
        self.hysteresis = hysteresis or HysteresisPolicy()
        self.alerts = AlertDelivery(
            config.alerts, store=store, clock=clock, env=secrets.alert_urls(config)
        )
        """Delivers the records' alert events in the background (SPEC section 10)."""
        self._judging = asyncio.Lock()

    async def record(
        self, outcome: CycleOutcome, snapshots: Mapping[DashboardName, DashboardSnapshot]
    ) -> RecordedCycle:
        """Judge ``outcome``'s consistency against ``snapshots`` (every dashboard's latest)
        and record the cycle; the standing transitions it caused are in the result."""
        async with self._judging:  # verdicts apply in turn: each rule reads the last one's state
            await self.consistency.load(self._store)
            # The last hour's attempts before this cycle's (rule slow-upstream).
            since = outcome.finished_at - SLOW_WINDOW
            times = {t.instance: t for t in await self._store.response_times_since(since)}
            # The rules' digests and the snapshot text take ~1.5 s at 50,000 mailboxes:
            # a worker thread, so the loop (and a console sharing it) keeps running.
            verdict, record = await asyncio.to_thread(self._judge, outcome, snapshots, times)
            if verdict is not None:
                self.consistency.commit(verdict)
        recorded = await self._store.record(record)
        del record
        return recorded

    async def record_health(self, cycle_id: int, health: Verdict) -> None:
        """The verdict the recorded cycle ``cycle_id`` ended on."""
        await self._store.record_health(cycle_id, health.score, health.level, health.reasons)

    async def after_cycle(self) -> None:
        """Prune when due (at most once per 6 h per file; never raises) and start a
        background pass over the records' pending alert events (this cycle's and any
        left over): a dead webhook never delays the cycle."""
        await self._store.prune_if_due()
        self.alerts.kick()

    def _judge(
        self,
        outcome: CycleOutcome,
        snapshots: Mapping[DashboardName, DashboardSnapshot],
        response_times: Mapping[str, ResponseTimes],
    ) -> tuple[ConsistencyVerdict | None, CycleRecord]:
        """The consistency verdict and the cycle's record (runs in a worker thread: it reads
        the finished outcome and snapshots, which nothing changes any more)."""
        # The fetch has just replaced the old cache entries: hand their pages back before
        # this thread's own arena grows to hold the digests and the snapshot text.
        release_free_memory()
        if outcome.scope is not None:  # the rules judge whole cycles (engine/targeted.py)
            return None, cycle_record(outcome, self.config, hysteresis=self.hysteresis)
        verdict = self.consistency.evaluate(
            outcome, snapshots, self.config, response_times=response_times
        )
        record = cycle_record(
            outcome, self.config, consistency=verdict.record, hysteresis=self.hysteresis
        )
        return verdict, record
