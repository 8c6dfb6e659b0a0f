"""Snapshot tests of every freshness state, at 80×24 and 120×40.

Fresh, stale, very stale, expired, refreshing with retries, error with
stale data and no data: each is driven by a frozen FakeClock and the
in-process simulator (faults via its FaultSet) — no real sleeps, no real
time on screen — so the SVGs are repeatable byte for byte.

States that share a history are pictured in one session (the four ages
are one console whose clock moves on), compared with pytest-textual-
snapshot's own SVG extension; stand-alone pictures use ``snap_compare``.
Either way: ``pytest tests/test_console_snapshots.py --snapshot-update``
rewrites them under ``tests/__snapshots__/`` for review.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_textual_snapshot import SVGImageExtension
from textual.pilot import Pilot

from console_scenario import (
    SCENARIO_START,
    drive,
    open_scenario,
    running_console,
    scenario_clock,
    settle,
)
from portal_tui.console.app import PortalConsole
from portal_tui.simulator import LatencyModel
from portal_tui.vocabulary.clock import FakeClock

WORKSPACES = 6
"""Enough for every kind of row; quick to refresh."""

SIZES = ((80, 24), (120, 40))


@pytest.fixture
def svg_snapshot(snapshot: Any) -> Any:
    """syrupy's snapshot, storing SVG files exactly as ``snap_compare`` does."""
    return snapshot.use_extension(SVGImageExtension)


async def redraw(pilot: Pilot[Any]) -> None:
    """Tick once (ages), drop toasts, let the screen settle."""
    app: Any = pilot.app
    app.clear_notifications()
    app.tick()
    await pilot.pause()


async def pictures(pilot: Pilot[Any], snapshot: Any, name: str, sizes: Any = SIZES) -> None:
    """Compare the screen at each size with its stored SVG (``name-80x24``, ...)."""
    for width, height in sizes:
        await pilot.resize_terminal(width, height)
        await pilot.pause()
        await redraw(pilot)
        svg = pilot.app.export_screenshot(simplify=True)
        assert svg == snapshot(name=f"{name}-{width}x{height}")
    await pilot.resize_terminal(*SIZES[0])
    await pilot.pause()


async def test_fresh_stale_very_stale_expired(tmp_path: Path, svg_snapshot: Any) -> None:
    """One console, four ages: KPI/Volume TTL 2 min, Revenue 5, Infrastructure 10."""
    async with running_console(tmp_path / "c.db", workspaces=WORKSPACES) as (_, pilot, _, clock):
        ages = (("fresh", 30), ("stale", 6 * 60), ("very_stale", 25 * 60), ("expired", 7200))
        for state, age in ages:
            clock.set_now(SCENARIO_START + timedelta(seconds=age))
            await pictures(pilot, svg_snapshot, state)


async def test_refreshing_with_retries(tmp_path: Path, svg_snapshot: Any) -> None:
    """Good data 3 min old, then a forced refresh where one workspace answers 503."""
    async with running_console(tmp_path / "c.db", workspaces=WORKSPACES) as (
        _,
        pilot,
        runtime,
        clock,
    ):
        runtime.simulator.faults.add_spec("5xx@12=1.0")
        clock.advance(180)
        await pilot.press("R")
        await settle(pilot)  # every remaining call now waits to retry on the frozen clock
        await pictures(pilot, svg_snapshot, "refreshing_with_retries")
        await pilot.press("6")  # Failures: "retry 2/4 in 1 s, 503" per call
        await settle(pilot)
        await pictures(pilot, svg_snapshot, "refreshing_with_retries-failures", SIZES[:1])


async def test_error_with_stale_data(tmp_path: Path, svg_snapshot: Any) -> None:
    """The instance goes down: every dashboard in error, every row kept and marked stale."""
    async with running_console(tmp_path / "c.db", workspaces=WORKSPACES) as (
        _,
        pilot,
        runtime,
        clock,
    ):
        runtime.simulator.faults.add_spec("down")
        clock.advance(180)
        await pilot.press("R")
        await drive(pilot, clock)
        clock.advance(60)
        await pictures(pilot, svg_snapshot, "error_with_stale_data")
        await pilot.press("2")  # KPI: each row "◐ stale 4m30s", the error lines
        await settle(pilot)
        await pictures(pilot, svg_snapshot, "error_with_stale_data-kpi", SIZES[:1])


async def test_no_data(tmp_path: Path, svg_snapshot: Any) -> None:
    """First start: nothing in SQLite, the startup refresh still waiting for its answers."""
    async with running_console(
        tmp_path / "c.db", workspaces=WORKSPACES, latency=LatencyModel.fixed(1.0)
    ) as (_, pilot, _, _):
        await pictures(pilot, svg_snapshot, "no_data")


# -- stand-alone pictures, through snap_compare ---------------------------------------------


def make_app(tmp_path: Path, clock: FakeClock) -> PortalConsole:
    """A console opening its runtime inside the app's own loop (as snap_compare runs it)."""

    async def opener() -> Any:
        return await open_scenario(tmp_path / "snap.sqlite3", clock, workspaces=WORKSPACES)

    return PortalConsole(opener=opener, auto_refresh=False, handle_signals=False)


def test_help_screen(snap_compare: Any, tmp_path: Path) -> None:
    """``?`` lists every key, the panes and the state legend."""
    clock = scenario_clock()

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("question_mark")

    assert snap_compare(make_app(tmp_path, clock), terminal_size=(120, 40), run_before=run_before)


def test_infrastructure_pane(snap_compare: Any, tmp_path: Path) -> None:
    """Workspaces and their mailboxes, stale after 15 minutes."""
    clock = scenario_clock()

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        clock.advance(15 * 60)
        await pilot.press("5")
        await settle(pilot)
        await redraw(pilot)

    assert snap_compare(make_app(tmp_path, clock), terminal_size=(120, 40), run_before=run_before)


def test_no_color_loses_nothing(
    snap_compare: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NO_COLOR: Textual's monochrome filter; every state still has its word and symbol."""
    monkeypatch.setenv("NO_COLOR", "1")
    clock = scenario_clock()
    app = make_app(tmp_path, clock)
    assert app.no_color

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        pilot.app.runtime.simulator.faults.add_spec("revoked@8")  # type: ignore[attr-defined]
        clock.advance(200)
        await pilot.press("R")
        await settle(pilot)
        await redraw(pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_small_terminal_stays_sensible(snap_compare: Any, tmp_path: Path) -> None:
    """Below 80×24 (60×18) the health line, the dashboards and the keys still show."""
    clock = scenario_clock()

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        clock.advance(6 * 60)
        await redraw(pilot)

    assert snap_compare(make_app(tmp_path, clock), terminal_size=(60, 18), run_before=run_before)


async def test_finding_view(tmp_path: Path, svg_snapshot: Any) -> None:
    """``enter`` on a finding at 80×24: its whole text wrapped, affected workspaces, first/last
    seen, occurrences and the redacted evidence payload."""
    from portal_tui.console.screens.finding import FindingScreen

    async with running_console(
        tmp_path / "c.db", workspaces=WORKSPACES, faults="bad_email@2"
    ) as (app, pilot, runtime, _):
        await pilot.press("7")
        await settle(pilot)
        findings = runtime.monitor.findings
        target = next(f for f in findings if f.rule == "sender-email-format")
        for _ in range(findings.index(target)):
            await pilot.press("down")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, FindingScreen)
        await app.screen.workers.wait_for_complete()
        await pilot.pause()
        assert app.screen.evidence is not None
        await pictures(pilot, svg_snapshot, "finding_view", SIZES[:1])
