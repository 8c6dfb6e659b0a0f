"""The console's targeted actions at 80×24, against the simulator over loopback HTTP (issue 19).

``w`` refreshes one workspace past the cache, ``f`` retries only what failed,
``v`` verifies a workspace from its detail screen, ``enter`` on a finding opens
the finding view and ``a`` acknowledges it; every operator action lands in the
records and in the History pane's timeline.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from console_scenario import screen_text, settle
from portal_tui.console.app import PortalConsole
from portal_tui.console.screens.detail import WorkspaceDetailScreen
from portal_tui.console.screens.finding import FindingScreen, NoteScreen
from portal_tui.engine.runtime import Runtime
from support import Rig, rig

WORK_GROUPS = ("refresh", "operator", "verify", "acks", "evidence", "history")


@asynccontextmanager
async def loopback_console(
    tmp_path: Path, **rig_options: Any
) -> AsyncIterator[tuple[PortalConsole, Pilot[int], Rig]]:
    """A console at 80×24 on a rig served over loopback HTTP, after its startup refresh."""
    async with rig(tmp_path, http=True, **rig_options) as r:
        runtime = Runtime(r.monitor.config, None, r.monitor, r.store, False, r.sim)
        app = PortalConsole(runtime, auto_refresh=False, handle_signals=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await finish(pilot)
            yield app, pilot, r


async def finish(pilot: Pilot[Any]) -> None:
    """Wait for the workers an action starts (and the cycles they run) to end."""
    app: Any = pilot.app
    for _ in range(3):
        await pilot.pause()
        running = [w for w in app.workers if w.group in WORK_GROUPS and not w.is_finished]
        if running:
            await asyncio.wait_for(
                asyncio.gather(*(w.wait() for w in running), return_exceptions=True), 30
            )
        await settle(pilot)


async def calls_since(r: Rig, since: datetime) -> set[str | None]:
    return {c.workspace for c in await r.store.recent_api_calls(since=since)}


async def open_detail(pilot: Pilot[Any], pane: str = "2") -> WorkspaceDetailScreen:
    await pilot.press(pane)
    await pilot.pause()
    await pilot.press("enter")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, WorkspaceDetailScreen)
    return screen


async def test_w_on_the_detail_screen_refreshes_that_workspace_only(tmp_path: Path) -> None:
    async with loopback_console(tmp_path) as (app, pilot, r):
        detail = await open_detail(pilot)
        since = r.clock.now()
        await pilot.press("w")
        await finish(pilot)
        assert await calls_since(r, since) == {detail.ref.workspace}
        assert "refresh-workspace" in [a.action for a in await r.store.operator_actions(since)]
        assert isinstance(app.screen, WorkspaceDetailScreen)  # still on the detail
        text = screen_text(app)
        assert "w refresh" in text and "v verify" in text  # its keys are on screen


async def test_f_on_the_failures_pane_retries_only_what_failed(tmp_path: Path) -> None:
    async with loopback_console(tmp_path, faults="5xx@3", attempts=1) as (app, pilot, r):
        assert any(s.failures for s in r.monitor.snapshots.values())
        r.sim.faults.clear()
        await pilot.press("6")
        await pilot.pause()
        since = r.clock.now()
        await pilot.press("f")
        await finish(pilot)
        assert await calls_since(r, since) == {"Globex"}
        assert not any(s.failures for s in r.monitor.snapshots.values())
        app.relay.flush()
        await pilot.pause()
        assert "no failures in the last refresh" in screen_text(app)
        assert "retry-failed" in [a.action for a in await r.store.operator_actions(since)]
        since = r.clock.now()
        await pilot.press("f")  # nothing failed now: nothing fetched
        await finish(pilot)
        assert await calls_since(r, since) == set()


async def test_v_on_the_detail_screen_shows_the_verify_result(tmp_path: Path) -> None:
    async with loopback_console(tmp_path) as (_, pilot, r):
        detail = await open_detail(pilot)
        await pilot.press("v")
        await finish(pilot)
        assert "verify at" in detail.verify_text and "OK" in detail.verify_text
        assert "verify at" in detail.text
        recorded = await r.store.verify_results(r.clock.now().replace(year=2000))
        assert {v.workspace for v in recorded} == {detail.ref.workspace}


async def test_a_finding_opens_whole_and_is_acknowledged_with_a_note(tmp_path: Path) -> None:
    async with loopback_console(tmp_path, faults="bad_email@2") as (app, pilot, r):
        await pilot.press("7")
        await pilot.pause()
        findings = r.monitor.findings
        target = next(f for f in findings if f.rule == "sender-email-format")
        for _ in range(findings.index(target)):
            await pilot.press("down")
        await pilot.press("enter")
        await finish(pilot)
        view = app.screen
        assert isinstance(view, FindingScreen) and view.finding == target
        text = " ".join(view.text.split())
        assert " ".join(target.message.split()) in text  # whole, not cut at 80 columns
        assert "sim/Acme Corp" in text and "a at acme.io" in text  # affected, evidence
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, NoteScreen)
        await pilot.press(*"on it OPS-7")
        await pilot.press("enter")
        await finish(pilot)
        assert app.screen is view
        assert "Acknowledged by" in view.text and "on it OPS-7" in view.text
        (ack,) = (await r.store.acknowledgements()).values()
        assert ack.note == "on it OPS-7"
        await pilot.press("escape")
        await pilot.pause()
        app.current_pane().repaint()
        await pilot.pause()
        assert "1 acknowledged" in screen_text(app)


async def test_operator_actions_are_in_the_history_timeline(tmp_path: Path) -> None:
    async with loopback_console(tmp_path) as (app, pilot, r):
        since = r.clock.now()
        await pilot.press("p")  # pause
        await pilot.press("p")  # resume
        await pilot.press("2")
        await pilot.press("c")  # clear KPI's cache
        await pilot.press("C")
        await pilot.press("y")  # confirm: clear every cache
        await pilot.press("R")  # force-refresh everything
        await finish(pilot)
        done = [a.action for a in await r.store.operator_actions(since)]
        assert done == ["pause", "resume", "clear-cache", "clear-cache", "force-refresh"]
        await pilot.press("8")
        await finish(pilot)
        text = screen_text(app)
        assert "Operator actions" in text
        for word in ("force-refresh", "clear-cache", "resume"):
            assert word in text, word
