"""Panes draw from the frozen view the console's messages carry, never from the monitor
(issue 15 item 6): a pane drawn again from an old view shows exactly what it showed."""

from __future__ import annotations

import ast
from pathlib import Path

from console_scenario import catch_up, running_console, screen_text
from portal_tui.console.panes.dashboard import DashboardPane
from portal_tui.console.widgets.row_table import RowTable
from portal_tui.vocabulary.names import DashboardName

CONSOLE = Path(__file__).resolve().parents[1] / "src" / "portal_tui" / "console"
HOLDS_THE_MONITOR = {"app.py", "actions.py", "operator_actions.py", "relay.py"}
"""The app (actions go through the monitor) and the relay (it builds the views)."""


def test_nothing_that_draws_reads_the_monitor() -> None:
    offenders = []
    for path in sorted(CONSOLE.rglob("*.py")):
        if path.name in HOLDS_THE_MONITOR and path.parent == CONSOLE:
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr == "monitor":
                offenders.append(f"{path.relative_to(CONSOLE)}:{node.lineno} .monitor")
            if isinstance(node, ast.ImportFrom) and node.module == "portal_tui.engine.monitor":
                offenders.append(f"{path.relative_to(CONSOLE)}:{node.lineno} imports the monitor")
    assert offenders == []


async def test_a_pane_drawn_from_an_old_view_does_not_change_when_the_monitor_does(
    tmp_path: Path,
) -> None:
    async with running_console(tmp_path / "c.db", workspaces=6) as (app, pilot, runtime, clock):
        await pilot.press("2")
        await catch_up(pilot)
        pane = app.query_one("#kpi", DashboardPane)
        table = app.query_one("#kpi-table", RowTable)
        old_view = app.state.view
        drawn = screen_text(app)
        rows = [row.cells for row in table.view.rows]
        assert len(rows) == 6 and "data 0s old" in drawn

        # The monitor changes behind the console's back: time passes, a snapshot goes.
        app.relay.stop()
        # The app's 1 Hz tick asks for a new view too: a busy machine can fit one in here.
        runtime.monitor.view = lambda cache=False: old_view  # type: ignore[method-assign]
        clock.advance(600)
        del runtime.monitor.state.snapshots[DashboardName.KPI]
        pane.repaint()
        await pilot.pause()
        assert app.state.view is old_view
        assert [row.cells for row in table.view.rows] == rows
        assert screen_text(app) == drawn

        # A new view (the next event) shows the change.
        del runtime.monitor.view
        app.fresh_view()
        assert app.state.view.serial > old_view.serial
        pane.repaint()
        await pilot.pause()
        assert table.view.rows == [] and "waiting for the first refresh" in screen_text(app)
        assert old_view.snapshot(DashboardName.KPI) is not None  # the old view kept its own
