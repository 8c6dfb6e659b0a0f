"""A cold refresh shows rows as each workspace completes (issue 19 item 5): the dashboard
is labelled ``loading N/M`` until the cycle ends, then as usual. Over loopback HTTP
against the simulator; two workspaces are held back by a latency fault on the
simulator's own frozen clock, which only the test moves."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from console_scenario import SCENARIO_START, catch_up, screen_text
from portal_tui.config import RetryConfig, Secrets
from portal_tui.console.app import PortalConsole
from portal_tui.console.widgets.row_table import RowTable
from portal_tui.engine.monitor import PortalMonitor
from portal_tui.engine.preview import PREVIEW_INTERVAL
from portal_tui.engine.runtime import Runtime
from portal_tui.simulator import build_demo
from portal_tui.simulator.server import serve_simulator
from portal_tui.store.database import Store
from portal_tui.vocabulary.clock import FakeClock
from portal_tui.vocabulary.names import DashboardName

KPI = DashboardName.KPI
WORKSPACES = 12
HELD = (3, 9)
"""Positions of the held-back workspaces (read with their own token, not the master's)."""


async def _until(condition: Callable[[], bool], what: str) -> None:
    for _ in range(1500):  # waits on a condition, up to ~30 s on a busy machine
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting: {what}")


async def test_rows_appear_as_workspaces_complete_during_a_cold_refresh(tmp_path: Path) -> None:
    clock = FakeClock(SCENARIO_START, autojump=False)  # the console's
    upstream_clock = FakeClock(SCENARIO_START, autojump=False)  # the simulator's: the gate
    setup = build_demo(clock=upstream_clock, workspaces=WORKSPACES, seed=7, faults="")
    sim = setup.simulator
    sim.latency = None  # every other request answers at once
    for position in HELD:
        sim.faults.add_spec(f"latency@{sim.dataset.workspaces[position].id}=fixed:1000")
    async with serve_simulator(sim, port=0) as server:
        instance = setup.config.instances[0].model_copy(
            update={"base_url": server.base_url, "concurrency": 20}
        )
        config = setup.config.model_copy(
            update={"instances": [instance], "retry": RetryConfig(jitter=0.0)}
        )
        store = await Store.open(tmp_path / "c.db", clock=clock)
        monitor = PortalMonitor(config, secrets=Secrets(setup.env), clock=clock, store=store)
        runtime = Runtime(config, None, monitor, store, True, sim)
        app = PortalConsole(runtime, auto_refresh=False, handle_signals=False)
        try:
            async with app.run_test(size=(80, 24)) as pilot:
                await pilot.press("2")

                def done() -> int:
                    loading = monitor.view(cache=False).board(KPI).loading
                    return loading.done if loading is not None else -1

                await _until(lambda: done() == WORKSPACES - len(HELD), "the others completed")
                table = app.query_one("#kpi-table", RowTable)
                # The preview is rebuilt at most once a second of clock, computing rows for
                # at most 10 ms of real time per build (one workspace at least), when the
                # pane is drawn from a new view. So a second of clock and a redraw at a
                # time (at most one per workspace), until the rows are all there.
                for _ in range(WORKSPACES - len(HELD)):
                    if len(table.view.rows) == WORKSPACES - len(HELD):
                        break
                    clock.advance(PREVIEW_INTERVAL)
                    app.fresh_view()
                    app._repaint_visible(force=True)
                    await catch_up(pilot)
                text = screen_text(app)
                assert monitor.refreshing  # the cycle has not ended
                assert f"loading {WORKSPACES - len(HELD)}/{WORKSPACES}" in text
                assert len(table.view.rows) == WORKSPACES - len(HELD)
                held = {sim.dataset.workspaces[p].name for p in HELD}
                assert held.isdisjoint(row.cells[1] for row in table.view.rows)
                # Only drawn: nothing recorded as complete, nothing judged.
                assert monitor.snapshots == {}
                assert await store.load_snapshots() == {}
                assert monitor.health().status == "UNKNOWN"
                assert "UNKNOWN" in text
                await pilot.press("1")  # the Overview says the same of its dashboard row
                await catch_up(pilot)
                assert f"↻ loading {WORKSPACES - len(HELD)}/{WORKSPACES}" in screen_text(app)
                await pilot.press("2")

                for position in HELD:  # the held workspaces answer, and what follows at once
                    sim.faults.clear(workspace_id=sim.dataset.workspaces[position].id)
                upstream_clock.advance(1000)
                await _until(lambda: not monitor.refreshing, "the cycle ended")
                await catch_up(pilot)
                text = screen_text(app)
                assert "loading" not in text
                assert f"{WORKSPACES} rows" in text
                assert len(table.view.rows) == WORKSPACES
                assert len((await store.load_snapshots())[KPI].payload) > 0
        finally:
            await runtime.aclose()
