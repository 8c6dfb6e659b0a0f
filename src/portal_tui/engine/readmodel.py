"""The dashboards' state as the faces read it: a read model over the records.

:class:`DashboardState` holds the latest snapshot of each dashboard (restored
from SQLite, then replaced by each cycle), where its data came from, which
instances were unreachable, and the health records last read from the file.
The verdict, the failing workspaces and the trend are judged from those
records (:func:`~portal_tui.engine.verdict.judge`), never from this process's
memory, so every process reading the file tells the same truth.
Nothing here does network I/O; reading the records is one query.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from portal_tui.config import Config
from portal_tui.dashboards.registry import dashboard_for, ttl_of
from portal_tui.dashboards.snapshot import DashboardSnapshot
from portal_tui.engine.verdict import Verdict, judge
from portal_tui.store.database import Store
from portal_tui.store.health_records import TREND_CYCLES, HealthRecords, RecordedHealth
from portal_tui.store.records import WorkspaceState
from portal_tui.vocabulary.clock import Clock
from portal_tui.vocabulary.freshness import Freshness
from portal_tui.vocabulary.names import DashboardName

if TYPE_CHECKING:
    from portal_tui.engine.outcome import CycleOutcome

NO_RECORDS = HealthRecords((), (), (), 0, {}, (), None)
"""What the verdict reads before the records have been read."""

FailingKey = tuple[str, int | None, DashboardName]
"""(instance, workspace id or None for the whole instance, dashboard)."""


class DashboardState:
    """Snapshots, their freshness, and the verdict of the records as last read."""

    def __init__(self, config: Config, clock: Clock) -> None:
        self.config = config
        self._clock = clock
        self.snapshots: dict[DashboardName, DashboardSnapshot] = {}
        self.sources: dict[str, dict[str, int]] = {}
        """Per dashboard, where its last refresh's requests came from: ``here``,
        ``shared`` (another process, through the shared tier), ``cache``, ``failed``."""
        self.unreachable: dict[str, str] = {}
        """Instances the last cycle could not reach, with why."""
        self.last_outcome: CycleOutcome | None = None
        """The last cycle's outcome, with ``results`` and ``api_calls`` left empty."""
        self.restored_health: RecordedHealth | None = None
        """The verdict the last recorded cycle ended on, until this process records its own."""
        self.failing_since: dict[FailingKey, datetime] = {}
        """First failure of each current streak (the next cycle's failures carry it)."""
        self._records: HealthRecords | None = None

    # -- writing (by the monitor, after a cycle or a read) ------------------------------

    async def restore(self, store: Store) -> list[DashboardName]:
        """The last recorded verdict and snapshots; the dashboards restored, in order."""
        await self.reload(store)
        if self._records is not None:
            self.restored_health = self._records.last_recorded
        restored: list[DashboardName] = []
        for name, record in (await store.load_snapshots()).items():
            try:
                board = dashboard_for(name)  # a dashboard no longer registered: KeyError
                snap = DashboardSnapshot.loads(record.payload, board.row_model)
            except (ValueError, KeyError, TypeError):
                continue  # an old or damaged snapshot is skipped; the next refresh replaces it
            self.snapshots[snap.name] = snap
            restored.append(snap.name)
        return restored

    async def reload(self, store: Store) -> Verdict:
        """Read the records again (other processes may have written) and judge them now."""
        self._records = await store.health_records(self._clock.now())
        return self.health()

    def absorb(self, outcome: CycleOutcome) -> None:
        """A finished cycle's snapshots replace the last ones; failure streaks move on."""
        self.snapshots.update(outcome.snapshots)
        if outcome.scope is None:  # a targeted cycle's few requests do not describe a dashboard
            self.sources.update(outcome.sources)
        if outcome.scope is not None:  # a targeted cycle saw only its instances
            keep = {k: v for k, v in self.unreachable.items() if k not in outcome.scope.instances}
        else:
            keep = {}
        self.unreachable = keep | {k: v.message for k, v in outcome.unreachable.items()}
        for snap in outcome.snapshots.values():
            failing_now = {(f.instance, f.workspace_id, f.dashboard) for f in snap.failures}
            for key in failing_now:
                self.failing_since.setdefault(key, outcome.finished_at)
            for key in [
                k for k in self.failing_since if k[2] == snap.name and k not in failing_now
            ]:
                del self.failing_since[key]

    def seed_failing_since(self) -> None:
        """\"Failing since\" is the first failure of the current streak, whoever recorded it."""
        for standing in self._records.standings if self._records else ():
            if standing.failing_since is None:
                continue
            for board in standing.dashboards:
                with contextlib.suppress(ValueError):
                    key = (standing.instance, standing.workspace_id, DashboardName(board))
                    self.failing_since.setdefault(key, standing.failing_since)

    def count_in_trend(self, health: Verdict, *, record_at: datetime) -> None:
        """This process recorded ``health``: add it to the records last read, as a read now
        would (and as the next reload will); the restored verdict is superseded."""
        self.restored_health = None
        if self._records is not None:
            self._records = replace(
                self._records,
                trend=(*self._records.trend, health.score)[-TREND_CYCLES:],
                last_recorded=RecordedHealth(
                    record_at, health.score, health.level, health.reasons
                ),
            )

    # -- reading ------------------------------------------------------------------------

    def ttl(self, name: DashboardName) -> float:
        """The dashboard's TTL in seconds."""
        return ttl_of(self.config, name)

    def freshness(self, name: DashboardName, *, refreshing: bool = False) -> Freshness:
        """State, overlays and age of one dashboard now."""
        snap = self.snapshots.get(name)
        now = self._clock.now()
        if snap is None:
            return Freshness.of(None, now, self.ttl(name), refreshing=refreshing)
        return Freshness.of(
            snap.fetched_at,
            now,
            self.ttl(name),
            refreshing=refreshing,
            warning=bool(snap.warnings or snap.issues),
            error=snap.error is not None,
        )

    def health(self) -> Verdict:
        """The verdict of the records as last read, judged now (cheap: no I/O)."""
        return judge(self._records or NO_RECORDS, self._clock.now())

    def failing_workspaces(
        self, health: Verdict | None = None
    ) -> list[tuple[str, str, WorkspaceState]]:
        """Workspaces the records call FAILING (after hysteresis), longest-failing first."""
        verdict = health or self.health()
        failing = WorkspaceState.FAILING
        return [(f.instance, f.workspace, failing) for f in verdict.failing if f.confirmed]

    @property
    def health_trend(self) -> tuple[int, ...]:
        """The health score of the last recorded cycles (any process's), oldest first."""
        return self._records.trend if self._records else ()
