"""Workspace standing across cycles: hysteresis before FAILING and RECOVERED, in the records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from portal_tui.dashboards.registry import dashboard_names
from portal_tui.engine.cycle import CycleOutcome
from portal_tui.engine.standing import HysteresisPolicy, observations
from portal_tui.store.database import Store
from portal_tui.store.records import CycleRecord, WorkspaceObservation, WorkspaceState
from portal_tui.store.standing import Standing, WorkspaceTransition, advance
from portal_tui.vocabulary.clock import FakeClock
from portal_tui.vocabulary.names import DashboardName

START = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)
ACME = ("main", 7)


def cycle(n: int, failed: set[DashboardName]) -> CycleOutcome:
    at = START + timedelta(minutes=2 * n)
    return CycleOutcome(
        dashboards=dashboard_names(),
        triggered_by="auto",
        started_at=at,
        finished_at=at,
        workspace_failures={ACME: failed, ("main", 8): set()},
        workspace_names={ACME: "Acme", ("main", 8): "Globex"},
    )


class Runs:
    """The pure hysteresis over a dict, as the store applies it inside its transaction."""

    def __init__(self, policy: HysteresisPolicy | None = None) -> None:
        self.policy = policy or HysteresisPolicy()
        self.rows: dict[tuple[str, int], Standing] = {}

    def update(self, outcome: CycleOutcome) -> list[WorkspaceTransition]:
        moved = []
        for seen in observations(outcome):
            key = (seen.instance, seen.workspace_id)
            self.rows[key], transition = advance(self.rows.get(key), seen, self.policy)
            if transition is not None:
                moved.append(transition)
        return moved


def test_one_failed_cycle_is_a_blip_two_in_a_row_are_failing() -> None:
    runs = Runs()
    assert runs.update(cycle(0, {DashboardName.KPI})) == []
    assert runs.update(cycle(1, set())) == []  # the run is broken: counting restarts
    assert runs.update(cycle(2, {DashboardName.KPI})) == []
    [flip] = runs.update(cycle(3, {DashboardName.VOLUME, DashboardName.KPI}))
    assert (flip.instance, flip.workspace) == ("main", "Acme")
    assert (flip.from_state, flip.to_state) == (WorkspaceState.OK, WorkspaceState.FAILING)
    assert flip.dashboards == ("kpi", "volume")
    assert flip.at == START + timedelta(minutes=6)
    assert flip.since == START + timedelta(minutes=4)  # the first failure of this streak
    assert runs.rows[ACME].state is WorkspaceState.FAILING
    # Still failing: no second notification.
    assert runs.update(cycle(4, {DashboardName.KPI})) == []


def test_recovery_needs_good_cycles_in_a_row() -> None:
    runs = Runs(HysteresisPolicy(fail_after=1, recover_after=3))
    [failing] = runs.update(cycle(0, {DashboardName.REVENUE}))
    assert failing.to_state is WorkspaceState.FAILING
    assert failing.reason == "failed"  # no snapshot says why
    assert runs.update(cycle(1, set())) == []
    assert runs.update(cycle(2, set())) == []
    [back] = runs.update(cycle(3, set()))
    assert (back.from_state, back.to_state) == (WorkspaceState.FAILING, WorkspaceState.RECOVERED)
    assert back.dashboards == ()
    assert runs.rows[ACME].failing_since is None


def test_an_older_observation_never_moves_a_run_backwards() -> None:
    runs = Runs()
    runs.update(cycle(5, {DashboardName.KPI}))
    before = runs.rows[ACME]
    assert runs.update(cycle(1, set())) == []  # a slow cycle finishing after a newer one
    assert runs.rows[ACME] == before


def seen(at: datetime, failed: bool) -> WorkspaceObservation:
    return WorkspaceObservation(
        "main", 7, "Acme", ("kpi",) if failed else (), "4xx 401: revoked" if failed else "", at
    )


async def test_processes_sharing_a_file_count_into_one_run(tmp_path: Path) -> None:
    """Three processes (three connections) each see one failure: one FAILING transition,
    recorded once, and "failing since" is the first process's failure."""
    clock = FakeClock(START)
    stores = [await Store.open(tmp_path / "records.sqlite3", clock=clock) for _ in range(3)]
    try:
        moved: list[WorkspaceTransition] = []
        for n, store in enumerate(stores):
            at = START + timedelta(minutes=n)
            recorded = await store.record(
                CycleRecord("check", at, at, observations=[seen(at, failed=True)])
            )
            moved.extend(recorded.transitions)
        [flip] = moved
        assert flip.to_state is WorkspaceState.FAILING
        assert flip.at == START + timedelta(minutes=1)  # the second failure in a row
        assert flip.since == START
        [row] = await stores[2].standings()
        assert (row.state, row.failures_in_row, row.failing_since) == (
            WorkspaceState.FAILING,
            3,
            START,
        )
        [logged] = await stores[0].state_transitions(START - timedelta(hours=1))
        assert (logged.workspace, logged.to_state) == ("Acme", "failing")
    finally:
        for store in stores:
            await store.close()


def test_two_good_cycles_recorded_out_of_order_are_two_good_cycles() -> None:
    """Two processes' cycles run side by side; the one that finished fetching first is
    recorded second. Both were good cycles after the failures: RECOVERED, as in order."""
    runs = Runs(HysteresisPolicy(fail_after=3, recover_after=2))
    for n in range(3):
        runs.update(cycle(n, {DashboardName.KPI}))
    assert runs.rows[ACME].state is WorkspaceState.FAILING
    assert runs.update(cycle(5, set())) == []
    [back] = runs.update(cycle(4, set()))  # late, and part of the same good run
    assert back.to_state is WorkspaceState.RECOVERED
    row = runs.rows[ACME]
    assert (row.successes_in_row, row.updated_at) == (2, START + timedelta(minutes=10))
    assert row.run_after == START + timedelta(minutes=4)  # the last failure


def test_a_late_cycle_from_before_the_current_run_is_ignored() -> None:
    """good(0), failed(2), good(3), then good(1) recorded late: a failure came between
    it and the current run, so it is not one of the run's good cycles."""
    runs = Runs(HysteresisPolicy(fail_after=1, recover_after=2))
    runs.update(cycle(0, set()))
    [failing] = runs.update(cycle(2, {DashboardName.KPI}))
    assert failing.to_state is WorkspaceState.FAILING
    assert runs.update(cycle(3, set())) == []
    before = runs.rows[ACME]
    assert before.run_after == START + timedelta(minutes=4)
    assert runs.update(cycle(1, set())) == []
    assert runs.rows[ACME] == before


def test_a_late_failure_counts_into_a_failing_run_and_moves_its_start_back() -> None:
    runs = Runs(HysteresisPolicy(fail_after=3, recover_after=2))
    runs.update(cycle(0, set()))
    runs.update(cycle(2, {DashboardName.KPI}))
    runs.update(cycle(3, {DashboardName.VOLUME}))
    [flip] = runs.update(cycle(1, {DashboardName.REVENUE}))  # late, after the good cycle
    assert flip.to_state is WorkspaceState.FAILING
    assert flip.since == START + timedelta(minutes=2)  # the late one was the first failure
    row = runs.rows[ACME]
    assert row.dashboards == ("volume",)  # what failed last, not the late cycle's
    assert row.updated_at == START + timedelta(minutes=6)


async def test_processes_recording_out_of_order_still_recover(tmp_path: Path) -> None:
    """The records' own version of the race: two connections, the newer cycle recorded
    first; the standing survives reopening with where its run began."""
    clock = FakeClock(START)
    first = await Store.open(tmp_path / "records.sqlite3", clock=clock)
    second = await Store.open(tmp_path / "records.sqlite3", clock=clock)
    try:
        policy = HysteresisPolicy(fail_after=1, recover_after=2)
        at = [START + timedelta(minutes=n) for n in range(4)]
        [failing] = (
            await first.record(
                CycleRecord(
                    "check",
                    at[0],
                    at[0],
                    observations=[seen(at[0], failed=True)],
                    hysteresis=policy,
                )
            )
        ).transitions
        assert failing.to_state is WorkspaceState.FAILING
        newer, older = (
            CycleRecord("check", t, t, observations=[seen(t, failed=False)], hysteresis=policy)
            for t in (at[2], at[1])
        )
        assert (await second.record(newer)).transitions == ()
        [back] = (await first.record(older)).transitions
        assert back.to_state is WorkspaceState.RECOVERED
        [row] = await second.standings()
        assert (row.state, row.successes_in_row, row.run_after) == (
            WorkspaceState.RECOVERED,
            2,
            at[0],
        )
    finally:
        await first.close()
        await second.close()
