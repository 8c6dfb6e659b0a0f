"""Workspace standing across cycles: hysteresis before FAILING and RECOVERED."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from portal_tui.dashboards.registry import dashboard_names
from portal_tui.engine.cycle import CycleOutcome
from portal_tui.engine.standing import HysteresisPolicy, WorkspaceStandings
from portal_tui.store.records import WorkspaceState
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


def test_one_failed_cycle_is_a_blip_two_in_a_row_are_failing() -> None:
    standings = WorkspaceStandings()
    assert standings.update(cycle(0, {DashboardName.KPI})) == []
    assert standings.update(cycle(1, set())) == []  # the run is broken: counting restarts
    assert standings.update(cycle(2, {DashboardName.KPI})) == []
    [flip] = standings.update(cycle(3, {DashboardName.VOLUME, DashboardName.KPI}))
    assert (flip.instance, flip.workspace) == ("main", "Acme")
    assert (flip.from_state, flip.to_state) == (WorkspaceState.OK, WorkspaceState.FAILING)
    assert flip.dashboards == ("kpi", "volume")
    assert flip.at == START + timedelta(minutes=6)
    assert standings.failing({ACME: "Acme"}) == [("main", "Acme", WorkspaceState.FAILING)]
    # Still failing: no second notification.
    assert standings.update(cycle(4, {DashboardName.KPI})) == []


def test_recovery_needs_good_cycles_in_a_row() -> None:
    standings = WorkspaceStandings(HysteresisPolicy(fail_after=1, recover_after=3))
    [failing] = standings.update(cycle(0, {DashboardName.REVENUE}))
    assert failing.to_state is WorkspaceState.FAILING
    assert failing.reason == "failed"  # no snapshot says why
    assert standings.update(cycle(1, set())) == []
    assert standings.update(cycle(2, set())) == []
    [back] = standings.update(cycle(3, set()))
    assert (back.from_state, back.to_state) == (WorkspaceState.FAILING, WorkspaceState.RECOVERED)
    assert back.dashboards == ()
    assert standings.failing({}) == []
