"""Snapshot tests of every freshness state, at 80×24 and 120×40.

Each picture is driven by a frozen FakeClock and the in-process simulator
(faults via its FaultSet): no real sleeps, no real time on screen, so the
SVGs are byte-for-byte repeatable. Update them with
``pytest tests/test_console_snapshots.py --snapshot-update`` and review the
report before committing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from portal_tui.clock import FakeClock
from portal_tui.console.app import PortalConsole
from portal_tui.console.scenario import drive, open_scenario, scenario_clock, settle
from portal_tui.simulator import LatencyModel

WORKSPACES = 6
"""Enough for every kind of row (registry gaps, a failing workspace); quick to refresh."""

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]

Step = Callable[[Pilot[Any], FakeClock], Awaitable[None]]


def make_app(tmp_path: Path, clock: FakeClock, *, latency: float | None = None) -> PortalConsole:
    """A console that opens its own scenario runtime in the app's loop (snap_compare runs it)."""

    async def opener() -> Any:
        model = LatencyModel.fixed(latency) if latency else None
        return await open_scenario(
            tmp_path / "snap.sqlite3", clock, latency=model, workspaces=WORKSPACES
        )

    return PortalConsole(opener=opener, auto_refresh=False, handle_signals=False)


def aged(seconds: float) -> Step:
    """After the startup refresh, let ``seconds`` pass on the clock."""

    async def step(pilot: Pilot[Any], clock: FakeClock) -> None:
        await settle(pilot)
        clock.advance(seconds)
        await _redraw(pilot)

    return step


async def _redraw(pilot: Pilot[Any]) -> None:
    app: Any = pilot.app
    app.clear_notifications()
    app.tick()
    await pilot.pause()


async def retrying(pilot: Pilot[Any], clock: FakeClock) -> None:
    """Good data 3 min old, then a forced refresh where one workspace answers 503."""
    app: Any = pilot.app
    await settle(pilot)
    app.runtime.simulator.faults.add_spec("5xx@12=1.0")
    clock.advance(180)
    await pilot.press("R")
    await settle(pilot)  # stops where every remaining call waits to retry on the frozen clock
    await _redraw(pilot)


async def error_with_stale_data(pilot: Pilot[Any], clock: FakeClock) -> None:
    """Good data, then the instance goes down: every dashboard in error, rows kept and stale."""
    app: Any = pilot.app
    await settle(pilot)
    app.runtime.simulator.faults.add_spec("down")
    clock.advance(180)
    await pilot.press("R")
    await drive(pilot, clock)
    clock.advance(60)
    await _redraw(pilot)


async def no_data(pilot: Pilot[Any], clock: FakeClock) -> None:
    """First start: nothing in SQLite, the startup refresh still waiting for answers."""
    await settle(pilot)
    await _redraw(pilot)


STATES: dict[str, tuple[Step, float | None]] = {
    "fresh": (aged(30), None),
    "stale": (aged(6 * 60), None),
    "very_stale": (aged(25 * 60), None),
    "expired": (aged(2 * 3600), None),
    "refreshing_with_retries": (retrying, None),
    "error_with_stale_data": (error_with_stale_data, None),
    "no_data": (no_data, 1.0),  # 1 s latency on a frozen clock: answers never arrive
}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("state", list(STATES))
def test_overview_in_each_freshness_state(
    snap_compare: Any, tmp_path: Path, state: str, size: tuple[int, int]
) -> None:
    """The Overview (health, one row per dashboard with state word + symbol + age)."""
    step, latency = STATES[state]
    clock = scenario_clock()
    app = make_app(tmp_path, clock, latency=latency)

    async def run_before(pilot: Pilot[Any]) -> None:
        await step(pilot, clock)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize(
    ("state", "keys"),
    [
        ("error_with_stale_data", ("2",)),  # KPI: every row "◐ stale 4m30s", the error lines
        ("refreshing_with_retries", ("6",)),  # Failures: "retry 2/4 in 1 s, 503"
        ("stale", ("5",)),  # Infrastructure: workspaces and mailboxes
    ],
)
def test_panes_in_telling_states(
    snap_compare: Any, tmp_path: Path, state: str, keys: tuple[str, ...]
) -> None:
    """A dashboard pane with stale rows, the Failures pane mid-retry, Infrastructure."""
    step, latency = STATES[state]
    clock = scenario_clock()
    app = make_app(tmp_path, clock, latency=latency)

    async def run_before(pilot: Pilot[Any]) -> None:
        await step(pilot, clock)
        await pilot.press(*keys)
        await settle(pilot)
        await _redraw(pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_help_screen(snap_compare: Any, tmp_path: Path) -> None:
    """``?`` lists every key, the panes and the state legend."""
    clock = scenario_clock()
    app = make_app(tmp_path, clock)

    async def run_before(pilot: Pilot[Any]) -> None:
        await aged(30)(pilot, clock)
        await pilot.press("question_mark")

    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def test_no_color_loses_nothing(
    snap_compare: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NO_COLOR: Textual's monochrome filter; every state still has its word and symbol."""
    monkeypatch.setenv("NO_COLOR", "1")
    clock = scenario_clock()
    app = make_app(tmp_path, clock)
    assert app.no_color

    async def run_before(pilot: Pilot[Any]) -> None:
        await error_with_stale_data(pilot, clock)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_small_terminal_stays_sensible(snap_compare: Any, tmp_path: Path) -> None:
    """Below 80×24 (60×18) the health line, the dashboards and the keys still show."""
    clock = scenario_clock()
    app = make_app(tmp_path, clock)

    async def run_before(pilot: Pilot[Any]) -> None:
        await aged(6 * 60)(pilot, clock)

    assert snap_compare(app, terminal_size=(60, 18), run_before=run_before)
