"""The monitor's three jobs, each on its own (issue 15 item 6): scheduling and joining
refreshes, the dashboards' read model, recording; and the frozen view the faces draw."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from portal_tui.config import Config, InstanceConfig, Secrets
from portal_tui.consistency import ConsistencyChecker
from portal_tui.dashboards.snapshot import DashboardSnapshot, WorkspaceFailure
from portal_tui.engine.events import MonitorEvent, RefreshFinished, RefreshStarted
from portal_tui.engine.outcome import CycleOutcome
from portal_tui.engine.readmodel import DashboardState
from portal_tui.engine.recorder import CycleRecorder
from portal_tui.engine.scheduler import RefreshScheduler
from portal_tui.engine.standing import HysteresisPolicy
from portal_tui.store.database import Store
from portal_tui.vocabulary.clock import FakeClock
from portal_tui.vocabulary.freshness import FreshnessState, Overlay
from portal_tui.vocabulary.names import DashboardName
from support import rig

KPI, VOLUME, REVENUE = DashboardName.KPI, DashboardName.VOLUME, DashboardName.REVENUE
T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def _config() -> Config:
    return Config(
        instances=[
            InstanceConfig(name="sim", base_url="http://sim.local/api", master_token_env="M")
        ]
    )


class _Gated:
    """A cycle runner whose cycles end when the test opens their gate."""

    def __init__(self, scheduler_emit: list[MonitorEvent]) -> None:
        self.started: list[tuple[DashboardName, ...]] = []
        self.gates: list[asyncio.Event] = []
        self.events = scheduler_emit

    async def __call__(
        self, names: list[DashboardName], force: bool, triggered_by: str, scope: object = None
    ) -> CycleOutcome:
        gate = asyncio.Event()
        self.started.append(tuple(names))
        self.gates.append(gate)
        await gate.wait()
        return CycleOutcome(tuple(names), triggered_by, T0, T0)


async def _until(condition: object, what: str) -> None:
    for _ in range(200):
        if callable(condition) and condition():
            return
        await asyncio.sleep(0)
    raise AssertionError(f"never: {what}")


async def test_a_refresh_of_a_dashboard_already_refreshing_joins_its_cycle() -> None:
    events: list[MonitorEvent] = []
    runner = _Gated(events)
    scheduler = RefreshScheduler(runner, events.append)
    first = asyncio.ensure_future(scheduler.refresh([KPI, VOLUME]))
    await _until(lambda: runner.started, "the first cycle started")
    assert scheduler.refreshing == {KPI, VOLUME}
    joined = asyncio.ensure_future(scheduler.refresh([KPI]))  # wholly in flight: joins
    both = asyncio.ensure_future(scheduler.refresh([VOLUME, REVENUE]))  # REVENUE is new
    await _until(lambda: len(runner.started) == 2, "a cycle for the new dashboard only")
    assert runner.started == [(KPI, VOLUME), (REVENUE,)]
    assert scheduler.refreshing == {KPI, VOLUME, REVENUE}
    runner.gates[0].set()
    outcome = await first
    assert outcome is not None and outcome.dashboards == (KPI, VOLUME)
    assert (await joined) is outcome
    assert not both.done()  # it also waits for the cycle it joined... and its own
    runner.gates[1].set()
    own = await both
    assert own is not None and own.dashboards == (REVENUE,)
    assert scheduler.refreshing == set()
    assert [type(e) for e in events] == [
        RefreshStarted,
        RefreshStarted,
        RefreshFinished,
        RefreshFinished,
    ]


async def test_a_finished_cycle_is_announced_once_it_no_longer_counts_as_refreshing() -> None:
    seen: list[set[DashboardName]] = []
    scheduler: RefreshScheduler

    def listen(event: MonitorEvent) -> None:
        if isinstance(event, RefreshFinished):
            seen.append(set(scheduler.refreshing))

    runner = _Gated([])
    scheduler = RefreshScheduler(runner, listen)
    task = asyncio.ensure_future(scheduler.refresh([KPI]))
    await _until(lambda: runner.gates, "started")
    runner.gates[0].set()
    await task
    assert seen == [set()]


async def test_a_caller_giving_up_leaves_the_cycle_running_and_cancel_all_ends_it() -> None:
    runner = _Gated([])
    scheduler = RefreshScheduler(runner, lambda _e: None)
    caller = asyncio.ensure_future(scheduler.refresh([KPI]))
    await _until(lambda: runner.gates, "started")
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert scheduler.refreshing == {KPI}  # the cycle goes on without its caller
    await scheduler.cancel_all()
    assert scheduler.refreshing == set()


def _failure(name: DashboardName, at: datetime) -> WorkspaceFailure:
    return WorkspaceFailure(
        instance="sim",
        workspace="Acme",
        workspace_id=2,
        dashboard=name,
        error_type="http",
        status_code=503,
        attempts=4,
        message="Service Unavailable",
        request="stats",
        since=at,
        last_at=at,
    )


def _outcome(at: datetime, *, failing: bool) -> CycleOutcome:
    snap = DashboardSnapshot(name=KPI, refreshed_at=at, fetched_at=at)
    if failing:
        snap.failures.append(_failure(KPI, at))
    outcome = CycleOutcome((KPI,), "manual", at, at, snapshots={KPI: snap})
    outcome.workspace_names[("sim", 2)] = "Acme"
    outcome.workspace_failures[("sim", 2)] = {KPI} if failing else set()
    return outcome


def test_the_read_model_keeps_the_first_failure_of_a_streak_and_forgets_it_on_recovery() -> None:
    clock = FakeClock(T0)
    state = DashboardState(_config(), clock)
    assert state.freshness(KPI).state is FreshnessState.NO_DATA
    assert state.health().status == "UNKNOWN"  # never OK before the records say so
    state.absorb(_outcome(T0, failing=True))
    later = T0 + timedelta(minutes=2)
    state.absorb(_outcome(later, failing=True))
    assert state.failing_since == {("sim", 2, KPI): T0}
    assert state.snapshots[KPI].refreshed_at == later
    assert Overlay.REFRESHING in state.freshness(KPI, refreshing=True).overlays
    state.absorb(_outcome(later + timedelta(minutes=2), failing=False))
    assert state.failing_since == {}


async def test_recording_counts_standing_into_the_records_and_the_read_model_reads_it(
    tmp_path: Path,
) -> None:
    clock = FakeClock(T0)
    store = await Store.open(tmp_path / "r.db", clock=clock)
    try:
        config = _config()
        recorder = CycleRecorder(
            config,
            store=store,
            clock=clock,
            secrets=Secrets({}),
            consistency=ConsistencyChecker(rules=[]),
            hysteresis=HysteresisPolicy(fail_after=2, recover_after=1),
        )
        state = DashboardState(config, clock)
        transitions = []
        for n in range(2):
            clock.advance(60)
            outcome = _outcome(clock.now(), failing=True)
            state.absorb(outcome)
            recorded = await recorder.record(outcome, state.snapshots)
            transitions += recorded.transitions
            health = await state.reload(store)
            await recorder.record_health(recorded.cycle_id, health)
            state.count_in_trend(health, record_at=outcome.finished_at)
            assert len(state.health_trend) == n + 1
        assert [(t.workspace, t.to_state.value) for t in transitions] == [("Acme", "failing")]
        # A second read model on the same file (another process) tells the same truth.
        other = DashboardState(config, clock)
        await other.restore(store)
        assert other.failing_workspaces() == state.failing_workspaces()
        assert [f[1] for f in other.failing_workspaces()] == ["Acme"]
        assert other.restored_health is not None
        assert other.health() == state.health()
    finally:
        await store.close()


async def test_a_view_is_frozen_and_does_not_follow_the_monitor(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        await r.monitor.refresh([KPI])
        view = r.monitor.view()
        before = view.snapshot(KPI)
        assert before is not None
        with pytest.raises(dataclasses.FrozenInstanceError):
            view.health = view.health  # type: ignore[misc]
        with pytest.raises(TypeError):
            view.boards[KPI] = view.boards[KPI]  # type: ignore[index]
        with pytest.raises(TypeError):
            view.unreachable["sim"] = "gone"  # type: ignore[index]
        assert isinstance(view.calls, tuple) and isinstance(view.findings, tuple)
        r.faults.add_spec("5xx=1.0")
        r.clock.advance(600)  # type: ignore[attr-defined]
        await r.monitor.refresh([KPI], force=True)
        assert r.monitor.snapshots[KPI] is not before
        assert view.snapshot(KPI) is before  # the old view still shows what it showed
        assert r.monitor.view().serial > view.serial


async def test_a_cold_preview_computes_each_workspace_once_at_most_once_a_second(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from portal_tui.dashboards.registry import dashboard_for
    from portal_tui.dashboards.windows import report_windows
    from portal_tui.engine.compute import SnapshotComputer
    from portal_tui.engine.preview import PREVIEW_INTERVAL, ColdPreview
    from portal_tui.upstream.endpoints import RequestKey

    async with rig(tmp_path) as r:
        outcome = await r.monitor.refresh([KPI])  # real responses to replay, one by one
        assert outcome is not None
        clock = r.clock
        assert isinstance(clock, FakeClock)
        refs = outcome.discoveries["sim"].workspaces
        now = clock.now()
        windows = report_windows(now, r.monitor.config.zone)
        board = dashboard_for(KPI)
        needs = board.needs(windows)
        computer = SnapshotComputer(r.monitor.config, clock, previous={}, failing_since={})
        progress: list[tuple[int, int]] = []
        preview = ColdPreview([KPI], clock, lambda _n, done, total: progress.append((done, total)))
        preview.start(refs, {KPI: (needs, computer.context(KPI, windows, now, {}))}, {}, now)
        computed: list[str] = []
        compute = type(board).compute

        def counting(self: object, ws: object, *args: object) -> object:
            computed.append(ws.name)  # type: ignore[attr-defined]
            return compute(self, ws, *args)  # type: ignore[arg-type]

        monkeypatch.setattr(type(board), "compute", counting)

        def land(position: int) -> None:
            ws = refs[position]
            for need in needs.values():
                key = RequestKey(ws.instance, ws.id, need.endpoint, need.params)
                preview.landed(key, outcome.results[key])

        assert preview.snapshot(KPI) is None and progress == [(0, len(refs))]
        land(0)
        first = preview.snapshot(KPI)
        assert first is not None and len(first.rows) == 1 and computed == [refs[0].name]
        land(1)
        land(2)
        assert progress[-1] == (3, len(refs))
        loading = preview.progress(KPI)
        assert loading is not None and loading.label == f"loading 3/{len(refs)}"
        assert preview.snapshot(KPI) is first  # within the second: not rebuilt
        clock.advance(PREVIEW_INTERVAL)
        second = preview.snapshot(KPI)
        assert second is not None and second is not first and len(second.rows) == 3
        # Each workspace computed once: the first one was not computed again.
        assert computed == [refs[0].name, refs[1].name, refs[2].name]
        assert first.rows and len(first.rows) == 1  # the earlier preview was not changed
