"""The console's Overview says when alerts are not getting through (read from the records)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from tests.alert_receiver import receiver
from tests.console_scenario import SCENARIO_START, open_scenario, scenario_clock, screen_text

from portal_tui.config.alerts import AlertTarget
from portal_tui.console.app import PortalConsole
from portal_tui.engine.alerting import AlertSender
from portal_tui.store.database import Store
from portal_tui.store.records import CycleRecord, WorkspaceObservation


async def test_the_overview_shows_undelivered_alerts(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    clock = scenario_clock()
    with receiver() as hook:
        target = AlertTarget(url=hook.url, name="ops-hook", failure_threshold=2)
        # Another process recorded a failure and could not deliver its alert.
        async with await Store.open(db, clock=clock) as other:
            for i in range(2):
                at = SCENARIO_START + timedelta(minutes=i)
                seen = WorkspaceObservation("sim", 7, "Globex", ("kpi",), "401 Unauthorized", at)
                await other.record(CycleRecord("check", at, at, observations=[seen]))
            hook.fail_next = [503]
            sender = AlertSender([target], store=other, clock=clock, env={}, attempts=1)
            assert await sender.deliver() == []
        runtime = await open_scenario(db, clock, workspaces=6, alerts=[target])
        app = PortalConsole(
            runtime, auto_refresh=False, handle_signals=False, startup_refresh=False
        )
        try:
            async with app.run_test(size=(140, 40)) as pilot:
                for _ in range(50):
                    await pilot.pause(0.05)
                    if "undelivered" in screen_text(app):
                        break
                text = screen_text(app)
        finally:
            await runtime.aclose()
    assert "alerts: 1 undelivered to ops-hook (last error " in text
    [line] = [line for line in text.splitlines() if "undelivered" in line]
    assert "Failed to send JSON POST" in line
    assert line.rstrip(" │").endswith("since 2026-11-21 12:01 UTC)")
